/* SPDX-License-Identifier: MIT */
/*
 * A small polled virtio-net driver (virtio 1.2 section 5.1) on lib/virtio.c,
 * and just enough of an IPv4 stack to test a VMM's network path: Ethernet,
 * ARP, IPv4, ICMP echo, UDP and a DHCP client (RFC 2131).
 *
 * The model: one rx buffer of NET_BUF_SIZE bytes per receive descriptor
 * (so a 1514-byte frame and its 12-byte virtio_net_hdr_v1 always fit in one
 * buffer, 5.1.6.3.1), buffers reused as soon as a frame has been looked at;
 * a ring of tx buffers, header and frame in one descriptor (VERSION_1
 * implies any layout, 2.7.4). No offloads are accepted: frames go out with
 * full checksums (or a zero UDP checksum, legal for IPv4) and must come in
 * with them (5.1.6.4.1: flags 0 without GUEST_CSUM).
 *
 * Nothing waits without a bound: every wait is in milliseconds of TSC time
 * (assuming at most 5 GHz, as lib/virtio.c does).
 *
 * Addresses (IPv4) are uint32_t in host byte order; n16()/n32() convert
 * to and from the wire's big-endian.
 */
#ifndef GUEST_NET_H
#define GUEST_NET_H

#include "guest.h"
#include "virtio.h"

/* Exit statuses of the net guests (tests/guests/net.c, net_bench.c). */
enum net_status {
	NS_NO_DEVICE = 40,  /* no virtio-net window where one should be */
	NS_FEATURES = 41,   /* a feature missing, or an offload offered to slirp */
	NS_CONFIG = 42,	    /* MAC or link status not what was expected */
	NS_DHCP = 43,	    /* no OFFER/ACK, or a NAK */
	NS_DHCP_VALUE = 44, /* DHCP worked but gave another address/router/DNS */
	NS_ARP = 45,	    /* no ARP reply */
	NS_PING = 46,	    /* no ICMP echo reply, or a wrong one */
	NS_UDP = 47,	    /* no UDP echo */
	NS_UDP_DATA = 48,   /* a UDP echo with the wrong payload */
	NS_UNEXPECTED = 49, /* a reply that should not have come (restrict=on) */
	NS_RX_HDR = 50,	    /* bad virtio_net_hdr, used length or frame */
	NS_CSUM = 51,	    /* a frame with a bad IPv4/ICMP/UDP checksum */
	NS_USAGE = 52,	    /* bad command line */
	NS_TX = 53,	    /* the device never gave a tx buffer back */
	NS_FWD = 54,	    /* no datagram arrived through a hostfwd rule */
};

#define VIRTIO_ID_NET	 1
#define NET_F_CSUM	 0
#define NET_F_GUEST_CSUM 1
#define NET_F_MAC	 5
#define NET_F_GUEST_TSO4 7
#define NET_F_GUEST_TSO6 8
#define NET_F_GUEST_ECN	 9
#define NET_F_GUEST_UFO	 10
#define NET_F_HOST_TSO4	 11
#define NET_F_HOST_TSO6	 12
#define NET_F_HOST_ECN	 13
#define NET_F_HOST_UFO	 14
#define NET_F_MRG_RXBUF	 15
#define NET_F_STATUS	 16
#define NET_CFG_MAC	 0 /* 5.1.4: u8 mac[6] */
#define NET_CFG_STATUS	 6 /* u16 */
#define NET_S_LINK_UP	 1
#define NET_OFFLOAD_MASK                                                                   \
	(VIO_BIT(NET_F_CSUM) | VIO_BIT(NET_F_GUEST_CSUM) | VIO_BIT(NET_F_GUEST_TSO4) |     \
	 VIO_BIT(NET_F_GUEST_TSO6) | VIO_BIT(NET_F_GUEST_ECN) | VIO_BIT(NET_F_GUEST_UFO) | \
	 VIO_BIT(NET_F_HOST_TSO4) | VIO_BIT(NET_F_HOST_TSO6) | VIO_BIT(NET_F_HOST_ECN) |   \
	 VIO_BIT(NET_F_HOST_UFO))

#define NET_MAX_DEVS	2
#define NET_MMIO_BASE	0xd0000000ULL /* first virtio-mmio window; disks come first */
#define NET_MMIO_STRIDE 0x1000ULL
#define NET_MMIO_SLOTS	16
#define NET_HDR_LEN	12 /* struct virtio_net_hdr_v1 (5.1.6) */
#define NET_BUF_SIZE	2048
#define NET_NRX		64 /* rx buffers posted */
#define NET_NTX		64 /* tx buffers in the ring */
#define NET_MTU		1500
#define ETH_HLEN	14
#define ETH_P_IP	0x0800
#define ETH_P_ARP	0x0806
#define IP_HLEN		20
#define UDP_HLEN	8
#define IPPROTO_ICMP	1
#define IPPROTO_UDP	17

/* 5.1.6 struct virtio_net_hdr_v1 */
struct net_vhdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

/* One buffer: the virtio header, then the Ethernet frame. Guest RAM is
 * identity mapped, so its address is what the device is given. */
struct net_buf {
	struct net_vhdr vhdr;
	uint8_t frame[NET_BUF_SIZE - NET_HDR_LEN];
} __attribute__((aligned(64)));

/* A received frame handed to the caller (valid until the next net_poll). */
struct net_rx {
	const uint8_t *frame; /* Ethernet header first */
	uint32_t len;
	uint32_t src_ip; /* for IPv4: */
	uint8_t proto;
	const uint8_t *l4; /* ICMP/UDP header */
	uint32_t l4_len;
	uint16_t sport, dport; /* UDP */
	const uint8_t *data;   /* UDP payload */
	uint32_t data_len;
};

struct net_counters {
	uint32_t rx, tx, arp_answered, dropped, bad;
};

struct net_dev {
	struct vio_dev vio;
	struct vq rxq, txq;
	struct vq_mem *rxmem, *txmem;
	struct net_buf *rxbuf, *txbuf;	  /* NET_NRX and NET_NTX of them */
	uint8_t rx_slot[VQ_MAX_SIZE];	  /* rx head -> buffer index */
	uint8_t tx_busy[NET_NTX];	  /* tx buffer is in the ring */
	uint8_t tx_slot[VQ_MAX_SIZE];	  /* tx head -> buffer index */
	unsigned int tx_next, rx_pending; /* next tx buffer; rx buffers to kick */
	unsigned int index;		  /* net device number (0 = first found) */
	uint64_t window;
	uint8_t mac[6];
	/* IPv4 configuration (DHCP or static) */
	uint32_t ip, mask, router, dns, dhcp_server;
	/* one-entry ARP cache: the peer we talk to (router or tap peer) */
	uint32_t arp_ip;
	uint8_t arp_mac[6];
	bool arp_valid;
	bool strict; /* a bad header or checksum fails the run (not just counted) */
	int error;   /* first NS_* a received frame caused (strict) */
	struct net_counters cnt;
};

static inline uint16_t n16(uint16_t v)
{
	return __builtin_bswap16(v);
}

static inline uint32_t n32(uint32_t v)
{
	return __builtin_bswap32(v);
}

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
/* printf("net0: " IP_FMT, IP_ARGS(ip)) for an address in host byte order */
#define IP_FMT		"%u.%u.%u.%u"
#define IP_ARGS(a)	(a) >> 24, ((a) >> 16) & 255, ((a) >> 8) & 255, (a)&255

/*
 * Find the `index`-th virtio-net device (probing the windows from
 * NET_MMIO_BASE up), negotiate VERSION_1, MAC, STATUS, EVENT_IDX,
 * INDIRECT_DESC and, if `mrg`, MRG_RXBUF (never an offload), read the MAC,
 * set up both queues and post the rx buffers. Returns 0 or an NS_* status,
 * the reason printed.
 */
int net_open(struct net_dev *nd, unsigned int index, bool mrg);

/* mmio=, mmio_stride=, mmio_slots= from the command line: where net_open
 * looks for devices when the machine is not vmm's (QEMU's microvm). */
void net_cmdline_windows(const char *cmdline);

/*
 * Receive: take one frame from the used ring, answer it if it is an ARP
 * request for us or an ICMP echo request to us, check its virtio header and
 * checksums, give its buffer back. Returns 1 and fills *rx for an IPv4 frame
 * (UDP or ICMP) to us or to broadcast, 0 if nothing (else) came within `ms`
 * milliseconds. The rx buffer stays valid until the next call.
 */
int net_poll(struct net_dev *nd, struct net_rx *rx, uint32_t ms);

/* Transmit a frame of `len` bytes built in net_tx_frame()'s buffer. Returns
 * 0, or NS_TX when no tx buffer came back within a second. */
uint8_t *net_tx_frame(struct net_dev *nd);
int net_tx(struct net_dev *nd, uint32_t len, bool kick);
/* Reclaim tx buffers the device has used (net_tx does this itself). */
void net_tx_reclaim(struct net_dev *nd);

/* The RFC 1071 Internet checksum of buf (sum folded; store as is). */
uint16_t net_csum(const void *buf, uint32_t len, uint32_t sum);

/*
 * Build Ethernet + IPv4 + UDP headers in `f` (a tx frame), `len` payload
 * bytes to follow at f + 42, to `dst_mac`. With `csum` the UDP checksum is
 * computed over the payload already in place, else it is 0 (no checksum).
 * Returns the frame length.
 */
uint32_t net_udp_build(struct net_dev *nd, uint8_t *f, const uint8_t *dst_mac, uint32_t src_ip,
		       uint32_t dst_ip, uint16_t sport, uint16_t dport, uint32_t len, bool csum);

/* Send a UDP datagram (payload copied) to dst_ip:dport through the ARP
 * cache's MAC (net_arp_resolve first). Returns 0 or NS_TX. */
int net_udp_send(struct net_dev *nd, uint32_t dst_ip, uint16_t sport, uint16_t dport,
		 const void *data, uint32_t len);

/* Find `ip`'s MAC with ARP requests (a few tries within `ms`); it becomes
 * the cache entry. Returns 0 or NS_ARP. */
int net_arp_resolve(struct net_dev *nd, uint32_t ip, uint32_t ms);

/* ICMP echo to `ip` (resolved), `count` requests; checks each reply's id,
 * sequence and payload. Returns 0 or NS_PING. */
int net_ping(struct net_dev *nd, uint32_t ip, unsigned int count);

/* If rx is an ICMP echo request, send the reply (to the request's source
 * MAC: no ARP needed). Returns 0 or NS_TX. */
int net_icmp_answer(struct net_dev *nd, const struct net_rx *rx);

/* net_poll once (up to ms), answering pings: 1 if *rx is a UDP datagram to
 * `port`, 0 if nothing for us came, -NS_* on failure. */
int net_poll_udp(struct net_dev *nd, struct net_rx *rx, uint16_t port, uint32_t ms);

/* DHCP DISCOVER -> OFFER -> REQUEST -> ACK; fills ip, mask, router, dns,
 * dhcp_server. Returns 0 or NS_DHCP. */
int net_dhcp(struct net_dev *nd, uint32_t ms);

/* ---- command line helpers ---- */
/* `key=a.b.c.d`: 1 and *ip set, 0 if absent, -1 if malformed. */
int net_cmdline_ip(const char *cmdline, const char *key, uint32_t *ip);
/* `key=xx:xx:xx:xx:xx:xx`: 1, 0 or -1 like net_cmdline_ip. */
int net_cmdline_mac(const char *cmdline, const char *key, uint8_t mac[6]);

/*
 * The configuration both net guests start with: net_open(), then a static
 * address (`ip=`, `peer=`: no DHCP, the peer is the "router") or DHCP,
 * then ARP for the router/peer if there is one. Prints what it got.
 * Returns 0 or NS_*.
 */
int net_configure(struct net_dev *nd, unsigned int index, const char *cmdline);

/* net_bench.c: mode=bench, and mode=sink (its receiving end in another guest) */
int net_mode_bench(struct net_dev *nd, const char *cmdline);
int net_mode_sink(struct net_dev *nd, const char *cmdline);

#endif /* GUEST_NET_H */
