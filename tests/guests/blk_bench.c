// SPDX-License-Identifier: MIT
/*
 * blk mode=bench: 4 KiB random reads over the whole disk with the guest's
 * polled driver, `n1=` of them at queue depth 1, then `n32=` with 32 chains
 * in flight. The host (bench/guest_blk_iops.py) timestamps the "BENCH qd=N
 * start" and "BENCH qd=N done" lines; the guest's own TSC count follows.
 * Every block read is checked: the bench image holds each 4 KiB block's
 * number in its first 8 bytes. Used-buffer notifications are switched off:
 * the guest polls, so an interrupt would only cost the device.
 */
#include "blk.h"

static uint8_t bench_buf[QD_MAX][4096] __attribute__((aligned(4096)));

/* xorshift64 (Marsaglia): cheap, and the same sequence every run */
static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void bench_submit(struct blk_disk *d, unsigned int i, uint64_t *seed, uint64_t nblocks)
{
	struct blk_slot *s = &slots[i];

	s->block = rnd(seed) % nblocks;
	s->hdr.sector = s->block * 8;
	s->status = STATUS_NONE;
	/* qd * 3 <= the ring size, so this always finds room */
	d->slot_of[vq_add(&d->q, s->bufs, 1, 2, NULL) & (VQ_MAX_SIZE - 1)] = (uint8_t)i;
}

/* Every 4 KiB block of the bench image starts with its block number (le64). */
static int bench_done(struct blk_slot *s, uint32_t *errors)
{
	if (s->status != BLK_S_OK || *(const uint64_t *)bench_buf[s - slots] != s->block) {
		if ((*errors)++ < 3)
			printf("blk: bench block %lu: status %u, starts %lu\n", s->block, s->status,
			       *(const uint64_t *)bench_buf[s - slots]);
		return 1;
	}
	return 0;
}

static int bench_run(struct blk_disk *d, unsigned int qd, uint32_t n, uint64_t *seed)
{
	uint64_t nblocks = d->capacity / 8, t0, t1, t, idle = 0, kick = 0;
	uint32_t submitted = 0, completed = 0, errors = 0, len;
	uint64_t spin = 0;
	unsigned int i;
	uint16_t head;

	for (i = 0; i < qd; i++) {
		slots[i].hdr = (struct blk_hdr){ .type = BLK_T_IN };
		slots[i].bufs[0] = (struct vio_buf){ pa(&slots[i].hdr), sizeof(slots[i].hdr) };
		slots[i].bufs[1] = (struct vio_buf){ pa(bench_buf[i]), 4096 };
		slots[i].bufs[2] = (struct vio_buf){ pa(&slots[i].status), 1 };
	}
	/* the host timestamps these lines as they arrive */
	printf("BENCH qd=%u start\n", qd);
	t0 = rdtsc();
	for (i = 0; i < qd && submitted < n; i++, submitted++)
		bench_submit(d, i, seed, nblocks);
	vq_kick(&d->q);
	while (completed < n) {
		int got = 0;

		t = rdtsc();
		while (vq_get_used(&d->q, &head, &len)) {
			if (head >= VQ_MAX_SIZE || (i = d->slot_of[head]) >= qd)
				return BS_USED;
			bench_done(&slots[i], &errors);
			completed++;
			got = 1;
			if (submitted < n) {
				bench_submit(d, i, seed, nblocks);
				submitted++;
			}
		}
		if (got) {
			t = rdtsc();
			vq_kick(&d->q);
			kick += rdtsc() - t;
			spin = 0;
			continue;
		}
		idle += rdtsc() - t;
		if (++spin > 100000000ULL) {
			printf("blk: bench: no completion (%u of %u)\n", completed, n);
			return BS_NO_COMPLETION;
		}
	}
	t1 = rdtsc();
	printf("BENCH qd=%u done\n", qd);
	/* Where the guest's time went, in TSC ticks: idle = polling an empty
	 * used ring (waiting for the device), kick = inside vq_kick (mostly
	 * the QueueNotify MMIO exit); the rest is the driver's own code. */
	printf("BENCH qd=%u n=%u errors=%u tsc=%lu idle=%lu kick=%lu\n", qd, n, errors, t1 - t0,
	       idle, kick);
	return errors ? BS_DATA : 0;
}

int blk_mode_bench(const char *cmdline)
{
	struct blk_disk *d = &disks[0];
	uint64_t n1 = 2000, n32 = 10000, seed = 0x9e3779b97f4a7c15ULL;
	int ret;

	cmdline_get_uint(cmdline, "n1", &n1);
	cmdline_get_uint(cmdline, "n32", &n32);
	if (n1 > 0xffffffffULL || n32 > 0xffffffffULL)
		return BS_USAGE;
	if ((ret = blk_open_checked(d, 0, cmdline, "sectors", 0)))
		return ret;
	vq_disable_interrupts(&d->q);
	if ((n1 && (ret = bench_run(d, 1, (uint32_t)n1, &seed))) ||
	    (n32 && (ret = bench_run(d, QD_MAX, (uint32_t)n32, &seed))))
		return ret;
	vio_ack_interrupt(&d->vio);
	printf("blk: mode=bench passed\n");
	return 0;
}
