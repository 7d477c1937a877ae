/* SPDX-License-Identifier: MIT */
/*
 * Command-line parsing. cli_parse() only parses and validates; it touches
 * no files and no devices, so every error case is unit-testable.
 */
#ifndef VMM_CLI_H
#define VMM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/disk/disk.h"
#include "devices/net/net_config.h"
#include "devices/net/vde.h"
#include "devices/net/sock_config.h"
#include "vmm/jail_config.h"

#define CLI_MIN_MEM	 (16ULL << 20)
#define CLI_MAX_MEM	 (1ULL << 40) /* 1 TiB */
#define CLI_MAX_CPUS	 254	      /* xAPIC ids 0..253, the IOAPIC takes the next */
#define CLI_DEFAULT_MEM	 (512ULL << 20)
/* sockaddr_un's 108 bytes, less a NUL and a ".PID.tmp" suffix */
#define CLI_API_SOCK_MAX 91

enum cli_pvm_mode { CLI_PVM_AUTO, CLI_PVM_ON, CLI_PVM_OFF };

/* --sandbox (vmm/sandbox.h); on is the default (0). */
enum cli_sandbox_mode { CLI_SANDBOX_ON, CLI_SANDBOX_OFF, CLI_SANDBOX_LOG };

/* --landlock-rules path=P,access=r|rw: a path the VM may open at run time */
#define CLI_MAX_LANDLOCK 16
struct cli_landlock_rule {
	char *path; /* owned (cli_free) */
	bool write;
};

/* Each virtio-mmio device (disk or NIC) takes one GSI of the IOAPIC's
 * 5..23: at most CLI_MAX_VIRTIO of them together. */
#define CLI_MAX_VIRTIO 16
#define CLI_MAX_DISKS  16
#define CLI_MAX_NETS   8

/*
 * --disk PATH[,readonly][,format=raw|qcow2][,serial=S][,cache=none|writeback]
 *        [,aio=native|threads|sync]
 *
 * The options that open the image are the disk layer's own plain value,
 * struct disk_open_opts (readonly, direct = cache=none, engine = aio=,
 * format), filled in here and handed to disk_open() as they are: one
 * definition of the I/O-engine choice, no CLI mirror of it to translate.
 * (The other way round is not possible: devices/ must not include vmm/.)
 */
struct cli_disk {
	char *path;   /* owned (cli_free) */
	char *serial; /* owned, NULL if none; virtio-blk's GET_ID */
	struct disk_open_opts opts;
};

/*
 * --net user[,OPT...] | --net tap[,OPT...] | --net vde[,OPT...] (see cli_net.c
 * and --help)
 * --net stream|dgram|socket[,OPT...] (see cli_net_sock.c)
 *
 * A NIC's backend configuration is embedded as the backend's own config
 * struct (devices/net/net_config.h): a plain value type with no pointers or
 * resources, checked by net_config.c, which both the CLI (to reject bad
 * options up front) and the backend use. Mirroring it here would only add a
 * translation step, as the disks' aio enum once did.
 */
enum cli_net_kind {
	CLI_NET_USER,
	CLI_NET_TAP,
	CLI_NET_VDE,
	CLI_NET_STREAM,
	CLI_NET_DGRAM,
};
struct cli_net {
	enum cli_net_kind kind;
	uint8_t mac[6];
	struct netbe_user_config user;	   /* CLI_NET_USER */
	struct netbe_tap_config tap;	   /* CLI_NET_TAP */
	struct netbe_vde_config vde;	   /* CLI_NET_VDE */
	struct netbe_stream_config stream; /* CLI_NET_STREAM */
	struct netbe_dgram_config dgram;   /* CLI_NET_DGRAM */
};

/*
 * --share DIR[,tag=T][,readonly]: a virtio-9p device serving DIR (9P2000.L).
 * The tag (default share0, share1, ... in order) is what the guest mounts:
 * mount -t 9p -o trans=virtio T /mnt.
 */
#define CLI_MAX_SHARES	  8
#define CLI_MAX_SHARE_TAG 255 /* devices/virtio/9p.h VIRTIO_9P_MAX_TAG */
struct cli_share {
	char *dir; /* owned (cli_free) */
	char *tag; /* owned */
	bool readonly;
};

struct vmm_config {
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	uint64_t mem_size;
	unsigned int cpus;
	bool hugepages;
	double timeout_sec; /* 0: none */
	const char *console_log;
	const char *api_sock; /* --api-sock: the QMP socket's path (NULL: none) */
	bool paused;	      /* --paused: the vCPUs wait for QMP's cont */
	bool reboot;	      /* guest reset restarts the VM instead of exiting */
	bool trace_exits;     /* print VM-exit counts at exit */
	enum cli_pvm_mode pvm;
	int verbosity;			      /* -v / -q */
	struct cli_disk disks[CLI_MAX_DISKS]; /* the first is /dev/vda */
	unsigned int ndisks;
	struct cli_net nets[CLI_MAX_NETS]; /* in the order given: eth0, eth1, ... */
	unsigned int nnets;
	struct cli_share shares[CLI_MAX_SHARES]; /* --share, in order */
	unsigned int nshares;
	/* Announce virtio-mmio devices with virtio_mmio.device= on the kernel
	 * command line instead of in the ACPI DSDT. */
	bool virtio_cmdline;
	struct jail_config jail; /* --jail, the cgroup limits, --cpu-affinity */
	/* --exec CMD: run CMD in the guest on a read-only 9p root (vmm/exec.h) */
	const char *exec;
	enum cli_sandbox_mode sandbox;
	struct cli_landlock_rule landlock[CLI_MAX_LANDLOCK];
	unsigned int nlandlock;
	/* --incoming file:PATH: restore a snapshot (vmm/snapshot.h); the
	 * machine's configuration comes from the file, so beside it only the
	 * host-side options are allowed (cli.c, incoming_allows) */
	const char *incoming;
	/* --incoming-disk-check=on|off (default on): refuse a disk image that
	 * changed since the snapshot */
	bool incoming_disk_check;
	/* the command line that built this machine, stored in snapshots */
	int argc;
	char **argv;
};

enum cli_result {
	CLI_RUN = 0,	 /* configuration valid: run the VM */
	CLI_EXIT_OK = 1, /* --help or --version printed */
	CLI_ERROR = -1,	 /* err holds a one-line message */
};

/* Parse argv into cfg (which it first clears). Free with cli_free(), also
 * after an error. */
enum cli_result cli_parse(int argc, char **argv, struct vmm_config *cfg, char *err, size_t errlen);
void cli_free(struct vmm_config *cfg);

/* One --disk value into d (owned strings: free with cli_free_disk). */
int cli_parse_disk(const char *arg, struct cli_disk *d, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void cli_free_disk(struct cli_disk *d);

/* One --net value into n; `index` (0 for the first NIC) picks the default
 * MAC 52:54:00:12:34:56+index. Owns nothing. */
int cli_parse_net(const char *arg, unsigned int index, struct cli_net *n, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* One --share value into sh (owned strings: cli_free_share); `index` picks
 * the default tag share<index>. Checks that DIR is a readable directory. */
int cli_parse_share(const char *arg, unsigned int index, struct cli_share *sh, char *err,
		    size_t errlen) __attribute__((warn_unused_result));
void cli_free_share(struct cli_share *sh);
/* The shares taken together: no two with one tag. */
int cli_check_shares(const struct vmm_config *cfg, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* "10.0.2.15" into a (network byte order). -EINVAL unless a dotted quad. */
int cli_parse_ipv4(const char *s, struct in_addr *a) __attribute__((warn_unused_result));

/* "512M", "2G", "1048576", "64k": bytes, with binary suffixes K/M/G/T
 * (case-insensitive, optional trailing B/iB). -EINVAL for nonsense,
 * -ERANGE on overflow. */
int cli_parse_size(const char *s, uint64_t *out) __attribute__((warn_unused_result));

/* The --help text. */
const char *cli_help_text(void);

#endif /* VMM_CLI_H */
