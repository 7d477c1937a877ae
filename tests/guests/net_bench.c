// SPDX-License-Identifier: MIT
/*
 * net mode=bench: what the guest's polled driver gets through the vmm's
 * virtio-net device and backend. The host side (bench/guest_net.py) runs a
 * UDP server on port=P: it echoes datagrams whose first byte is 'R' and
 * counts and timestamps the others. Phases, each between "BENCH <phase>
 * start" and "BENCH <phase> done" console markers:
 *
 *   rtt    rtt=N UDP ping-pongs of 32 bytes, one at a time
 *   tx     n=N datagrams of size=S payload bytes (default 1472: 1514-byte
 *          frames), sent as fast as the tx ring allows
 *   small  small=N datagrams in 60-byte frames (64 with the FCS)
 *
 * The peer is the DHCP router (user networking) or peer= (tap, or another
 * guest, with ip=).
 *
 * mode=sink ip=A port=P [n=N idle=ms]: the receiving end when the peer is
 * another guest (VM-to-VM rates, bench/vde_pair.py): a static address that
 * answers ARP and ping, counts the 'T' and 'S' datagrams arriving on port P
 * and prints "SINK got=G first..last tsc=T" once n have arrived or none has
 * for idle= ms after the first.
 * The host computes rates from its own arrival times; the guest prints its
 * TSC count per phase. tx frames go out without a UDP checksum (legal for
 * IPv4): computing one would cost the interpreted guest more than the VMM.
 */
#include "lib/net.h"

#define BENCH_SPORT 41000
#define HDRS	    (ETH_HLEN + IP_HLEN + UDP_HLEN)

static uint8_t tmpl[HDRS];
static uint8_t rtt_buf[32];

/* n datagrams of `size` payload bytes tagged `tag` + sequence number */
static int blast(struct net_dev *nd, uint16_t port, const char *name, char tag, uint32_t size,
		 uint32_t n)
{
	uint64_t t0, t1;
	uint32_t i;
	uint8_t *f;

	/* the headers are the same for every frame: build them once */
	net_udp_build(nd, tmpl, nd->arp_mac, nd->ip, nd->router, BENCH_SPORT, port, size, false);
	printf("BENCH %s start\n", name);
	t0 = rdtsc();
	for (i = 0; i < n; i++) {
		if (!(f = net_tx_frame(nd)))
			return NS_TX;
		memcpy(f, tmpl, HDRS);
		f[HDRS] = (uint8_t)tag;
		*(uint32_t *)(f + HDRS + 1) = i;
		/* kick every 8 frames: fewer notifications (EVENT_IDX suppresses
		 * most anyway) while the device drains the ring */
		if (net_tx(nd, HDRS + size, (i & 7) == 7))
			return NS_TX;
	}
	vq_kick(&nd->txq);
	/* done when the device has given every buffer back */
	while (nd->txq.num_free != nd->txq.size) {
		net_tx_reclaim(nd);
		if (rdtsc() - t0 > 600ULL * 5000000000ULL)
			return NS_TX;
	}
	t1 = rdtsc();
	printf("BENCH %s done\n", name);
	printf("BENCH %s n=%u size=%u frame=%u tsc=%lu\n", name, n, size, HDRS + size, t1 - t0);
	return 0;
}

static int ping_pong(struct net_dev *nd, uint16_t port, uint32_t n)
{
	uint64_t t0, t1, t, min = ~0ULL;
	uint32_t i, lost = 0;
	struct net_rx rx;
	int r;

	printf("BENCH rtt start\n");
	t0 = rdtsc();
	for (i = 0; i < n; i++) {
		rtt_buf[0] = 'R';
		*(uint32_t *)(rtt_buf + 1) = i;
		t = rdtsc();
		if ((r = net_udp_send(nd, nd->router, BENCH_SPORT, port, rtt_buf, sizeof(rtt_buf))))
			return r;
		for (;;) {
			if ((r = net_poll(nd, &rx, 1000)) < 0)
				return -r;
			if (!r) {
				printf("net0: bench: echo %u lost (rx avail %u used %u/%u event "
				       "%u, "
				       "tx avail %u used %u/%u event %u)\n",
				       i, nd->rxq.avail_idx, nd->rxq.mem->used.idx,
				       nd->rxq.last_used,
				       *(volatile uint16_t *)phys(
					       (uintptr_t)&nd->rxq.mem->used.ring[nd->rxq.size]),
				       nd->txq.avail_idx, nd->txq.mem->used.idx, nd->txq.last_used,
				       *(volatile uint16_t *)phys(
					       (uintptr_t)&nd->txq.mem->used.ring[nd->txq.size]));
				if (++lost > n / 10 + 3) {
					printf("net0: bench: %u echoes lost\n", lost);
					return NS_UDP;
				}
				break;
			}
			if (rx.proto == IPPROTO_UDP && rx.dport == BENCH_SPORT &&
			    rx.data_len == sizeof(rtt_buf) && rx.data[0] == 'R' &&
			    *(const uint32_t *)(rx.data + 1) == i) {
				if (rdtsc() - t < min)
					min = rdtsc() - t;
				break;
			}
		}
	}
	t1 = rdtsc();
	printf("BENCH rtt done\n");
	printf("BENCH rtt n=%u lost=%u tsc=%lu min=%lu\n", n, lost, t1 - t0, min);
	return 0;
}

int net_mode_bench(struct net_dev *nd, const char *cmdline)
{
	uint64_t port = 0, n = 20000, size = 1472, rtt = 2000, small = 20000;
	int r;

	cmdline_get_uint(cmdline, "n", &n);
	cmdline_get_uint(cmdline, "size", &size);
	cmdline_get_uint(cmdline, "rtt", &rtt);
	cmdline_get_uint(cmdline, "small", &small);
	if (!cmdline_get_uint(cmdline, "port", &port) || !port || port > 65535 || size < 5 ||
	    size > NET_MTU - IP_HLEN - UDP_HLEN || n > 10000000 || rtt > 10000000 ||
	    small > 10000000) {
		printf("net: bench: bad port=, size=, n=, rtt= or small=\n");
		return NS_USAGE;
	}
	if ((r = net_configure(nd, 0, cmdline)))
		return r;
	if ((rtt && (r = ping_pong(nd, (uint16_t)port, (uint32_t)rtt))) ||
	    (n && (r = blast(nd, (uint16_t)port, "tx", 'T', (uint32_t)size, (uint32_t)n))) ||
	    (small && (r = blast(nd, (uint16_t)port, "small", 'S', 18, (uint32_t)small))))
		return r;
	printf("net0: rx %u frames (%u dropped, %u bad), tx %u\n", nd->cnt.rx, nd->cnt.dropped,
	       nd->cnt.bad, nd->cnt.tx);
	printf("net: mode=bench passed\n");
	return 0;
}

/* The receiving end of blast() in another guest (see the top of the file). */
int net_mode_sink(struct net_dev *nd, const char *cmdline)
{
	uint64_t port = 0, n = 20000, idle = 3000, first = 0, last = 0, t;
	uint32_t got = 0;
	struct net_rx rx;
	int r;

	cmdline_get_uint(cmdline, "n", &n);
	cmdline_get_uint(cmdline, "idle", &idle);
	if (!cmdline_get_uint(cmdline, "port", &port) || !port || port > 65535 || !n ||
	    n > 10000000 || !idle || idle > 600000)
		return NS_USAGE;
	if ((r = net_open(nd, 0, true)))
		return r;
	if (net_cmdline_ip(cmdline, "ip", &nd->ip) != 1)
		return NS_USAGE;
	nd->mask = IP4(255, 255, 255, 0);
	printf("net0: static ip " IP_FMT ", sink on port %lu\n", IP_ARGS(nd->ip), port);
	printf("net0: waiting for datagrams on port %lu\n", port);
	t = rdtsc();
	while (got < n) {
		/* before the first frame, wait as long as the sender needs to
		 * boot; after it, stop once the flow has been idle for idle= */
		if (rdtsc() - (got ? last : t) > (got ? idle : 120000) * 5000000ULL)
			break;
		if ((r = net_poll_udp(nd, &rx, (uint16_t)port, 10)) < 0)
			return -r;
		if (!r || !rx.data_len || (rx.data[0] != 'T' && rx.data[0] != 'S'))
			continue;
		last = rdtsc();
		if (!got++)
			first = last;
	}
	printf("SINK got=%u tsc=%lu\n", got, last - first);
	printf("net0: rx %u frames (%u dropped, %u bad), tx %u\n", nd->cnt.rx, nd->cnt.dropped,
	       nd->cnt.bad, nd->cnt.tx);
	printf("net: mode=sink passed\n");
	return got ? 0 : NS_FWD;
}
