/* SPDX-License-Identifier: MIT */
#include "vmm/cli.h"

#include "vmm/cli_priv.h"
#include "vmm/exec.h"

#include "base/err.h"
#include "base/opts.h"
#include "devices/disk/format.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help_text[] =
	"usage: vmm --kernel FILE [options]\n"
	"\n"
	"Boot a Linux kernel (bzImage or ELF vmlinux) in a KVM virtual machine.\n"
	"\n"
	"  -k, --kernel FILE        kernel: bzImage or ELF vmlinux (required)\n"
	"  -i, --initrd FILE        initial ramdisk\n"
	"  -c, --cmdline STRING     kernel command line (default: \"console=ttyS0\")\n"
	"  -m, --mem SIZE           guest RAM, e.g. 512M, 2G (default 512M; 16M..1T)\n"
	"  -p, --cpus N             virtual CPUs (default 1; 1..254)\n"
	"      --hugepages          back guest RAM with hugetlbfs pages\n"
	"  -t, --timeout SECONDS    stop the VM after SECONDS (exit status 5), printing where\n"
	"                           each vCPU was (as SIGUSR2 does while the VM runs)\n"
	"      --console-log FILE   also write the serial console output to FILE\n"
	"      --reboot             a guest reboot restarts the VM (default: vmm exits, status 3)\n"
	"      --trace-exits        print VM-exit counts by reason and port/address at exit\n"
	"  -d, --disk PATH[,OPT...] a virtio-blk disk image; repeat for more (first is\n"
	"                           /dev/vda). OPT: readonly, format=FMT (qemu-img's names:\n"
	"                           raw, qcow2, ...; probed when absent), serial=S,\n"
	"                           cache=none (O_DIRECT) | writeback, aio=native|threads|sync\n"
	"      --net user[,OPT...]  a virtio-net NIC on user-mode NAT (no privileges): guest\n"
	"                           network 10.0.2.0/24, gateway 10.0.2.2, DNS 10.0.2.3, DHCP\n"
	"                           from 10.0.2.15. OPT: mac=M, net=A/N, host=A, dns=A,\n"
	"                           dhcpstart=A, restrict=on (no way out of the guest network),\n"
	"                           hostfwd=[tcp|udp]:[HOSTADDR]:PORT-[GUESTADDR]:PORT (host\n"
	"                           address defaults to 127.0.0.1; repeatable)\n"
	"      --net tap[,OPT...]   a virtio-net NIC on a host tap device. OPT: ifname=NAME,\n"
	"                           bridge=BR (attach; needs CAP_NET_ADMIN), mac=M,\n"
	"                           vnet_hdr=off (no offloads)\n"
	"      --net vde[,OPT...]   a virtio-net NIC on a VDE switch (no privileges). OPT:\n"
	"                           sock=DIR of a `vde_switch -s DIR`, or a vdeplug URL\n"
	"                           (vde://, switch://, vxvde://, slirp://...), mac=M, port=N,\n"
	"                           group=G, mode=OCTAL. Repeat --net for more NICs\n"
	"      --net stream,OPT...  frames over a unix or TCP stream, QEMU's -netdev stream:\n"
	"                           server=on|off, addr.path=P | addr.host=A,addr.port=N,\n"
	"                           reconnect=SECONDS, mac=M\n"
	"      --net dgram,OPT...   a frame per datagram, QEMU's -netdev dgram: local.path= |\n"
	"                           local.host=,local.port=; remote.* likewise; a multicast\n"
	"                           remote.host= is a hub (--net socket,listen=|connect=|\n"
	"                           mcast=|udp= as QEMU's -netdev socket)\n"
	"      --share DIR[,OPT...] DIR for the guest over virtio-9p (9P2000.L); in the guest:\n"
	"                           mount -t 9p -o trans=virtio TAG /mnt. OPT: tag=T (default\n"
	"                           share0, share1, ...), readonly. Repeat for more\n"
	"      --virtio-cmdline     announce virtio devices with virtio_mmio.device= on the\n"
	"                           kernel command line instead of in the ACPI DSDT\n"
	"      --jail               run in new mount/PID/IPC/UTS (and, without a NIC, network)\n"
	"                           namespaces, in an empty root holding only vmm's files\n"
	"      --jail-user UID:GID  with --jail: drop to this user once the jail is set up\n"
	"      --cpu-limit CPUS     cap the VM at CPUS CPUs' worth of time (e.g. 0.5, 2)\n"
	"      --mem-limit SIZE     cap the whole vmm process, guest RAM included (exit 7 when\n"
	"                           the cgroup's OOM killer ends it)\n"
	"      --io-limit bps=SIZE,iops=N  per disk and direction (its block device)\n"
	"      --cgroup-parent PATH create the VM's cgroup below PATH (default: vmm's own)\n"
	"      --cgroup-version 1|2|auto  cgroup hierarchy for the limits (default auto)\n"
	"      --cpu-affinity LIST  pin vCPUs: 0=2,1=3 (vCPU=host CPU) or 2-3 (all vCPUs)\n"
	"      --exec CMD           run CMD (through /bin/sh -c) in the guest on a read-only\n"
	"                           9p root, our own init and a tmpfs for writes; vmm exits\n"
	"                           with CMD's status. The kernel needs 9p and ioperm\n"
	"      --pvm=auto|on|off    PVM host workarounds (default auto: on if kvm_pvm is loaded)\n"
	"      --api-sock PATH      a QMP control socket (unix): query-status, stop, cont,\n"
	"                           system_powerdown, system_reset, quit... (README)\n"
	"      --sandbox=on|off|log seccomp filters per thread, no capabilities, Landlock\n"
	"                           (default on; log: forbidden calls are only logged)\n"
	"      --landlock-rules path=P,access=r|rw  a file or directory the VM may open\n"
	"                           while it runs (repeatable)\n"
	"      --incoming file:PATH restore a snapshot: the machine comes from the file; only\n"
	"                           --console-log, --timeout, --trace-exits, --pvm, -v, -q\n"
	"                           may be given beside it\n"
	"      --paused             start with the vCPUs stopped until QMP's cont (with\n"
	"                           --incoming: restore, then wait)\n"
	"      --incoming-disk-check=on|off  refuse (default) or accept a disk image that\n"
	"                           changed since the snapshot; --disk PATH beside --incoming\n"
	"                           gives the snapshot's first disk (then the next) a new path\n"
	"  -v, --verbose            more messages (repeat for debug)\n"
	"  -q, --quiet              errors only\n"
	"  -h, --help               this text\n"
	"  -V, --version            version\n"
	"\n"
	"Exit status: 0 guest powered off, 1 vmm error, 2 usage error, 3 guest reset,\n"
	"4 guest panic (pvpanic), 5 timeout, 6 sandbox violation (a forbidden system call),\n"
	"7 killed by the cgroup OOM killer (--mem-limit), N guest wrote N to the debug-exit\n"
	"port 0x501, 128+signal when stopped by SIGINT/SIGTERM (Ctrl-A x: 130); QMP quit: 0.\n"
	"Console: Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A, Ctrl-A h helps.\n";

const char *cli_help_text(void)
{
	return help_text;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	switch (toupper((unsigned char)*end)) {
	case 'K':
		shift = 10;
		end++;
		break;
	case 'M':
		shift = 20;
		end++;
		break;
	case 'G':
		shift = 30;
		end++;
		break;
	case 'T':
		shift = 40;
		end++;
		break;
	default:
		break;
	}
	if (shift && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'B' || (*end == 'b' && shift))
		end++;
	if (*end != '\0')
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int cli_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

enum {
	OPT_HUGEPAGES = 256,
	OPT_CONSOLE_LOG,
	OPT_REBOOT,
	OPT_TRACE_EXITS,
	OPT_PVM,
	OPT_VIRTIO_CMDLINE,
	OPT_NET,
	OPT_SHARE,
	OPT_EXEC,
	OPT_API_SOCK,
	OPT_SANDBOX,
	OPT_LANDLOCK_RULES,
	OPT_INCOMING,
	OPT_INCOMING_DISK_CHECK,
	OPT_PAUSED,
};

static const struct option long_opts[] = {
	{ "kernel", required_argument, NULL, 'k' },
	{ "initrd", required_argument, NULL, 'i' },
	{ "cmdline", required_argument, NULL, 'c' },
	{ "mem", required_argument, NULL, 'm' },
	{ "cpus", required_argument, NULL, 'p' },
	{ "timeout", required_argument, NULL, 't' },
	{ "hugepages", no_argument, NULL, OPT_HUGEPAGES },
	{ "console-log", required_argument, NULL, OPT_CONSOLE_LOG },
	{ "reboot", no_argument, NULL, OPT_REBOOT },
	{ "trace-exits", no_argument, NULL, OPT_TRACE_EXITS },
	{ "pvm", required_argument, NULL, OPT_PVM },
	{ "disk", required_argument, NULL, 'd' },
	{ "virtio-cmdline", no_argument, NULL, OPT_VIRTIO_CMDLINE },
	{ "net", required_argument, NULL, OPT_NET },
	{ "share", required_argument, NULL, OPT_SHARE },
	{ "exec", required_argument, NULL, OPT_EXEC },
	{ "api-sock", required_argument, NULL, OPT_API_SOCK },
	{ "sandbox", required_argument, NULL, OPT_SANDBOX },
	{ "landlock-rules", required_argument, NULL, OPT_LANDLOCK_RULES },
	{ "incoming", required_argument, NULL, OPT_INCOMING },
	{ "incoming-disk-check", required_argument, NULL, OPT_INCOMING_DISK_CHECK },
	{ "paused", no_argument, NULL, OPT_PAUSED },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	CLI_JAIL_LONG_OPTS{ NULL, 0, NULL, 0 },
};

/* The option parsers below fill err and return a negative errno (base/err.h);
 * the flag name is in every message, as the user typed it. */

static int parse_mem(const char *arg, struct vmm_config *cfg, char *err, size_t errlen)
{
	if (cli_parse_size(arg, &cfg->mem_size) < 0)
		return err_set(err, errlen, -EINVAL,
			       "--mem: '%s' is not a size (examples: 512M, 2G)", arg);
	if (cfg->mem_size < CLI_MIN_MEM || cfg->mem_size > CLI_MAX_MEM)
		return err_set(err, errlen, -ERANGE, "--mem: %s is out of range (16M..1T)", arg);
	if (cfg->mem_size & 0xfff)
		return err_set(err, errlen, -EINVAL, "--mem: %s is not a multiple of 4 KiB", arg);
	return 0;
}

static int parse_cpus(const char *arg, struct vmm_config *cfg, char *err, size_t errlen)
{
	unsigned long n;

	if (cli_parse_uint(arg, CLI_MAX_CPUS, &n) < 0 || n == 0)
		return err_set(err, errlen, -EINVAL, "--cpus: '%s' is not a number from 1 to %d",
			       arg, CLI_MAX_CPUS);
	cfg->cpus = (unsigned int)n;
	return 0;
}

/* Seconds, fractions allowed, up to a year. */
static int parse_timeout(const char *arg, struct vmm_config *cfg, char *err, size_t errlen)
{
	char *end;

	errno = 0;
	cfg->timeout_sec = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(cfg->timeout_sec) || cfg->timeout_sec <= 0 ||
	    cfg->timeout_sec > 31536000.0)
		return err_set(err, errlen, -EINVAL,
			       "--timeout: '%s' is not a positive number of seconds", arg);
	return 0;
}

static int parse_pvm(const char *arg, struct vmm_config *cfg, char *err, size_t errlen)
{
	if (!strcmp(arg, "auto"))
		cfg->pvm = CLI_PVM_AUTO;
	else if (!strcmp(arg, "on"))
		cfg->pvm = CLI_PVM_ON;
	else if (!strcmp(arg, "off"))
		cfg->pvm = CLI_PVM_OFF;
	else
		return err_set(err, errlen, -EINVAL, "--pvm: '%s' is not auto, on or off", arg);
	return 0;
}

/* One more --disk / --net, after the per-kind limit. */
static int add_disk(const char *arg, struct vmm_config *cfg, char *err, size_t errlen)
{
	int ret;

	if (cfg->ndisks == CLI_MAX_DISKS)
		return err_set(err, errlen, -E2BIG, "--disk: at most %d disks", CLI_MAX_DISKS);
	ret = cli_parse_disk(arg, &cfg->disks[cfg->ndisks], err, errlen);
	if (ret)
		return ret;
	cfg->ndisks++;
	return 0;
}

static int add_net(const char *arg, struct vmm_config *cfg, char *err, size_t errlen)
{
	int ret;

	if (cfg->nnets == CLI_MAX_NETS)
		return err_set(err, errlen, -E2BIG, "--net: at most %d NICs", CLI_MAX_NETS);
	ret = cli_parse_net(arg, cfg->nnets, &cfg->nets[cfg->nnets], err, errlen);
	if (ret)
		return ret;
	cfg->nnets++;
	return 0;
}

/* One option from getopt_long: the flags are set here, the options with a
 * value go to their parser. */
static int parse_one(int opt, const char *arg, struct vmm_config *cfg, char *err, size_t errlen)
{
	switch (opt) {
	case 'k':
		cfg->kernel = arg;
		return 0;
	case 'i':
		cfg->initrd = arg;
		return 0;
	case 'c':
		cfg->cmdline = arg;
		return 0;
	case 'm':
		return parse_mem(arg, cfg, err, errlen);
	case 'p':
		return parse_cpus(arg, cfg, err, errlen);
	case 't':
		return parse_timeout(arg, cfg, err, errlen);
	case OPT_HUGEPAGES:
		cfg->hugepages = true;
		return 0;
	case OPT_API_SOCK:
		/* a unix socket's path must fit struct sockaddr_un, with room
		 * for the ".PID.tmp" name qmp_server.c binds it under first */
		if (!arg[0] || strlen(arg) > CLI_API_SOCK_MAX)
			return err_set(err, errlen, -EINVAL,
				       "--api-sock '%s': a socket path of 1..%d bytes", arg,
				       CLI_API_SOCK_MAX);
		cfg->api_sock = arg;
		return 0;
	case OPT_CONSOLE_LOG:
		cfg->console_log = arg;
		return 0;
	case OPT_REBOOT:
		cfg->reboot = true;
		return 0;
	case OPT_TRACE_EXITS:
		cfg->trace_exits = true;
		return 0;
	case OPT_PVM:
		return parse_pvm(arg, cfg, err, errlen);
	case 'd':
		return add_disk(arg, cfg, err, errlen);
	case OPT_NET:
		return add_net(arg, cfg, err, errlen);
	case OPT_SHARE:
		if (cfg->nshares == CLI_MAX_SHARES)
			return err_set(err, errlen, -E2BIG, "--share: at most %d shares",
				       CLI_MAX_SHARES);
		if (cli_parse_share(arg, cfg->nshares, &cfg->shares[cfg->nshares], err, errlen))
			return -EINVAL;
		cfg->nshares++;
		return 0;
	case OPT_VIRTIO_CMDLINE:
		cfg->virtio_cmdline = true;
		return 0;
	case OPT_EXEC:
		if (!arg[0])
			return err_set(err, errlen, -EINVAL, "--exec: the command is empty");
		cfg->exec = arg;
		return 0;
	case OPT_SANDBOX:
		return cli_parse_sandbox(arg, cfg, err, errlen);
	case OPT_LANDLOCK_RULES:
		return cli_add_landlock_rule(arg, cfg, err, errlen);
	case OPT_INCOMING:
		cfg->incoming = arg;
		return 0;
	case OPT_PAUSED:
		cfg->paused = true;
		return 0;
	case OPT_INCOMING_DISK_CHECK:
		if (cli_parse_bool(arg, &cfg->incoming_disk_check) < 0)
			return err_set(err, errlen, -EINVAL,
				       "--incoming-disk-check: '%s' is not on or off", arg);
		return 0;
	case 'v':
		cfg->verbosity++;
		return 0;
	case 'q':
		cfg->verbosity = -1;
		return 0;
	default:
		return cli_jail_opt(opt, arg, &cfg->jail, err, errlen);
	}
}

int cli_parse_bool(const char *v, bool *out)
{
	if (!v || !strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_disk_opt(const char *opt, const char *val, struct cli_disk *d, char *err,
			  size_t errlen)
{
	bool b;

	if (!strcmp(opt, "readonly") || !strcmp(opt, "ro")) {
		if (cli_parse_bool(val, &b) < 0)
			goto bad_value;
		d->opts.readonly = b;
	} else if (!strcmp(opt, "format") && val) {
		const struct disk_format *f = disk_format_find(val);

		if (!f)
			goto bad_value;
		d->opts.format = f->name; /* "vhd" names the vpc driver */
	} else if (!strcmp(opt, "serial") && val) {
		/* virtio-blk GET_ID carries at most 20 bytes (5.2.6) */
		if (!*val || strlen(val) > 20)
			return err_set(err, errlen, -EINVAL,
				       "--disk: serial '%s' must be 1 to 20 characters", val);
		free(d->serial);
		d->serial = strdup(val);
		if (!d->serial)
			goto nomem;
	} else if (!strcmp(opt, "cache") && val) {
		if (!strcmp(val, "none"))
			d->opts.direct = true;
		else if (!strcmp(val, "writeback"))
			d->opts.direct = false;
		else
			goto bad_value;
	} else if (!strcmp(opt, "aio") && val) {
		if (!strcmp(val, "native"))
			d->opts.engine = DISK_ENGINE_AIO;
		else if (!strcmp(val, "threads"))
			d->opts.engine = DISK_ENGINE_THREADS;
		else if (!strcmp(val, "sync"))
			d->opts.engine = DISK_ENGINE_SYNC;
		else
			goto bad_value;
	} else {
		return err_set(
			err, errlen, -EINVAL,
			"--disk: unknown option '%s' (readonly, format=, serial=, cache=, aio=)",
			opt);
	}
	return 0;
bad_value:
	return err_set(err, errlen, -EINVAL, "--disk: bad value '%s' for %s", val ? val : "", opt);
nomem:
	return err_set(err, errlen, -ENOMEM, "out of memory");
}

int cli_split_path(const char *arg, const char *flag, const char *what, char **copy, char **rest,
		   char *err, size_t errlen)
{
	*copy = strdup(arg);
	if (!*copy)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	*rest = *copy;
	strsep(rest, ",");
	if (!(*copy)[0]) {
		free(*copy);
		*copy = NULL;
		return err_set(err, errlen, -EINVAL, "%s: no %s in '%s'", flag, what, arg);
	}
	return 0;
}

int cli_parse_disk(const char *arg, struct cli_disk *d, char *err, size_t errlen)
{
	char *copy, *rest, *opt, *val;
	int ret;

	memset(d, 0, sizeof(*d));
	ret = cli_split_path(arg, "--disk", "file name", &copy, &rest, err, errlen);
	if (ret)
		return ret;
	d->path = strdup(copy);
	if (!d->path) {
		ret = err_set(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	while ((opt = opts_next(&rest, &val))) {
		ret = parse_disk_opt(opt, val, d, err, errlen);
		if (ret)
			goto out;
	}
out:
	free(copy);
	if (ret)
		cli_free_disk(d);
	return ret;
}

void cli_free_disk(struct cli_disk *d)
{
	free(d->path);
	free(d->serial);
	memset(d, 0, sizeof(*d));
}

void cli_free(struct vmm_config *cfg)
{
	unsigned int i;

	for (i = 0; i < cfg->ndisks; i++)
		cli_free_disk(&cfg->disks[i]);
	cfg->ndisks = 0;
	for (i = 0; i < cfg->nshares; i++)
		cli_free_share(&cfg->shares[i]);
	cfg->nshares = 0;
	for (i = 0; i < cfg->nlandlock; i++)
		free(cfg->landlock[i].path);
	cfg->nlandlock = 0;
}

/* Beside --incoming, only what changes the host side, not the machine the
 * snapshot describes: where the console goes, how long to run, messages. */
static bool incoming_allows(int opt)
{
	switch (opt) {
	case 't':
	case OPT_CONSOLE_LOG:
	case OPT_TRACE_EXITS:
	case OPT_PVM:
	case OPT_INCOMING:
	case OPT_INCOMING_DISK_CHECK:
	case OPT_PAUSED:
	case OPT_API_SOCK:
	case OPT_SANDBOX:
	case OPT_LANDLOCK_RULES:
	case 'd': /* a new path for a disk that moved (snapshot_config) */
	case 'v':
	case 'q':
		return true;
	default:
		return false;
	}
}

/* What no single option can check: the options taken together. */
static int check_config(const struct vmm_config *cfg, const char *machine_opt, char *err,
			size_t errlen)
{
	if (cfg->incoming && machine_opt)
		return err_set(
			err, errlen, -EINVAL,
			"%s cannot be given with --incoming: the snapshot holds the "
			"machine's configuration (allowed: --console-log, --timeout, "
			"--trace-exits, --pvm, --incoming-disk-check, --disk PATH, --paused, "
			"--api-sock, --sandbox, --landlock-rules, -v, -q)",
			machine_opt);
	if (cfg->incoming)
		return 0;
	if (!cfg->kernel)
		return err_set(err, errlen, -EINVAL,
			       "no kernel given: use --kernel FILE (see vmm --help)");
	if (cfg->ndisks + cfg->nnets + cfg->nshares > CLI_MAX_VIRTIO)
		return err_set(err, errlen, -E2BIG,
			       "at most %d virtio devices (--disk, --net and --share together)",
			       CLI_MAX_VIRTIO);
	if (cli_check_shares(cfg, err, errlen))
		return -EINVAL;
	/* --exec's own initramfs carries its init. */
	if (cfg->exec && cfg->initrd)
		return err_set(err, errlen, -EINVAL,
			       "--exec brings its own initramfs: --initrd cannot be used with it");
	if (cfg->hugepages && (cfg->mem_size & ((2ULL << 20) - 1)))
		return err_set(err, errlen, -EINVAL,
			       "--hugepages needs --mem to be a multiple of 2M");
	return cli_jail_check(cfg, err, errlen);
}

enum cli_result cli_parse(int argc, char **argv, struct vmm_config *cfg, char *err, size_t errlen)
{
	const char *machine_opt = NULL;
	int opt;

	memset(cfg, 0, sizeof(*cfg));
	cfg->argc = argc;
	cfg->argv = argv;
	cfg->mem_size = CLI_DEFAULT_MEM;
	cfg->cpus = 1;
	cfg->cmdline = "console=ttyS0";
	cfg->incoming_disk_check = true;
	err[0] = '\0';

	optind = 0; /* reset getopt (GNU: 0 also reinitialises), so tests can call us again */
	opterr = 0; /* we print our own one-line errors */
	while ((opt = getopt_long(argc, argv, ":k:i:c:m:p:t:d:vqhV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			fputs(help_text, stdout);
			return CLI_EXIT_OK;
		case 'V':
			printf("vmm %s\n", VMM_VERSION);
			return CLI_EXIT_OK;
		case ':':
			err_set(err, errlen, -EINVAL, "option '%s' needs a value",
				argv[optind - 1]);
			return CLI_ERROR;
		case '?':
			err_set(err, errlen, -EINVAL, "unknown option '%s' (see vmm --help)",
				argv[optind - 1]);
			return CLI_ERROR;
		default:
			/* the option as typed: "--mem 1G" names argv[optind - 2] */
			if (!incoming_allows(opt) && !machine_opt)
				machine_opt = optarg && optarg == argv[optind - 1] && optind >= 2
						      ? argv[optind - 2]
						      : argv[optind - 1];
			if (parse_one(opt, optarg, cfg, err, errlen) < 0) {
				if (!err[0])
					err_set(err, errlen, -EINVAL,
						"bad option (see vmm --help)");
				return CLI_ERROR;
			}
		}
	}
	if (optind < argc) {
		err_set(err, errlen, -EINVAL, "unexpected argument '%s' (see vmm --help)",
			argv[optind]);
		return CLI_ERROR;
	}
	if (cfg->paused && !cfg->api_sock) {
		err_set(err, errlen, -EINVAL,
			"--paused needs --api-sock: QMP's cont is what starts the vCPUs");
		return CLI_ERROR;
	}
	/* --exec boots on a read-only 9p root: the host's / unless --share
	 * names one (read-only at the device: CMD runs as the guest's root) */
	if (cfg->exec && !cfg->nshares) {
		if (cli_parse_share("/,tag=" EXEC_ROOT_TAG ",readonly", 0, &cfg->shares[0], err,
				    errlen))
			return CLI_ERROR;
		cfg->nshares = 1;
	}
	return check_config(cfg, machine_opt, err, errlen) ? CLI_ERROR : CLI_RUN;
}
