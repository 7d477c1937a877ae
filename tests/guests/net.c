// SPDX-License-Identifier: MIT
/*
 * net: drives the vmm's virtio-net devices with its own polled driver
 * (lib/net.c) and checks the network path end to end. The host side is
 * tests/guests/run_guest_tests.py. Modes, from the command line:
 *
 *   mode=user port=P [ip= router= dns= mac0= restrict=1]
 *       user networking (slirp): DHCP must hand out ip (10.0.2.15), router
 *       (10.0.2.2) and dns (10.0.2.3); ARP and ping the router; UDP
 *       datagrams of 64, 1400 and 1472 bytes to router:P come back from
 *       the host's echo server on 127.0.0.1:P. With restrict=1 DHCP must
 *       offer no router and no DNS, and the datagram must not come back
 *       (the ping is only reported). With peer2=B port2=Q, then also
 *       ping B and a UDP echo with B:Q (another guest on the network).
 *   mode=fwd port=GP [count=3 wait=ms]
 *       DHCP, then echo `count` datagrams arriving on GP (sent by the host
 *       to a hostfwd port, or by another guest) back to their sender.
 *   mode=static ip=A peer=B port=P [absent=C rounds=1 gap=ms]
 *       tap: no DHCP; ARP and ping the peer, UDP echo with the peer. With
 *       absent=C, nobody may answer ARP for C (an internal network). With
 *       rounds=N it does that N times, each later round `gap` ms later and
 *       after ARP found the peer again (up to 30 s: a peer that went and
 *       came back).
 *   mode=respond ip=A port=P [count=3 wait=ms]
 *       the other end of mode=static on a network of guests (VDE): a
 *       static address, answers ARP and ping, echoes `count` datagrams
 *       arriving on P to their sender.
 *   mode=multi [nics=2 mac0= mac1=]
 *       every NIC has its MAC and gets a DHCP address.
 *   mode=bench ...  throughput and latency (net_bench.c)
 *   mode=sink ip=A port=P ...  counts another guest's mode=bench frames (net_bench.c)
 *
 * mrg=0 makes the driver decline VIRTIO_NET_F_MRG_RXBUF. MACs default to
 * 52:54:00:12:34:(0x56 + NIC number), what vmm gives NICs without mac=.
 * Exit status: 0 when every check passed, else one of enum net_status
 * (lib/net.h), the failed check printed.
 */
#include "lib/net.h"

int guest_main(uint64_t zero_page);

#define ECHO_SPORT 40000

static struct net_dev devs[NET_MAX_DEVS];
static uint8_t payload[NET_MTU];

static int str_is(const char *s, size_t len, const char *lit)
{
	return s && strlen(lit) == len && !memcmp(s, lit, len);
}

/* `key=` as an address, else `def`; -1 if malformed */
static int want_ip(const char *cmdline, const char *key, uint32_t def, uint32_t *ip)
{
	*ip = def;
	return net_cmdline_ip(cmdline, key, ip) < 0 ? -1 : 0;
}

static int check_mac(const struct net_dev *nd, const char *cmdline)
{
	uint8_t want[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, (uint8_t)(0x56 + nd->index) };
	char key[5] = { 'm', 'a', 'c', (char)('0' + nd->index), 0 };

	if (net_cmdline_mac(cmdline, key, want) < 0)
		return NS_USAGE;
	if (memcmp(nd->mac, want, 6)) {
		printf("net%u: mac %02x:%02x:%02x:%02x:%02x:%02x, expected "
		       "%02x:%02x:%02x:%02x:%02x:%02x\n",
		       nd->index, nd->mac[0], nd->mac[1], nd->mac[2], nd->mac[3], nd->mac[4],
		       nd->mac[5], want[0], want[1], want[2], want[3], want[4], want[5]);
		return NS_CONFIG;
	}
	return 0;
}

/* DHCP gave what the command line (or QEMU's defaults) expect. */
static int check_dhcp(const struct net_dev *nd, const char *cmdline)
{
	uint32_t ip, router, dns;

	if (want_ip(cmdline, "ip", IP4(10, 0, 2, 15), &ip) ||
	    want_ip(cmdline, "router", IP4(10, 0, 2, 2), &router) ||
	    want_ip(cmdline, "dns", IP4(10, 0, 2, 3), &dns))
		return NS_USAGE;
	if (nd->ip != ip || nd->router != router || nd->dns != dns) {
		printf("net%u: DHCP gave ip " IP_FMT " router " IP_FMT " dns " IP_FMT
		       ", expected " IP_FMT " " IP_FMT " " IP_FMT "\n",
		       nd->index, IP_ARGS(nd->ip), IP_ARGS(nd->router), IP_ARGS(nd->dns),
		       IP_ARGS(ip), IP_ARGS(router), IP_ARGS(dns));
		return NS_DHCP_VALUE;
	}
	return 0;
}

/*
 * One UDP echo: `len` bytes (a per-`k` pattern) from port ECHO_SPORT + k to
 * dst:port; the same bytes must come back from there within 2 s (3 tries).
 * Returns 0, NS_UDP (nothing came) or another NS_*.
 */
static int udp_echo(struct net_dev *nd, uint32_t dst, uint16_t port, uint32_t len, unsigned int k)
{
	uint16_t sport = (uint16_t)(ECHO_SPORT + k);
	struct net_rx rx;
	uint32_t i;
	int r, tries;

	for (i = 0; i + 8 <= len; i += 8)
		*(uint64_t *)(payload + i) = 0x0101010101010101ULL * (uint8_t)(k * 37 + i / 8);
	for (; i < len; i++)
		payload[i] = (uint8_t)k;
	memcpy(payload, "vmm-net ", len < 8 ? len : 8);
	for (tries = 0; tries < 3; tries++) {
		uint64_t t0 = rdtsc();

		if ((r = net_udp_send(nd, dst, sport, port, payload, len)))
			return r;
		/* net_poll's wait is per call: count the 2 s ourselves */
		while (rdtsc() - t0 < 2000ULL * 5000000ULL) {
			if ((r = net_poll(nd, &rx, 10)) < 0)
				return -r;
			if (!r || rx.proto != IPPROTO_UDP || rx.dport != sport)
				continue;
			if (rx.src_ip != dst || rx.sport != port || rx.data_len != len ||
			    memcmp(rx.data, payload, len)) {
				printf("net%u: UDP echo %u: %u bytes from " IP_FMT
				       ":%u differ from "
				       "the %u sent\n",
				       nd->index, k, rx.data_len, IP_ARGS(rx.src_ip), rx.sport,
				       len);
				return NS_UDP_DATA;
			}
			printf("net%u: UDP echo %u: %u bytes back from " IP_FMT ":%u (%lu tsc "
			       "ticks)\n",
			       nd->index, k, len, IP_ARGS(dst), port, rdtsc() - t0);
			return 0;
		}
	}
	printf("net%u: UDP echo %u: no reply from " IP_FMT ":%u\n", nd->index, k, IP_ARGS(dst),
	       port);
	return NS_UDP;
}

/* Ping the peer, UDP echoes of 64, 1400 and 1472 bytes (the largest that
 * fits a 1500-byte MTU); with `restricted` the echo must not come back. */
static int exercise(struct net_dev *nd, const char *cmdline, bool restricted)
{
	static const uint32_t sizes[] = { 64, 1400, 1472 };
	uint64_t port = 0, pings = 3;
	unsigned int i;
	int r;

	cmdline_get_uint(cmdline, "pings", &pings);
	r = net_ping(nd, nd->router, pings < 1000 ? (unsigned int)pings : 1000);
	if (r && !restricted)
		return r;
	if (restricted)
		printf("net0: restricted: ping of the router %s\n", r ? "failed" : "answered");
	if (!cmdline_get_uint(cmdline, "port", &port) || !port || port > 65535)
		return NS_USAGE;
	/* restricted: one datagram is enough to show nothing comes back */
	for (i = 0; i < (restricted ? 1 : sizeof(sizes) / sizeof(sizes[0])); i++) {
		r = udp_echo(nd, nd->router, (uint16_t)port, sizes[i], i);
		if (restricted && r == NS_UDP)
			continue;
		if (restricted && !r) {
			printf("net0: restricted, yet a UDP echo came back from the host\n");
			return NS_UNEXPECTED;
		}
		if (r)
			return r;
	}
	if (restricted)
		printf("net0: restricted: no UDP datagram reached the host\n");
	printf("net0: rx %u frames (%u dropped, %u bad), tx %u, %u ARP requests answered\n",
	       nd->cnt.rx, nd->cnt.dropped, nd->cnt.bad, nd->cnt.tx, nd->cnt.arp_answered);
	return 0;
}

/* peer2=B port2=Q: another guest on the same network (a VDE NAT network)
 * answers ARP, ping and a UDP echo. */
static int exercise_peer2(struct net_dev *nd, const char *cmdline)
{
	uint64_t port = 0;
	uint32_t peer;
	int st, r;

	st = net_cmdline_ip(cmdline, "peer2", &peer);
	if (st <= 0)
		return st < 0 ? NS_USAGE : 0;
	if (!cmdline_get_uint(cmdline, "port2", &port) || !port || port > 65535)
		return NS_USAGE;
	if ((r = net_arp_resolve(nd, peer, 5000)) || (r = net_ping(nd, peer, 3)) ||
	    (r = udp_echo(nd, peer, (uint16_t)port, 64, 3)))
		return r;
	printf("net0: reached the other guest " IP_FMT "\n", IP_ARGS(peer));
	return 0;
}

static int mode_user(const char *cmdline)
{
	struct net_dev *nd = &devs[0];
	uint64_t restricted = 0;
	int r;

	cmdline_get_uint(cmdline, "restrict", &restricted);
	if ((r = net_configure(nd, 0, cmdline)) || (r = check_mac(nd, cmdline)))
		return r;
	if (restricted) {
		/* libslirp's DHCP offers no router and no DNS when restricted
		 * (there is no way out); the host's address still answers ARP */
		if (nd->router || nd->dns) {
			printf("net0: restricted, yet DHCP offered router " IP_FMT " dns " IP_FMT
			       "\n",
			       IP_ARGS(nd->router), IP_ARGS(nd->dns));
			return NS_DHCP_VALUE;
		}
		if (want_ip(cmdline, "router", IP4(10, 0, 2, 2), &nd->router))
			return NS_USAGE;
		if ((r = net_arp_resolve(nd, nd->router, 5000)))
			return r;
	} else if ((r = check_dhcp(nd, cmdline))) {
		return r;
	}
	/* net.h (devices/virtio): offloads only with a tap that takes them */
	if (nd->vio.device_features & NET_OFFLOAD_MASK) {
		printf("net0: user networking offers offloads 0x%lx\n",
		       (uint64_t)(nd->vio.device_features & NET_OFFLOAD_MASK));
		return NS_FEATURES;
	}
	if ((r = exercise(nd, cmdline, restricted != 0)) || (r = exercise_peer2(nd, cmdline)))
		return r;
	printf("net: mode=user passed\n");
	return 0;
}

static int mode_static(const char *cmdline)
{
	struct net_dev *nd = &devs[0];
	uint64_t rounds = 1, gap = 0, k, t0;
	struct net_rx rx;
	uint32_t absent;
	int r, st;

	cmdline_get_uint(cmdline, "rounds", &rounds);
	cmdline_get_uint(cmdline, "gap", &gap);
	if (gap > 60000)
		return NS_USAGE;
	if ((r = net_configure(nd, 0, cmdline)) || (r = check_mac(nd, cmdline)) ||
	    (r = exercise(nd, cmdline, false)))
		return r;
	st = net_cmdline_ip(cmdline, "absent", &absent);
	if (st < 0)
		return NS_USAGE;
	if (st) {
		/* an internal network: what is not on it does not answer */
		if (net_arp_resolve(nd, absent, 2000) == 0) {
			printf("net0: " IP_FMT " answered ARP on an internal network\n",
			       IP_ARGS(absent));
			return NS_UNEXPECTED;
		}
		printf("net0: nothing answers for " IP_FMT "\n", IP_ARGS(absent));
	}
	for (k = 2; k <= rounds; k++) {
		for (t0 = rdtsc(); rdtsc() - t0 < gap * 5000000ULL;)
			if ((r = net_poll(nd, &rx, 10)) < 0)
				return -r;
		printf("net0: round %lu: looking for the peer again\n", k);
		if ((r = net_arp_resolve(nd, nd->router, 30000)) ||
		    (r = exercise(nd, cmdline, false)))
			return r;
	}
	printf("net: mode=static passed\n");
	return 0;
}

/* Echo `count` datagrams arriving on port= (count=, wait= ms from the
 * command line) to their sender, through the sender's own MAC: on a
 * network of guests the sender is not the router. */
static int echo_datagrams(struct net_dev *nd, const char *cmdline, const char *mode)
{
	uint64_t port = 0, count = 3, wait = 60000, t0;
	unsigned int done = 0;
	struct net_rx rx;
	int r;

	cmdline_get_uint(cmdline, "count", &count);
	cmdline_get_uint(cmdline, "wait", &wait);
	if (!cmdline_get_uint(cmdline, "port", &port) || !port || port > 65535 || wait > 600000)
		return NS_USAGE;
	printf("net0: waiting for datagrams on port %lu\n", port);
	t0 = rdtsc();
	while (done < count) {
		if (rdtsc() - t0 > wait * 5000000ULL) {
			printf("net0: %u of %lu forwarded datagrams arrived\n", done, count);
			return NS_FWD;
		}
		if ((r = net_poll_udp(nd, &rx, (uint16_t)port, 10)) < 0)
			return -r;
		if (!r)
			continue;
		/* the payload is copied into a tx buffer before the next poll */
		if (rx.data_len > sizeof(payload))
			return NS_RX_HDR;
		memcpy(payload, rx.data, rx.data_len);
		nd->arp_ip = rx.src_ip;
		memcpy(nd->arp_mac, rx.frame + 6, 6);
		nd->arp_valid = true;
		if ((r = net_udp_send(nd, rx.src_ip, (uint16_t)port, rx.sport, payload,
				      rx.data_len)))
			return r;
		printf("net0: echoed %u bytes from " IP_FMT ":%u\n", rx.data_len,
		       IP_ARGS(rx.src_ip), rx.sport);
		done++;
	}
	/* let the last echo leave before the VM ends */
	t0 = rdtsc();
	while (nd->tx_busy[(nd->tx_next + NET_NTX - 1) % NET_NTX] && rdtsc() - t0 < 5000000000ULL)
		net_tx_reclaim(nd);
	printf("net: mode=%s passed: %u datagrams echoed\n", mode, done);
	return 0;
}

/* Echo datagrams sent to port GP through a hostfwd rule (or by a guest). */
static int mode_fwd(const char *cmdline)
{
	struct net_dev *nd = &devs[0];
	int r;

	if ((r = net_configure(nd, 0, cmdline)) || (r = check_dhcp(nd, cmdline)))
		return r;
	return echo_datagrams(nd, cmdline, "fwd");
}

/* The peer of mode=static on a network of guests: no DHCP, no router. */
static int mode_respond(const char *cmdline)
{
	struct net_dev *nd = &devs[0];
	int r;

	if ((r = net_open(nd, 0, true)))
		return r;
	if (net_cmdline_ip(cmdline, "ip", &nd->ip) != 1)
		return NS_USAGE;
	nd->mask = IP4(255, 255, 255, 0);
	printf("net0: static ip " IP_FMT ", answering\n", IP_ARGS(nd->ip));
	return echo_datagrams(nd, cmdline, "respond");
}

static int mode_multi(const char *cmdline)
{
	uint64_t nics = 2;
	unsigned int i, slot, found = 0;
	int r, id;

	cmdline_get_uint(cmdline, "nics", &nics);
	if (nics < 1 || nics > NET_MAX_DEVS)
		return NS_USAGE;
	for (slot = 0; slot < NET_MMIO_SLOTS; slot++) {
		if ((id = vio_probe(NET_MMIO_BASE + slot * NET_MMIO_STRIDE)) < 0)
			break;
		found += id == VIRTIO_ID_NET;
	}
	if (found != nics) {
		printf("net: %u virtio-net devices, expected %lu\n", found, nics);
		return NS_NO_DEVICE;
	}
	for (i = 0; i < nics; i++) {
		struct net_dev *nd = &devs[i];

		if ((r = net_configure(nd, i, cmdline)) || (r = check_mac(nd, cmdline)))
			return r;
		if ((nd->ip & 0xffffff00U) != IP4(10, 0, 2, 0)) {
			printf("net%u: address " IP_FMT " outside 10.0.2.0/24\n", i,
			       IP_ARGS(nd->ip));
			return NS_DHCP_VALUE;
		}
	}
	printf("net: mode=multi passed: %lu NICs, each with its MAC and a DHCP lease\n", nics);
	return 0;
}

int guest_main(uint64_t zero_page)
{
	const char *cmdline = bp_cmdline(zero_page);
	size_t len = 0;
	const char *mode = cmdline_get_str(cmdline, "mode", &len);

	printf("net: cmdline: %s\n", cmdline);
	net_cmdline_windows(cmdline);
	if (str_is(mode, len, "user"))
		return mode_user(cmdline);
	if (str_is(mode, len, "fwd"))
		return mode_fwd(cmdline);
	if (str_is(mode, len, "static"))
		return mode_static(cmdline);
	if (str_is(mode, len, "respond"))
		return mode_respond(cmdline);
	if (str_is(mode, len, "multi"))
		return mode_multi(cmdline);
	if (str_is(mode, len, "bench"))
		return net_mode_bench(&devs[0], cmdline);
	if (str_is(mode, len, "sink"))
		return net_mode_sink(&devs[0], cmdline);
	printf("net: no or unknown mode= on the command line\n");
	return NS_USAGE;
}
