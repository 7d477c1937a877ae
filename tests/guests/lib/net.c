// SPDX-License-Identifier: MIT
/*
 * A small polled virtio-net driver and a minimal IPv4 stack for the test
 * guests. See net.h for the model; the spec sections cited are virtio 1.2.
 */
#include "net.h"

#define TICKS_PER_MS_MAX 5000000ULL /* rdtsc ticks per ms on a TSC <= 5 GHz */
#define ETH_ZLEN	 60	    /* shortest Ethernet frame without FCS */
#define ARP_LEN		 28
#define DHCP_CLIENT	 68
#define DHCP_SERVER	 67
#define DHCP_MAGIC	 0x63825363U
#define PING_ID		 0x564d /* "VM" */
#define PING_DATA	 32

/* Ring memory and buffers of up to NET_MAX_DEVS devices (identity-mapped
 * .bss: a pointer is the guest-physical address the device gets). */
static struct vq_mem qmem[NET_MAX_DEVS][2];
static struct net_buf rxbufs[NET_MAX_DEVS][NET_NRX];
static struct net_buf txbufs[NET_MAX_DEVS][NET_NTX];

static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static inline uint64_t pa(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static inline uint16_t get16(const uint8_t *p) /* big-endian field */
{
	return n16(*(const uint16_t *)p);
}

static inline uint32_t get32(const uint8_t *p)
{
	return n32(*(const uint32_t *)p);
}

static inline void put16(uint8_t *p, uint16_t v)
{
	*(uint16_t *)p = n16(v);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	*(uint32_t *)p = n32(v);
}

static inline uint64_t deadline(uint32_t ms)
{
	return rdtsc() + ms * TICKS_PER_MS_MAX;
}

static inline bool expired(uint64_t when)
{
	return (int64_t)(rdtsc() - when) > 0;
}

/* ---- the driver ---- */

static void rx_post(struct net_dev *nd, unsigned int slot)
{
	struct vio_buf b = { pa(&nd->rxbuf[slot]), NET_BUF_SIZE };
	int head = vq_add(&nd->rxq, &b, 0, 1, NULL);

	/* the ring has room for every buffer we own (size >= NET_NRX) */
	if (head >= 0)
		nd->rx_slot[head] = (uint8_t)slot;
}

/* Where the virtio-mmio windows are probed: vmm's layout unless the
 * command line says otherwise (QEMU's -M microvm: mmio=0xfeb00000
 * mmio_stride=0x200 mmio_slots=24). */
static uint64_t win_base = NET_MMIO_BASE, win_stride = NET_MMIO_STRIDE, win_slots = NET_MMIO_SLOTS;

void net_cmdline_windows(const char *cmdline)
{
	cmdline_get_uint(cmdline, "mmio", &win_base);
	cmdline_get_uint(cmdline, "mmio_stride", &win_stride);
	cmdline_get_uint(cmdline, "mmio_slots", &win_slots);
}

int net_open(struct net_dev *nd, unsigned int index, bool mrg)
{
	uint64_t want = VIO_BIT(VIO_F_VERSION_1) | VIO_BIT(NET_F_MAC) | VIO_BIT(NET_F_STATUS) |
			VIO_BIT(VIO_F_EVENT_IDX) | VIO_BIT(VIO_F_INDIRECT_DESC);
	unsigned int slot, found = 0, i;
	uint64_t base = 0;
	int id, ret;

	if (index >= NET_MAX_DEVS)
		return NS_USAGE;
	for (slot = 0; slot < win_slots; slot++) {
		id = vio_probe(win_base + slot * win_stride);
		if (id < 0)
			break; /* windows are contiguous: the first empty one ends them */
		if (id == VIRTIO_ID_NET && found++ == index) {
			base = win_base + slot * win_stride;
			break;
		}
	}
	if (!base) {
		printf("net: no virtio-net device #%u (%u windows probed)\n", index, slot);
		return NS_NO_DEVICE;
	}
	memset(nd, 0, sizeof(*nd));
	nd->index = index;
	nd->window = base;
	nd->rxmem = &qmem[index][0];
	nd->txmem = &qmem[index][1];
	nd->rxbuf = rxbufs[index];
	nd->txbuf = txbufs[index];
	/* The lead's device offers all of these; we accept no offload, so
	 * the device must hand us complete frames with full checksums. */
	ret = vio_init(&nd->vio, base, want | (mrg ? VIO_BIT(NET_F_MRG_RXBUF) : 0),
		       want | VIO_BIT(NET_F_MRG_RXBUF));
	if (ret)
		return ret == GS_BAD_CONFIG ? NS_FEATURES : ret;
	for (i = 0; i < 6; i++)
		nd->mac[i] = vio_config8(&nd->vio, NET_CFG_MAC + i);
	if (!(vio_config16(&nd->vio, NET_CFG_STATUS) & NET_S_LINK_UP)) {
		printf("net%u: link is down (status 0x%x)\n", index,
		       vio_config16(&nd->vio, NET_CFG_STATUS));
		return NS_CONFIG;
	}
	if ((ret = vq_setup(&nd->vio, &nd->rxq, 0, VQ_MAX_SIZE, nd->rxmem)) ||
	    (ret = vq_setup(&nd->vio, &nd->txq, 1, VQ_MAX_SIZE, nd->txmem)))
		return NS_FEATURES;
	if (nd->rxq.size < NET_NRX || nd->txq.size < NET_NTX) {
		printf("net%u: queues of %u/%u entries, need %u/%u\n", index, nd->rxq.size,
		       nd->txq.size, NET_NRX, NET_NTX);
		return NS_FEATURES;
	}
	/* We poll: used-buffer interrupts would only cost the device. */
	vq_disable_interrupts(&nd->rxq);
	vq_disable_interrupts(&nd->txq);
	/* 3.1.1 step 8, then the rx buffers (no notification before DRIVER_OK) */
	vio_driver_ok(&nd->vio);
	for (i = 0; i < NET_NRX; i++)
		rx_post(nd, i);
	vq_kick(&nd->rxq);
	printf("net%u: window 0x%lx mac %02x:%02x:%02x:%02x:%02x:%02x features 0x%lx (offered "
	       "0x%lx)\n",
	       index, base, nd->mac[0], nd->mac[1], nd->mac[2], nd->mac[3], nd->mac[4], nd->mac[5],
	       nd->vio.features, nd->vio.device_features);
	return 0;
}

void net_tx_reclaim(struct net_dev *nd)
{
	uint16_t head;
	uint32_t len;

	while (vq_get_used(&nd->txq, &head, &len))
		if (head < nd->txq.size)
			nd->tx_busy[nd->tx_slot[head]] = 0;
}

uint8_t *net_tx_frame(struct net_dev *nd)
{
	uint64_t until = deadline(1000);

	while (nd->tx_busy[nd->tx_next]) {
		net_tx_reclaim(nd);
		if (expired(until)) {
			printf("net%u: tx buffer %u not given back within 1 s\n", nd->index,
			       nd->tx_next);
			return NULL;
		}
	}
	return nd->txbuf[nd->tx_next].frame;
}

int net_tx(struct net_dev *nd, uint32_t len, bool kick)
{
	unsigned int slot = nd->tx_next;
	struct net_buf *b = &nd->txbuf[slot];
	struct vio_buf v;
	int head;

	if (len < ETH_ZLEN) { /* pad like a NIC would */
		memset(b->frame + len, 0, ETH_ZLEN - len);
		len = ETH_ZLEN;
	}
	/* 5.1.6.2: no offload, so every field is 0 (num_buffers is rx-only) */
	b->vhdr = (struct net_vhdr){ 0 };
	v = (struct vio_buf){ pa(b), NET_HDR_LEN + len };
	head = vq_add(&nd->txq, &v, 1, 0, NULL);
	if (head < 0) {
		printf("net%u: tx ring full\n", nd->index);
		return NS_TX;
	}
	nd->tx_slot[head] = (uint8_t)slot;
	nd->tx_busy[slot] = 1;
	nd->tx_next = (slot + 1) % NET_NTX;
	nd->cnt.tx++;
	if (kick)
		vq_kick(&nd->txq);
	return 0;
}

/* ---- checksums and headers ---- */

uint16_t net_csum(const void *buf, uint32_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	uint64_t s = sum;

	/* RFC 1071: the one's-complement sum does not depend on byte order,
	 * so little-endian loads give the byte-swapped sum, which stored as a
	 * little-endian u16 is the right bytes on the wire. Eight bytes per
	 * step: interpreted ring-0 code pays per instruction. */
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w = *(const uint64_t *)p;

		s += (w & 0xffffffffU) + (w >> 32);
	}
	if (len >= 4)
		s += *(const uint32_t *)p, p += 4, len -= 4;
	if (len >= 2)
		s += *(const uint16_t *)p, p += 2, len -= 2;
	if (len)
		s += *p; /* the high byte of a big-endian word */
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The pseudo-header sum (RFC 768) of an IPv4 header's addresses. */
static uint32_t pseudo_sum(const uint8_t *ip, uint8_t proto, uint32_t l4_len)
{
	uint64_t s = (uint64_t) * (const uint32_t *)(ip + 12) + *(const uint32_t *)(ip + 16) +
		     n16(proto) + n16((uint16_t)l4_len);

	return (uint32_t)((s & 0xffffffffU) + (s >> 32));
}

/* Ethernet + IPv4 header (no options, DF, TTL 64); returns the L4 header. */
static uint8_t *ip_build(struct net_dev *nd, uint8_t *f, const uint8_t *dst_mac, uint32_t src,
			 uint32_t dst, uint8_t proto, uint32_t l4_len)
{
	uint8_t *ip = f + ETH_HLEN;

	memcpy(f, dst_mac, 6);
	memcpy(f + 6, nd->mac, 6);
	put16(f + 12, ETH_P_IP);
	ip[0] = 0x45; /* version 4, 5 words */
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(IP_HLEN + l4_len));
	put32(ip + 4, 0x4000); /* id 0, don't fragment */
	ip[8] = 64;
	ip[9] = proto;
	put16(ip + 10, 0);
	put32(ip + 12, src);
	put32(ip + 16, dst);
	*(uint16_t *)(ip + 10) = net_csum(ip, IP_HLEN, 0);
	return ip + IP_HLEN;
}

uint32_t net_udp_build(struct net_dev *nd, uint8_t *f, const uint8_t *dst_mac, uint32_t src_ip,
		       uint32_t dst_ip, uint16_t sport, uint16_t dport, uint32_t len, bool csum)
{
	uint8_t *u = ip_build(nd, f, dst_mac, src_ip, dst_ip, IPPROTO_UDP, UDP_HLEN + len);

	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(UDP_HLEN + len));
	put16(u + 6, 0);
	if (csum) {
		uint16_t c = net_csum(u, UDP_HLEN + len,
				      pseudo_sum(f + ETH_HLEN, IPPROTO_UDP, UDP_HLEN + len));

		/* RFC 768: a computed 0 is sent as all ones (0 = none) */
		*(uint16_t *)(u + 6) = c ? c : 0xffff;
	}
	return ETH_HLEN + IP_HLEN + UDP_HLEN + len;
}

int net_udp_send(struct net_dev *nd, uint32_t dst_ip, uint16_t sport, uint16_t dport,
		 const void *data, uint32_t len)
{
	uint8_t *f = net_tx_frame(nd);

	if (!f)
		return NS_TX;
	if (len > NET_MTU - IP_HLEN - UDP_HLEN)
		return NS_USAGE;
	memcpy(f + ETH_HLEN + IP_HLEN + UDP_HLEN, data, len);
	return net_tx(nd,
		      net_udp_build(nd, f, nd->arp_mac, nd->ip, dst_ip, sport, dport, len, true),
		      true);
}

/* ---- receive ---- */

static int rx_bad(struct net_dev *nd, int status, const char *what, uint32_t v)
{
	nd->cnt.bad++;
	printf("net%u: rx: %s (0x%x)\n", nd->index, what, v);
	return -status;
}

static void arp_send(struct net_dev *nd, uint16_t op, const uint8_t *tha, uint32_t tpa)
{
	uint8_t *f = net_tx_frame(nd), *a;

	if (!f)
		return;
	a = f + ETH_HLEN;
	memcpy(f, op == 1 ? bcast_mac : tha, 6);
	memcpy(f + 6, nd->mac, 6);
	put16(f + 12, ETH_P_ARP);
	put32(a, 0x00010800); /* Ethernet, IPv4 */
	put32(a + 4, 0x06040000 | op);
	memcpy(a + 8, nd->mac, 6);
	put32(a + 14, nd->ip);
	memcpy(a + 18, op == 1 ? bcast_mac : tha, 6);
	if (op == 1)
		memset(a + 18, 0, 6);
	put32(a + 24, tpa);
	net_tx(nd, ETH_HLEN + ARP_LEN, true); /* a lost request is retried */
}

/* RFC 826: answer requests for our address; learn the one we asked for. */
static void rx_arp(struct net_dev *nd, const uint8_t *a, uint32_t len)
{
	uint32_t spa, tpa;
	uint16_t op;

	if (len < ARP_LEN || get32(a) != 0x00010800 || (get32(a + 4) & 0xffff0000) != 0x06040000)
		return;
	op = get16(a + 6);
	spa = get32(a + 14);
	tpa = get32(a + 24);
	if (spa == nd->arp_ip && nd->arp_ip && (op == 1 || op == 2)) {
		memcpy(nd->arp_mac, a + 8, 6);
		nd->arp_valid = true;
	}
	if (op == 1 && nd->ip && tpa == nd->ip) {
		arp_send(nd, 2, a + 8, spa);
		nd->cnt.arp_answered++;
	}
}

/* Check one received buffer; 1 if rx is an IPv4 UDP/ICMP frame for us. */
static int rx_frame(struct net_dev *nd, struct net_buf *b, uint32_t used_len, struct net_rx *rx)
{
	const uint8_t *f = b->frame, *ip;
	uint32_t len = used_len - NET_HDR_LEN, ihl, tot, dst;

	nd->cnt.rx++;
	if (used_len < NET_HDR_LEN + ETH_HLEN || used_len > NET_BUF_SIZE)
		return rx_bad(nd, NS_RX_HDR, "used length", used_len);
	/* 5.1.6.4.1: without GUEST_CSUM flags are 0, no GSO; one buffer
	 * per frame since each of ours holds any 1514-byte frame */
	if (b->vhdr.flags || b->vhdr.gso_type || b->vhdr.num_buffers != 1)
		return rx_bad(nd, NS_RX_HDR, "virtio_net_hdr flags/gso/num_buffers",
			      (uint32_t)b->vhdr.flags << 24 | (uint32_t)b->vhdr.gso_type << 16 |
				      b->vhdr.num_buffers);
	if (memcmp(f, nd->mac, 6) && memcmp(f, bcast_mac, 6)) {
		nd->cnt.dropped++; /* multicast, or flooded by a bridge */
		return 0;
	}
	if (get16(f + 12) == ETH_P_ARP) {
		rx_arp(nd, f + ETH_HLEN, len - ETH_HLEN);
		return 0;
	}
	ip = f + ETH_HLEN;
	if (get16(f + 12) != ETH_P_IP || len < ETH_HLEN + IP_HLEN) {
		nd->cnt.dropped++;
		return 0;
	}
	ihl = (ip[0] & 15) * 4u;
	tot = get16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl < IP_HLEN || tot < ihl || tot > len - ETH_HLEN)
		return rx_bad(nd, NS_RX_HDR, "IPv4 header", get32(ip));
	if (net_csum(ip, ihl, 0))
		return rx_bad(nd, NS_CSUM, "IPv4 header checksum", get16(ip + 10));
	dst = get32(ip + 16);
	/* fragments are not reassembled here; others' unicast is ignored
	 * (while we have no address, as in DHCP, everything is ours) */
	if ((get16(ip + 6) & 0x3fff) || (nd->ip && dst != nd->ip && dst != 0xffffffffU)) {
		nd->cnt.dropped++;
		return 0;
	}
	*rx = (struct net_rx){ .frame = f,
			       .len = len,
			       .src_ip = get32(ip + 12),
			       .proto = ip[9],
			       .l4 = ip + ihl,
			       .l4_len = tot - ihl };
	if (rx->proto == IPPROTO_ICMP) {
		if (rx->l4_len < 8 || net_csum(rx->l4, rx->l4_len, 0))
			return rx_bad(nd, NS_CSUM, "ICMP checksum", rx->l4_len);
		return 1;
	}
	if (rx->proto != IPPROTO_UDP) {
		nd->cnt.dropped++;
		return 0;
	}
	if (rx->l4_len < UDP_HLEN || get16(rx->l4 + 4) < UDP_HLEN || get16(rx->l4 + 4) > rx->l4_len)
		return rx_bad(nd, NS_RX_HDR, "UDP length", rx->l4_len);
	rx->l4_len = get16(rx->l4 + 4);
	if (get16(rx->l4 + 6) &&
	    net_csum(rx->l4, rx->l4_len, pseudo_sum(ip, IPPROTO_UDP, rx->l4_len)))
		return rx_bad(nd, NS_CSUM, "UDP checksum", get16(rx->l4 + 6));
	rx->sport = get16(rx->l4);
	rx->dport = get16(rx->l4 + 2);
	rx->data = rx->l4 + UDP_HLEN;
	rx->data_len = rx->l4_len - UDP_HLEN;
	return 1;
}

int net_poll(struct net_dev *nd, struct net_rx *rx, uint32_t ms)
{
	uint64_t until = deadline(ms);
	uint16_t head;
	uint32_t len;
	int ret;

	/* the frame returned last time is the caller's no longer */
	if (nd->rx_pending) {
		rx_post(nd, nd->rx_pending - 1);
		nd->rx_pending = 0;
		vq_kick(&nd->rxq);
	}
	for (;;) {
		if (!vq_get_used(&nd->rxq, &head, &len)) {
			if (expired(until))
				return 0;
			cpu_relax();
			continue;
		}
		if (head >= nd->rxq.size) {
			printf("net%u: rx used head %u out of range\n", nd->index, head);
			return -NS_RX_HDR;
		}
		ret = rx_frame(nd, &nd->rxbuf[nd->rx_slot[head]], len, rx);
		if (ret == 1) {
			nd->rx_pending = nd->rx_slot[head] + 1u;
			return 1;
		}
		rx_post(nd, nd->rx_slot[head]);
		vq_kick(&nd->rxq);
		if (ret < 0)
			return ret;
	}
}

/* ---- ARP, ICMP, DHCP ---- */

int net_arp_resolve(struct net_dev *nd, uint32_t ip, uint32_t ms)
{
	uint64_t until = deadline(ms);
	struct net_rx rx;
	int tries = 0, r;

	nd->arp_ip = ip;
	nd->arp_valid = false;
	while (!expired(until)) {
		uint64_t retry = deadline(500);

		arp_send(nd, 1, bcast_mac, ip);
		tries++;
		while (!nd->arp_valid && !expired(retry))
			if ((r = net_poll(nd, &rx, 10)) < 0)
				return -r;
		if (nd->arp_valid) {
			printf("net%u: ARP: " IP_FMT " is at %02x:%02x:%02x:%02x:%02x:%02x (%d "
			       "request%s)\n",
			       nd->index, IP_ARGS(ip), nd->arp_mac[0], nd->arp_mac[1],
			       nd->arp_mac[2], nd->arp_mac[3], nd->arp_mac[4], nd->arp_mac[5],
			       tries, tries > 1 ? "s" : "");
			return 0;
		}
	}
	printf("net%u: ARP: no reply for " IP_FMT " (%d requests)\n", nd->index, IP_ARGS(ip),
	       tries);
	return NS_ARP;
}

int net_icmp_answer(struct net_dev *nd, const struct net_rx *rx)
{
	uint8_t *f, *icmp;

	if (rx->proto != IPPROTO_ICMP || rx->l4[0] != 8 || rx->l4_len > NET_MTU - IP_HLEN)
		return 0;
	f = net_tx_frame(nd);
	if (!f)
		return NS_TX;
	/* RFC 792: the request's id, sequence and data back, type 0 */
	icmp = ip_build(nd, f, rx->frame + 6, nd->ip, rx->src_ip, IPPROTO_ICMP, rx->l4_len);
	memcpy(icmp, rx->l4, rx->l4_len);
	icmp[0] = 0;
	put16(icmp + 2, 0);
	*(uint16_t *)(icmp + 2) = net_csum(icmp, rx->l4_len, 0);
	return net_tx(nd, ETH_HLEN + IP_HLEN + rx->l4_len, true);
}

int net_poll_udp(struct net_dev *nd, struct net_rx *rx, uint16_t port, uint32_t ms)
{
	int r = net_poll(nd, rx, ms);

	if (r <= 0)
		return r;
	if ((r = net_icmp_answer(nd, rx)))
		return -r;
	return rx->proto == IPPROTO_UDP && rx->dport == port;
}

int net_ping(struct net_dev *nd, uint32_t ip, unsigned int count)
{
	unsigned int seq;
	struct net_rx rx;
	uint8_t *f, *icmp;
	int r;

	for (seq = 1; seq <= count; seq++) {
		uint64_t t0, until;

		if (!(f = net_tx_frame(nd)))
			return NS_TX;
		icmp = ip_build(nd, f, nd->arp_mac, nd->ip, ip, IPPROTO_ICMP, 8 + PING_DATA);
		put32(icmp, 0x08000000); /* echo request, code 0, checksum 0 */
		put16(icmp + 4, PING_ID);
		put16(icmp + 6, (uint16_t)seq);
		for (r = 0; r < PING_DATA; r++)
			icmp[8 + r] = (uint8_t)(seq + r);
		*(uint16_t *)(icmp + 2) = net_csum(icmp, 8 + PING_DATA, 0);
		t0 = rdtsc();
		if ((r = net_tx(nd, ETH_HLEN + IP_HLEN + 8 + PING_DATA, true)))
			return r;
		until = deadline(2000);
		for (;;) {
			if ((r = net_poll(nd, &rx, 10)) < 0)
				return -r;
			if (r && rx.proto == IPPROTO_ICMP && rx.src_ip == ip && rx.l4[0] == 0 &&
			    get16(rx.l4 + 4) == PING_ID && get16(rx.l4 + 6) == seq) {
				if (rx.l4_len != 8 + PING_DATA ||
				    memcmp(rx.l4 + 8, icmp + 8, PING_DATA)) {
					printf("net%u: ping: reply %u has other data\n", nd->index,
					       seq);
					return NS_PING;
				}
				printf("net%u: ping " IP_FMT ": reply %u (%lu tsc ticks)\n",
				       nd->index, IP_ARGS(ip), seq, rdtsc() - t0);
				break;
			}
			if (expired(until)) {
				printf("net%u: ping " IP_FMT ": no reply to %u\n", nd->index,
				       IP_ARGS(ip), seq);
				return NS_PING;
			}
		}
	}
	return 0;
}

/* A BOOTREQUEST (RFC 2131 section 2) with the DHCP message type `type`. */
static int dhcp_send(struct net_dev *nd, uint32_t xid, uint8_t type)
{
	uint8_t *f = net_tx_frame(nd), *d, *o;
	uint32_t len = 300; /* the BOOTP minimum message; options fit */

	if (!f)
		return NS_TX;
	d = f + ETH_HLEN + IP_HLEN + UDP_HLEN;
	memset(d, 0, len);
	put32(d, 0x01010600); /* BOOTREQUEST, Ethernet, hlen 6, hops 0 */
	put32(d + 4, xid);
	put16(d + 10, 0x8000); /* broadcast the reply: we have no address */
	memcpy(d + 28, nd->mac, 6);
	put32(d + 236, DHCP_MAGIC);
	o = d + 240;
	*o++ = 53, *o++ = 1, *o++ = type;
	*o++ = 55, *o++ = 3, *o++ = 1, *o++ = 3, *o++ = 6; /* mask, router, DNS */
	if (type == 3) {				   /* REQUEST: what was offered */
		*o++ = 50, *o++ = 4, put32(o, nd->ip), o += 4;
		*o++ = 54, *o++ = 4, put32(o, nd->dhcp_server), o += 4;
	}
	*o = 255;
	return net_tx(nd,
		      net_udp_build(nd, f, bcast_mac, 0, 0xffffffffU, DHCP_CLIENT, DHCP_SERVER, len,
				    true),
		      true);
}

/* Parse a BOOTREPLY for `xid`: its message type (0 if not ours), and the
 * offered address and options into *nd's fields (if `take`). */
static int dhcp_parse(struct net_dev *nd, const struct net_rx *rx, uint32_t xid, bool take)
{
	const uint8_t *d = rx->data, *o, *end = rx->data + rx->data_len;
	int type = 0;

	if (rx->proto != IPPROTO_UDP || rx->dport != DHCP_CLIENT || rx->data_len < 240 ||
	    d[0] != 2 || get32(d + 4) != xid || get32(d + 236) != DHCP_MAGIC)
		return 0;
	for (o = d + 240; o < end && *o != 255;) {
		uint8_t code = *o++, len;

		if (code == 0)
			continue; /* pad */
		if (o >= end || o + 1 + *o > end)
			break;
		len = *o++;
		if (code == 53 && len == 1)
			type = *o;
		else if (take && len >= 4 && code == 1)
			nd->mask = get32(o);
		else if (take && len >= 4 && code == 3)
			nd->router = get32(o);
		else if (take && len >= 4 && code == 6)
			nd->dns = get32(o);
		else if (len >= 4 && code == 54)
			nd->dhcp_server = get32(o);
		o += len;
	}
	if (take)
		nd->ip = get32(d + 16); /* yiaddr */
	return type;
}

/* Send `type` until a reply of one of `want`/`nak` types comes (1 s each). */
static int dhcp_exchange(struct net_dev *nd, uint32_t xid, uint8_t type, int want, uint64_t until)
{
	struct net_rx rx;
	int r, t;

	while (!expired(until)) {
		uint64_t retry = deadline(1000);

		if ((r = dhcp_send(nd, xid, type)))
			return -r;
		while (!expired(retry)) {
			if ((r = net_poll(nd, &rx, 10)) < 0)
				return r;
			if (r && (t = dhcp_parse(nd, &rx, xid, false)) && (t == want || t == 6)) {
				dhcp_parse(nd, &rx, xid, t == want);
				return t;
			}
		}
	}
	return 0;
}

int net_dhcp(struct net_dev *nd, uint32_t ms)
{
	uint64_t until = deadline(ms);
	uint32_t xid = get32(nd->mac + 2) ^ (uint32_t)rdtsc();
	int t;

	nd->ip = 0;
	t = dhcp_exchange(nd, xid, 1, 2, until); /* DISCOVER -> OFFER */
	if (t < 0)
		return -t;
	if (t != 2) {
		printf("net%u: DHCP: no OFFER\n", nd->index);
		return NS_DHCP;
	}
	printf("net%u: DHCP: offer " IP_FMT " from " IP_FMT "\n", nd->index, IP_ARGS(nd->ip),
	       IP_ARGS(nd->dhcp_server));
	t = dhcp_exchange(nd, xid, 3, 5, until); /* REQUEST -> ACK (or NAK) */
	if (t < 0)
		return -t;
	if (t != 5) {
		printf("net%u: DHCP: %s\n", nd->index, t == 6 ? "NAK" : "no ACK");
		nd->ip = 0;
		return NS_DHCP;
	}
	printf("net%u: DHCP: ack: ip " IP_FMT " mask " IP_FMT " router " IP_FMT " dns " IP_FMT "\n",
	       nd->index, IP_ARGS(nd->ip), IP_ARGS(nd->mask), IP_ARGS(nd->router),
	       IP_ARGS(nd->dns));
	return 0;
}

/* ---- command line ---- */

/* `n` numbers in `base` separated by `sep`, each <= max; 1, 0 or -1. */
static int parse_list(const char *cmdline, const char *key, unsigned int n, unsigned int base,
		      char sep, unsigned int max, unsigned int *out)
{
	size_t len, i = 0;
	const char *v = cmdline_get_str(cmdline, key, &len);
	unsigned int k;

	if (!v)
		return 0;
	for (k = 0; k < n; k++) {
		unsigned int x = 0, digits = 0;

		for (; i < len; i++, digits++) {
			char c = v[i];
			unsigned int d = c >= '0' && c <= '9'	? (unsigned int)(c - '0')
					 : c >= 'a' && c <= 'f' ? (unsigned int)(c - 'a' + 10)
					 : c >= 'A' && c <= 'F' ? (unsigned int)(c - 'A' + 10)
								: 99;

			if (d >= base)
				break;
			x = x * base + d;
			if (x > max)
				return -1;
		}
		if (!digits || (k + 1 < n ? (i >= len || v[i] != sep) : i != len))
			return -1;
		out[k] = x;
		i++;
	}
	return 1;
}

int net_cmdline_ip(const char *cmdline, const char *key, uint32_t *ip)
{
	unsigned int b[4];
	int r = parse_list(cmdline, key, 4, 10, '.', 255, b);

	if (r == 1)
		*ip = IP4(b[0], b[1], b[2], b[3]);
	return r;
}

int net_cmdline_mac(const char *cmdline, const char *key, uint8_t mac[6])
{
	unsigned int b[6], i;
	int r = parse_list(cmdline, key, 6, 16, ':', 255, b);

	if (r == 1)
		for (i = 0; i < 6; i++)
			mac[i] = (uint8_t)b[i];
	return r;
}

int net_configure(struct net_dev *nd, unsigned int index, const char *cmdline)
{
	uint64_t mrg = 1;
	uint32_t peer;
	int ret, st;

	cmdline_get_uint(cmdline, "mrg", &mrg);
	if ((ret = net_open(nd, index, mrg != 0)))
		return ret;
	st = net_cmdline_ip(cmdline, "peer", &peer);
	if (st < 0)
		return NS_USAGE;
	if (st) { /* a static address on a link with a peer (tap) */
		if (net_cmdline_ip(cmdline, "ip", &nd->ip) != 1)
			return NS_USAGE;
		nd->mask = IP4(255, 255, 255, 0);
		nd->router = peer;
		printf("net%u: static ip " IP_FMT " peer " IP_FMT "\n", index, IP_ARGS(nd->ip),
		       IP_ARGS(peer));
	} else if ((ret = net_dhcp(nd, 20000))) {
		return ret;
	}
	/* slirp's restrict=on hands out no router: nothing to resolve */
	return nd->router ? net_arp_resolve(nd, nd->router, 5000) : 0;
}
