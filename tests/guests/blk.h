/* SPDX-License-Identifier: MIT */
/*
 * The blk test guest's shared part (blk.c: the functional modes,
 * blk_bench.c: mode=bench): virtio-blk's request format (virtio 1.2
 * section 5.2), the guest's exit statuses and its request helpers.
 */
#ifndef GUEST_BLK_H
#define GUEST_BLK_H

#include "lib/guest.h"
#include "lib/virtio.h"

enum blk_status {
	BS_NO_DEVICE = 20,	/* no virtio-blk window where one should be */
	BS_FEATURES = 21,	/* a feature that should be offered is not */
	BS_CAPACITY = 22,	/* capacity differs from sectors=N */
	BS_REQ_STATUS = 23,	/* a request completed with the wrong status */
	BS_DATA = 24,		/* data read back differs from what was written */
	BS_NO_COMPLETION = 25,	/* a request never came back */
	BS_ID = 26,		/* GET_ID returned the wrong serial */
	BS_NO_RESET_STATE = 27, /* a malformed chain did not fail the device */
	BS_INTERRUPT = 28,	/* InterruptStatus did not behave */
	BS_USAGE = 29,		/* bad command line */
	BS_USED = 30,		/* a used ring entry with a wrong head or length */
};

/* virtio-blk (5.2) */
#define VIRTIO_ID_BLOCK	     2
#define BLK_F_SIZE_MAX	     1
#define BLK_F_SEG_MAX	     2
#define BLK_F_RO	     5
#define BLK_F_BLK_SIZE	     6
#define BLK_F_FLUSH	     9
#define BLK_F_DISCARD	     13
#define BLK_F_WRITE_ZEROES   14
#define BLK_T_IN	     0
#define BLK_T_OUT	     1
#define BLK_T_FLUSH	     4
#define BLK_T_GET_ID	     8
#define BLK_T_DISCARD	     11
#define BLK_T_WRITE_ZEROES   13
#define BLK_S_OK	     0
#define BLK_S_IOERR	     1
#define BLK_S_UNSUPP	     2
#define BLK_ID_BYTES	     20
#define BLK_WZ_F_UNMAP	     1
/* config offsets (5.2.4) */
#define BLK_CFG_CAPACITY     0
#define BLK_CFG_SIZE_MAX     8
#define BLK_CFG_SEG_MAX	     12
#define BLK_CFG_BLK_SIZE     20
#define BLK_CFG_MAX_DISCARD  36
#define BLK_CFG_MAX_WZ	     48
#define BLK_CFG_WZ_MAY_UNMAP 56

#define SECTOR	       512
#define MAX_SECTORS    32 /* the largest request the checks make: 16 KiB */
#define MAX_DISKS      2
#define QD_MAX	       32
#define REQ_TIMEOUT_MS 10000
#define PATTERN_MAGIC  0x4b4c427600000000ULL
#define STATUS_NONE    0xff /* what we put in the status byte before a request */

struct blk_hdr { /* struct virtio_blk_req, the device-readable header */
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_dwz { /* struct virtio_blk_discard_write_zeroes */
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

struct blk_disk {
	struct vio_dev vio;
	struct vq q;
	uint64_t capacity; /* sectors */
	unsigned int index;
	uint8_t slot_of[VQ_MAX_SIZE]; /* bench: head -> slot */
};

/* One request's driver-owned memory: header, status byte, and an indirect
 * table; all must stay put until the device has used the chain. */
struct blk_slot {
	struct blk_hdr hdr;
	struct blk_dwz dwz;
	uint8_t status;
	uint64_t block; /* bench: which 4 KiB block was asked for */
	struct vring_desc ind[8] __attribute__((aligned(16)));
	struct vio_buf bufs[3];
};

extern struct blk_disk disks[MAX_DISKS];
extern struct blk_slot slots[QD_MAX];

static inline uint64_t pa(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* Open disk `index` (window LAYOUT_VIRTIO_MMIO_START + index * 4 KiB) with
 * every feature the guest knows, the `required` ones offered; check its
 * capacity against `key`=N from the command line if given. */
int blk_open_checked(struct blk_disk *d, unsigned int index, const char *cmdline, const char *key,
		     uint64_t required);

/* mode=bench (blk_bench.c) */
int blk_mode_bench(const char *cmdline);

#endif /* GUEST_BLK_H */
