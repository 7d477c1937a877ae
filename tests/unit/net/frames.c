/* SPDX-License-Identifier: MIT */
/* Hand-built Ethernet frames for the net tests and the bench: see frames.h. */
#include "tests/unit/net/frames.h"

#include <string.h>

const uint8_t fr_bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

uint32_t fr_sum16(const void *p, size_t len, uint32_t sum)
{
	const uint8_t *b = p;

	for (; len > 1; len -= 2, b += 2)
		sum += (uint32_t)(b[0] << 8 | b[1]);
	if (len)
		sum += (uint32_t)(b[0] << 8);
	return sum;
}

uint16_t fr_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t fr_csum(const void *p, size_t len)
{
	return fr_fold(fr_sum16(p, len, 0));
}

uint32_t fr_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
	/* the addresses are in network order: summed as the bytes they are */
	uint32_t s = fr_sum16(&src, 4, 0);

	s = fr_sum16(&dst, 4, s);
	return s + proto + (uint32_t)len;
}

void fr_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void fr_put32(uint8_t *p, uint32_t v)
{
	fr_put16(p, (uint16_t)(v >> 16));
	fr_put16(p + 2, (uint16_t)v);
}

uint16_t fr_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t fr_get32(const uint8_t *p)
{
	return (uint32_t)fr_get16(p) << 16 | fr_get16(p + 2);
}

size_t fr_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	fr_put16(f + 12, type);
	return FR_ETH_LEN;
}

size_t fr_ipv4(uint8_t *ip, uint8_t proto, uint16_t id, uint32_t src, uint32_t dst, size_t plen)
{
	memset(ip, 0, 20);
	ip[0] = 0x45; /* version 4, 5 words */
	fr_put16(ip + 2, (uint16_t)(20 + plen));
	fr_put16(ip + 4, id);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	fr_put16(ip + 10, fr_csum(ip, 20));
	return 20;
}

size_t fr_arp(uint8_t *f, uint16_t op, const uint8_t *sha, uint32_t spa, const uint8_t *tha,
	      uint32_t tpa)
{
	static const uint8_t unknown[6] = { 0 };
	uint8_t *a = f + fr_eth(f, op == 1 ? fr_bcast_mac : tha, sha, 0x0806);

	fr_put16(a, 1); /* ARPHRD_ETHER */
	fr_put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	fr_put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	memcpy(a + 14, &spa, 4);
	memcpy(a + 18, op == 1 ? unknown : tha, 6);
	memcpy(a + 24, &tpa, 4);
	return FR_ARP_LEN;
}

/* Ethernet and IPv4 headers in front of the plen payload bytes the caller
 * already put at f + FR_L4. */
static size_t ip_frame(uint8_t *f, const struct fr_ends *e, uint8_t proto, size_t plen)
{
	size_t n = fr_eth(f, e->dst_mac, e->src_mac, 0x0800);

	n += fr_ipv4(f + n, proto, e->ip_id, e->src_ip, e->dst_ip, plen);
	return n + plen;
}

size_t fr_udp_frame(uint8_t *f, const struct fr_ends *e, uint16_t sport, uint16_t dport,
		    const void *data, size_t len)
{
	uint8_t *u = f + FR_L4;

	fr_put16(u, sport);
	fr_put16(u + 2, dport);
	fr_put16(u + 4, (uint16_t)(8 + len));
	fr_put16(u + 6, 0);
	memcpy(u + 8, data, len);
	/* slirp's udp_input checks a non-zero checksum: make it right */
	fr_put16(u + 6,
		 fr_fold(fr_sum16(u, 8 + len, fr_pseudo_sum(e->src_ip, e->dst_ip, 17, 8 + len))));
	return ip_frame(f, e, 17, 8 + len);
}

size_t fr_tcp_frame(uint8_t *f, const struct fr_ends *e, uint16_t sport, uint16_t dport,
		    uint32_t seq, uint32_t ack, uint8_t flags, const void *data, size_t len)
{
	uint8_t *t = f + FR_L4;

	memset(t, 0, 20);
	fr_put16(t, sport);
	fr_put16(t + 2, dport);
	fr_put32(t + 4, seq);
	fr_put32(t + 8, ack);
	t[12] = 5 << 4; /* data offset: 5 words */
	t[13] = flags;
	fr_put16(t + 14, 65535);
	memcpy(t + 20, data, len);
	fr_put16(t + 16,
		 fr_fold(fr_sum16(t, 20 + len, fr_pseudo_sum(e->src_ip, e->dst_ip, 6, 20 + len))));
	return ip_frame(f, e, 6, 20 + len);
}

size_t fr_icmp_echo(uint8_t *p, uint8_t type, uint16_t id, uint16_t seq, const void *data,
		    size_t len)
{
	p[0] = type;
	p[1] = 0;
	fr_put16(p + 2, 0);
	fr_put16(p + 4, id);
	fr_put16(p + 6, seq);
	memcpy(p + 8, data, len);
	fr_put16(p + 2, fr_csum(p, 8 + len));
	return 8 + len;
}

size_t fr_icmp_echo_frame(uint8_t *f, const struct fr_ends *e, uint8_t type, uint16_t id,
			  uint16_t seq, const void *data, size_t len)
{
	return ip_frame(f, e, 1, fr_icmp_echo(f + FR_L4, type, id, seq, data, len));
}

size_t fr_dhcp_discover(uint8_t *b, const uint8_t *mac, uint32_t xid)
{
	/* magic cookie, then option 53 (message type) = 1 DISCOVER, end */
	static const uint8_t opts[] = { 99, 130, 83, 99, 53, 1, 1, 255 };

	memset(b, 0, FR_BOOTP_LEN);
	b[0] = 1; /* BOOTREQUEST */
	b[1] = 1; /* htype Ethernet */
	b[2] = 6; /* hlen */
	fr_put32(b + 4, xid);
	memcpy(b + 28, mac, 6); /* chaddr */
	memcpy(b + 236, opts, sizeof(opts));
	return FR_BOOTP_LEN;
}

bool fr_is_ipv4(const uint8_t *f, size_t len, uint8_t proto)
{
	return len >= FR_L4 && fr_get16(f + 12) == 0x0800 && (f[14] >> 4) == 4 && f[23] == proto &&
	       len >= FR_ETH_LEN + (size_t)fr_get16(f + 16);
}

uint32_t fr_ip_src(const uint8_t *f)
{
	uint32_t v;

	memcpy(&v, f + 26, 4);
	return v;
}

uint32_t fr_ip_dst(const uint8_t *f)
{
	uint32_t v;

	memcpy(&v, f + 30, 4);
	return v;
}

const uint8_t *fr_l4(const uint8_t *f)
{
	return f + FR_ETH_LEN + (f[14] & 15) * 4;
}

const uint8_t *fr_dhcp_opt(const uint8_t *opts, const uint8_t *end, uint8_t code)
{
	while (opts + 2 <= end && *opts != 255) {
		if (*opts == 0) {
			opts++;
			continue;
		}
		if (opts[0] == code && opts + 2 + opts[1] <= end)
			return opts;
		opts += 2 + opts[1];
	}
	return NULL;
}
