/* SPDX-License-Identifier: MIT */
/*
 * Hand-built Ethernet frames for the net backend tests and the virtio-net
 * bench: checksums, byte order, and builders and parsers for Ethernet, ARP,
 * IPv4, UDP, TCP, ICMP echo and DHCP. Test scaffolding on the host, libc
 * only, no state.
 *
 * Conventions: multi-byte fields are written big-endian whatever the host;
 * IPv4 addresses are uint32_t in network order, as in struct in_addr's
 * s_addr (FR_IP builds one). A builder writes into a buffer the caller made
 * big enough (FR_L4 + the L4 header + payload) and returns the bytes it
 * wrote. Parsers take frames that start at the Ethernet header.
 *
 *	struct fr_ends e = { fr_bcast_mac, my_mac, FR_IP(10, 0, 2, 15),
 *			     FR_IP(10, 0, 2, 2), 0 };
 *	len = fr_udp_frame(f, &e, 40000, 7, "ping", 4);
 */
#ifndef VMM_TESTS_NET_FRAMES_H
#define VMM_TESTS_NET_FRAMES_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* a.b.c.d in network order */
#define FR_IP(a, b, c, d) htonl(((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))

#define FR_ETH_LEN   14		       /* Ethernet header, no VLAN tag */
#define FR_ARP_LEN   (FR_ETH_LEN + 28) /* a whole Ethernet/IPv4 ARP frame */
#define FR_L4	     (FR_ETH_LEN + 20) /* the L4 header behind an option-less IPv4 one */
#define FR_BOOTP_LEN 548	       /* struct bootp_t: 236 bytes + 312 of options */

extern const uint8_t fr_bcast_mac[6];

/* Who a frame goes between: Ethernet and IPv4 addresses (network order)
 * and the IPv4 identification its IPv4 header carries. */
struct fr_ends {
	const uint8_t *dst_mac, *src_mac;
	uint32_t src_ip, dst_ip;
	uint16_t ip_id;
};

/* ---- checksums and byte order ---- */

/* The Internet checksum's running sum (RFC 1071): `sum` plus the 16-bit
 * big-endian words of p[0..len), an odd last byte padded with zero. */
uint32_t fr_sum16(const void *p, size_t len, uint32_t sum);

/* A running sum folded to 16 bits and complemented: the checksum to store
 * with fr_put16. 0 when the summed data held a correct checksum. */
uint16_t fr_fold(uint32_t sum);

/* fr_fold(fr_sum16(p, len, 0)): the checksum of p[0..len). */
uint16_t fr_csum(const void *p, size_t len);

/* The TCP/UDP pseudo-header's sum (RFC 768): addresses, protocol, length. */
uint32_t fr_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, size_t len);

/* Big-endian stores and loads at any alignment. */
void fr_put16(uint8_t *p, uint16_t v);
void fr_put32(uint8_t *p, uint32_t v);
uint16_t fr_get16(const uint8_t *p);
uint32_t fr_get32(const uint8_t *p);

/* ---- builders ---- */

/* An Ethernet header: destination, source, EtherType. Returns FR_ETH_LEN. */
size_t fr_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type);

/* An option-less IPv4 header at ip (TTL 64, no flags) for a payload of plen
 * bytes, checksum included. Returns 20. */
size_t fr_ipv4(uint8_t *ip, uint8_t proto, uint16_t id, uint32_t src, uint32_t dst, size_t plen);

/* An Ethernet/IPv4 ARP frame from sha/spa. op 1 (request) goes to the
 * broadcast address with a zero target MAC (tha unused, may be NULL); any
 * other op goes to tha. Returns FR_ARP_LEN. */
size_t fr_arp(uint8_t *f, uint16_t op, const uint8_t *sha, uint32_t spa, const uint8_t *tha,
	      uint32_t tpa);

/* An Ethernet/IPv4/UDP frame carrying data[0..len), UDP checksum included.
 * Returns FR_L4 + 8 + len. */
size_t fr_udp_frame(uint8_t *f, const struct fr_ends *e, uint16_t sport, uint16_t dport,
		    const void *data, size_t len);

/* An Ethernet/IPv4/TCP frame: a 20-byte TCP header (no options, window
 * 65535) with seq, ack and flags (0x02 SYN, 0x10 ACK, ...), then data.
 * Returns FR_L4 + 20 + len. */
size_t fr_tcp_frame(uint8_t *f, const struct fr_ends *e, uint16_t sport, uint16_t dport,
		    uint32_t seq, uint32_t ack, uint8_t flags, const void *data, size_t len);

/* An ICMP echo message at p: type (8 request, 0 reply), code 0, id, seq,
 * then data; checksum included. Returns 8 + len. */
size_t fr_icmp_echo(uint8_t *p, uint8_t type, uint16_t id, uint16_t seq, const void *data,
		    size_t len);

/* fr_icmp_echo inside an Ethernet/IPv4 frame. Returns FR_L4 + 8 + len. */
size_t fr_icmp_echo_frame(uint8_t *f, const struct fr_ends *e, uint8_t type, uint16_t id,
			  uint16_t seq, const void *data, size_t len);

/* A BOOTP/DHCP DISCOVER message (the UDP payload, client port 68 to server
 * port 67) from mac with transaction id xid. Returns FR_BOOTP_LEN. */
size_t fr_dhcp_discover(uint8_t *b, const uint8_t *mac, uint32_t xid);

/* ---- parsers ---- */

/* An IPv4 frame of protocol proto whose whole IPv4 packet lies in len. */
bool fr_is_ipv4(const uint8_t *f, size_t len, uint8_t proto);

/* The IPv4 source and destination (network order) of an IPv4 frame. */
uint32_t fr_ip_src(const uint8_t *f);
uint32_t fr_ip_dst(const uint8_t *f);

/* The L4 header of an IPv4 frame, behind the IPv4 header's options. */
const uint8_t *fr_l4(const uint8_t *f);

/* The DHCP option `code` in opts..end (after the magic cookie): a pointer
 * to its code byte, or NULL if it is missing or runs past end. Pad options
 * are skipped; the end option stops the walk. */
const uint8_t *fr_dhcp_opt(const uint8_t *opts, const uint8_t *end, uint8_t code);

#endif
