/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>

#include "vmm/cli.h"

static char err[256];

#define PARSE(cfg, ...)                                                                   \
	({                                                                                \
		char *argv_[] = { "vmm", __VA_ARGS__, NULL };                             \
		cli_parse((int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, (cfg), err, \
			  sizeof(err));                                                   \
	})

static void test_sizes(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(cli_parse_size("512M", &v), 0);
	assert_int_equal(v, 512ULL << 20);
	assert_int_equal(cli_parse_size("2g", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(cli_parse_size("64KiB", &v), 0);
	assert_int_equal(v, 64ULL << 10);
	assert_int_equal(cli_parse_size("1T", &v), 0);
	assert_int_equal(v, 1ULL << 40);
	assert_int_equal(cli_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(cli_parse_size("1GB", &v), 0);
	assert_int_equal(v, 1ULL << 30);
	assert_int_equal(cli_parse_size("", &v), -EINVAL);
	assert_int_equal(cli_parse_size("M", &v), -EINVAL);
	assert_int_equal(cli_parse_size("-1G", &v), -EINVAL);
	assert_int_equal(cli_parse_size("12X", &v), -EINVAL);
	assert_int_equal(cli_parse_size("1.5G", &v), -EINVAL);
	assert_int_equal(cli_parse_size("1G ", &v), -EINVAL);
	assert_int_equal(cli_parse_size("99999999999999999999", &v), -ERANGE);
	assert_int_equal(cli_parse_size("17179869184T", &v), -ERANGE);
}

static void test_disks(void **state)
{
	struct vmm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--disk", "root.qcow2", "-d",
			       "data.raw,readonly,format=raw,serial=abc,cache=none,aio=threads",
			       "--disk", "x,ro=off,aio=native", "--virtio-cmdline"),
			 CLI_RUN);
	assert_int_equal(cfg.ndisks, 3);
	assert_string_equal(cfg.disks[0].path, "root.qcow2");
	assert_null(cfg.disks[0].opts.format);
	assert_null(cfg.disks[0].serial);
	assert_false(cfg.disks[0].opts.readonly);
	assert_false(cfg.disks[0].opts.direct);
	assert_int_equal(cfg.disks[0].opts.engine, DISK_ENGINE_AUTO);
	assert_string_equal(cfg.disks[1].path, "data.raw");
	assert_true(cfg.disks[1].opts.readonly);
	assert_string_equal(cfg.disks[1].opts.format, "raw");
	assert_string_equal(cfg.disks[1].serial, "abc");
	assert_true(cfg.disks[1].opts.direct);
	assert_int_equal(cfg.disks[1].opts.engine, DISK_ENGINE_THREADS);
	assert_false(cfg.disks[2].opts.readonly);
	assert_int_equal(cfg.disks[2].opts.engine, DISK_ENGINE_AIO);
	assert_true(cfg.virtio_cmdline);
	cli_free(&cfg);
	assert_int_equal(cfg.ndisks, 0);
	/* empty items are skipped (base/opts.h), as strtok_r skipped them */
	assert_int_equal(
		PARSE(&cfg, "--kernel", "k", "--disk", "d.img,,ro,", "--share", "/tmp,,tag=t,"),
		CLI_RUN);
	assert_string_equal(cfg.disks[0].path, "d.img");
	assert_true(cfg.disks[0].opts.readonly);
	assert_string_equal(cfg.shares[0].tag, "t");
	cli_free(&cfg);
}

static void test_shares(void **state)
{
	struct vmm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--share", "/tmp", "--share",
			       "/,tag=/dev/root,readonly"),
			 CLI_RUN);
	assert_int_equal(cfg.nshares, 2);
	assert_string_equal(cfg.shares[0].dir, "/tmp");
	assert_string_equal(cfg.shares[0].tag, "share0");
	assert_false(cfg.shares[0].readonly);
	assert_string_equal(cfg.shares[1].tag, "/dev/root");
	assert_true(cfg.shares[1].readonly);
	cli_free(&cfg);
	assert_int_equal(cfg.nshares, 0);
	/* share0 is also the default of the first: a clash with an explicit tag */
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--share", "/tmp", "--share", "/,tag=share0"),
			 CLI_ERROR);
	cli_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--share", "/nonexistent-dir"), CLI_ERROR);
	cli_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--share", "/tmp,tag="), CLI_ERROR);
	cli_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--share", ",tag=t"), CLI_ERROR);
	assert_string_equal(err, "--share: no directory in ',tag=t'");
	cli_free(&cfg);
}

static void test_disk_errors(void **state)
{
	static const char *const bad[][2] = {
		{ "", "no file name" },
		{ ",readonly", "no file name" },
		{ "a,format=bochs", "bad value 'bochs' for format" },
		{ "a,bogus", "unknown option 'bogus'" },
		{ "a,serial=123456789012345678901", "1 to 20 characters" },
		{ "a,serial=", "1 to 20 characters" },
		{ "a,cache=unsafe", "bad value 'unsafe' for cache" },
		{ "a,aio=io_uring", "bad value 'io_uring' for aio" },
		{ "a,readonly=maybe", "bad value 'maybe' for readonly" },
	};
	struct vmm_config cfg;
	unsigned int i;
	char *argv[40];
	int argc = 0;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(PARSE(&cfg, "--kernel", "k", "--disk", (char *)bad[i][0]),
				 CLI_ERROR);
		if (!strstr(err, bad[i][1]))
			fail_msg("'%s': got '%s', want '%s'", bad[i][0], err, bad[i][1]);
		assert_null(strchr(err, '\n'));
		cli_free(&cfg);
	}
	/* one more than CLI_MAX_DISKS */
	argv[argc++] = "vmm";
	argv[argc++] = "--kernel";
	argv[argc++] = "k";
	for (i = 0; i <= CLI_MAX_DISKS; i++) {
		argv[argc++] = "-d";
		argv[argc++] = "img";
	}
	argv[argc] = NULL;
	assert_int_equal(cli_parse(argc, argv, &cfg, err, sizeof(err)), CLI_ERROR);
	assert_non_null(strstr(err, "at most 16 disks"));
	cli_free(&cfg);
}

static const char *ip(struct in_addr a)
{
	static char buf[4][INET_ADDRSTRLEN];
	static unsigned int n;

	return inet_ntop(AF_INET, &a, buf[n++ % 4], INET_ADDRSTRLEN);
}

static void test_nets(void **state)
{
	struct vmm_config cfg;
	const struct netbe_user_config *u;

	(void)state;
	assert_int_equal(
		PARSE(&cfg, "--kernel", "k", "--net", "user", "--net",
		      "user,mac=02:aa:bb:cc:dd:0e,net=192.168.5.0/255.255.255.0,dns=192.168.5.53,"
		      "restrict=on,hostfwd=tcp::2222-:22,hostfwd=udp:0.0.0.0:5353-192.168.5.9:53",
		      "--net", "tap,ifname=tap7,bridge=br0,vnet_hdr=off", "--net", "tap"),
		CLI_RUN);
	assert_int_equal(cfg.nnets, 4);
	/* QEMU's defaults, MAC 52:54:00:12:34:56 + NIC index */
	u = &cfg.nets[0].user;
	assert_int_equal(cfg.nets[0].kind, CLI_NET_USER);
	assert_memory_equal(cfg.nets[0].mac, ((uint8_t[]){ 0x52, 0x54, 0, 0x12, 0x34, 0x56 }), 6);
	assert_string_equal(ip(u->net), "10.0.2.0");
	assert_string_equal(ip(u->mask), "255.255.255.0");
	assert_string_equal(ip(u->host), "10.0.2.2");
	assert_string_equal(ip(u->dns), "10.0.2.3");
	assert_string_equal(ip(u->dhcp_start), "10.0.2.15");
	assert_false(u->restricted);
	assert_int_equal(u->nfwd, 0);
	/* net= moves host and dhcpstart with it; dns= as given */
	u = &cfg.nets[1].user;
	assert_memory_equal(cfg.nets[1].mac, ((uint8_t[]){ 2, 0xaa, 0xbb, 0xcc, 0xdd, 0x0e }), 6);
	assert_string_equal(ip(u->net), "192.168.5.0");
	assert_string_equal(ip(u->host), "192.168.5.2");
	assert_string_equal(ip(u->dns), "192.168.5.53");
	assert_string_equal(ip(u->dhcp_start), "192.168.5.15");
	assert_true(u->restricted);
	assert_int_equal(u->nfwd, 2);
	assert_false(u->fwd[0].udp);
	assert_string_equal(ip(u->fwd[0].host_addr), "127.0.0.1"); /* loopback, not any */
	assert_int_equal(u->fwd[0].host_port, 2222);
	assert_string_equal(ip(u->fwd[0].guest_addr), "192.168.5.15"); /* dhcpstart */
	assert_int_equal(u->fwd[0].guest_port, 22);
	assert_true(u->fwd[1].udp);
	assert_string_equal(ip(u->fwd[1].host_addr), "0.0.0.0");
	assert_string_equal(ip(u->fwd[1].guest_addr), "192.168.5.9");
	assert_int_equal(u->fwd[1].guest_port, 53);
	assert_int_equal(cfg.nets[2].kind, CLI_NET_TAP);
	assert_string_equal(cfg.nets[2].tap.ifname, "tap7");
	assert_string_equal(cfg.nets[2].tap.bridge, "br0");
	assert_false(cfg.nets[2].tap.vnet_hdr);
	assert_int_equal(cfg.nets[2].mac[5], 0x58);
	assert_string_equal(cfg.nets[3].tap.ifname, "");
	assert_true(cfg.nets[3].tap.vnet_hdr);
	assert_int_equal(cfg.nets[3].mac[5], 0x59);
	cli_free(&cfg);
}

static void test_net_vde(void **state)
{
	struct vmm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--net", "vde", "--net",
			       "vde,sock=switch:///run/sw[mode=0660],mac=02:00:00:00:00:07,port=3,"
			       "group=kvm,mode=0770"),
			 0);
	assert_int_equal(cfg.nnets, 2);
	assert_int_equal(cfg.nets[0].kind, CLI_NET_VDE);
	/* QEMU's defaults: libvdeplug's default switch, any port, 0700 */
	assert_string_equal(cfg.nets[0].vde.sock, "");
	assert_int_equal(cfg.nets[0].vde.port, 0);
	assert_string_equal(cfg.nets[0].vde.group, "");
	assert_int_equal(cfg.nets[0].vde.mode, 0700);
	/* the backend knows the NIC's MAC, to see a clash */
	assert_memory_equal(cfg.nets[0].vde.mac, ((uint8_t[]){ 0x52, 0x54, 0, 0x12, 0x34, 0x56 }),
			    6);
	assert_string_equal(cfg.nets[1].vde.sock, "switch:///run/sw[mode=0660]");
	assert_int_equal(cfg.nets[1].vde.port, 3);
	assert_string_equal(cfg.nets[1].vde.group, "kvm");
	assert_int_equal(cfg.nets[1].vde.mode, 0770);
	assert_memory_equal(cfg.nets[1].vde.mac, ((uint8_t[]){ 2, 0, 0, 0, 0, 7 }), 6);
	cli_free(&cfg);
}

/* --net stream / dgram / socket: QEMU's option names into the configs */
static void test_net_sockets(void **state)
{
	struct vmm_config cfg;
	const struct cli_net *n;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--net",
			       "stream,server=on,addr.type=unix,addr.path=/run/a.sock", "--net",
			       "stream,addr.host=localhost,addr.port=5555,reconnect=2", "--net",
			       "socket,listen=:5556", "--net",
			       "dgram,remote.type=inet,remote.host=230.0.0.1,remote.port=1234",
			       "--net", "socket,udp=127.0.0.1:7,localaddr=0.0.0.0:8", "--net",
			       "socket,mcast=239.1.2.3:99,localaddr=127.0.0.1"),
			 CLI_RUN);
	assert_int_equal(cfg.nnets, 6);
	n = &cfg.nets[0];
	assert_int_equal(n->kind, CLI_NET_STREAM);
	assert_true(n->stream.server);
	assert_int_equal(n->stream.addr.family, AF_UNIX);
	assert_string_equal(n->stream.addr.path, "/run/a.sock");
	n = &cfg.nets[1];
	assert_false(n->stream.server);
	assert_int_equal(n->stream.addr.family, AF_INET);
	assert_string_equal(ip(n->stream.addr.host), "127.0.0.1");
	assert_int_equal(n->stream.addr.port, 5555);
	assert_int_equal(n->stream.reconnect, 2);
	/* listen=:PORT is the loopback, not every interface */
	n = &cfg.nets[2];
	assert_int_equal(n->kind, CLI_NET_STREAM);
	assert_true(n->stream.server);
	assert_string_equal(ip(n->stream.addr.host), "127.0.0.1");
	assert_int_equal(n->stream.addr.port, 5556);
	n = &cfg.nets[3];
	assert_int_equal(n->kind, CLI_NET_DGRAM);
	assert_true(netbe_sock_addr_is_mcast(&n->dgram.remote));
	assert_int_equal(n->dgram.local.family, 0);
	n = &cfg.nets[4];
	assert_int_equal(n->kind, CLI_NET_DGRAM);
	assert_string_equal(ip(n->dgram.remote.host), "127.0.0.1");
	assert_int_equal(n->dgram.remote.port, 7);
	assert_string_equal(ip(n->dgram.local.host), "0.0.0.0");
	assert_int_equal(n->dgram.local.port, 8);
	n = &cfg.nets[5];
	assert_string_equal(ip(n->dgram.remote.host), "239.1.2.3");
	assert_string_equal(ip(n->dgram.local.host), "127.0.0.1");
	/* the fifth NIC's default MAC */
	assert_memory_equal(cfg.nets[5].mac, ((uint8_t[]){ 0x52, 0x54, 0, 0x12, 0x34, 0x5b }), 6);
	cli_free(&cfg);
}

static void test_net_errors(void **state)
{
	static const char *const bad[][2] = {
		{ "", "'' is not user[,...]" },
		{ "socket", "--net socket: needs listen=, connect=, mcast= or udp=" },
		{ "stream,addr.type=fd", "bad value 'fd' for addr.type" },
		{ "stream,addr.path=/a,addr.host=1.2.3.4", "bad value '1.2.3.4' for addr.host" },
		{ "stream,addr.port=0", "bad value '0' for addr.port" },
		{ "stream,addr.type=inet", "addr needs a port" },
		{ "stream,addr.path=/a,turbo=on", "unknown option 'turbo'" },
		{ "dgram,local.path=/a", "needs a remote address" },
		{ "dgram,remote.path=/b", "needs a local address" },
		{ "dgram,remote.host=230.0.0.1,remote.port=5,local.path=/a",
		  "local is an IPv4 interface address" },
		{ "socket,mcast=230.0.0.1", "bad value '230.0.0.1' for mcast" },
		{ "socket,connect=127.0.0.1:99999", "for connect" },
		{ "socket,fd=3", "unknown option 'fd'" },
		{ "user,bogus=1", "unknown option 'bogus'" },
		{ "tap,net=10.0.0.0/8", "unknown option 'net'" },
		{ "user,mac=01:00:5e:00:00:01", "bad value '01:00:5e:00:00:01' for mac" },
		{ "user,mac=00:00:00:00:00:00", "for mac" },
		{ "user,mac=52:54:00:12:34", "for mac" },
		{ "user,mac=52:54:00:12:34:5g", "for mac" },
		{ "user,net=10.0.2.0/31", "bad value '10.0.2.0/31' for net" },
		{ "user,net=10.0.2.0/255.0.255.0", "for net" },
		{ "user,net=10.0.2", "for net" },
		{ "user,host=10.0.3.2", "host=10.0.3.2 is outside net=10.0.2.0/24" },
		{ "user,dhcpstart=10.0.2.255", "dhcpstart=10.0.2.255 is the broadcast address of" },
		{ "user,net=10.0.2.0/24,host=10.0.2.0", "host=10.0.2.0 is the network address of" },
		{ "user,dns=10.0.2.2", "dns=10.0.2.2 is also the host address" },
		{ "user,dhcpstart=10.0.2.3", "dhcpstart=10.0.2.3 is also the dns address" },
		{ "user,restrict=perhaps", "bad value 'perhaps' for restrict" },
		{ "user,hostfwd=tcp:2222-:22", "bad hostfwd rule 'tcp:2222-:22'" },
		{ "user,hostfwd=sctp::1-:2", "bad hostfwd rule" },
		{ "user,hostfwd=tcp::0-:22", "bad hostfwd rule" },
		{ "user,hostfwd=tcp::65536-:22", "bad hostfwd rule" },
		{ "user,hostfwd=tcp::22-:", "bad hostfwd rule" },
		{ "user,hostfwd=udp::53-10.9.9.9:53",
		  "hostfwd guest=10.9.9.9 is outside net=10.0.2.0/24" },
		{ "tap,ifname=a/b", "bad value 'a/b' for ifname" },
		{ "tap,ifname=0123456789abcdef", "for ifname" },
		{ "tap,bridge=", "for bridge" },
		{ "tap,vnet_hdr=sometimes", "for vnet_hdr" },
		{ "vde,sock=1x://sw", "bad sock '1x://sw'" },
		{ "vde,sock=://sw", "bad sock" },
		{ "vde,sock=a_b://sw", "bad sock" },
		{ "vde,port=65536", "bad value '65536' for port" },
		{ "vde,mode=0800", "for mode" },
		{ "vde,mode=", "for mode" },
		{ "vde,group=", "for group" },
		{ "vde,ifname=tap0", "--net vde: unknown option 'ifname'" },
	};
	struct vmm_config cfg;
	unsigned int i;
	char *argv[60];
	int argc = 0;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(PARSE(&cfg, "--kernel", "k", "--net", (char *)bad[i][0]),
				 CLI_ERROR);
		if (!strstr(err, bad[i][1]))
			fail_msg("'%s': got '%s', want '%s'", bad[i][0], err, bad[i][1]);
		assert_null(strchr(err, '\n'));
		cli_free(&cfg);
	}
	/* more hostfwd rules than fit */
	{
		char arg[1024] = "user";
		for (i = 0; i <= NETBE_MAX_HOSTFWD; i++)
			snprintf(arg + strlen(arg), sizeof(arg) - strlen(arg),
				 ",hostfwd=tcp::%u-:22", 2000 + i);
		assert_int_equal(PARSE(&cfg, "--kernel", "k", "--net", arg), CLI_ERROR);
		assert_non_null(strstr(err, "at most 16 hostfwd rules"));
		cli_free(&cfg);
	}
	/* more NICs than CLI_MAX_NETS, and more virtio devices than GSIs */
	argv[argc++] = "vmm";
	argv[argc++] = "--kernel";
	argv[argc++] = "k";
	for (i = 0; i <= CLI_MAX_NETS; i++) {
		argv[argc++] = "--net";
		argv[argc++] = "user";
	}
	argv[argc] = NULL;
	assert_int_equal(cli_parse(argc, argv, &cfg, err, sizeof(err)), CLI_ERROR);
	assert_non_null(strstr(err, "at most 8 NICs"));
	cli_free(&cfg);
	argc -= 2;
	for (i = 0; i + CLI_MAX_NETS <= CLI_MAX_VIRTIO; i++) {
		argv[argc++] = "-d";
		argv[argc++] = "img";
	}
	argv[argc] = NULL;
	assert_int_equal(cli_parse(argc, argv, &cfg, err, sizeof(err)), CLI_ERROR);
	assert_non_null(strstr(err, "at most 16 virtio devices"));
	cli_free(&cfg);
}

static void test_defaults_and_full(void **state)
{
	struct vmm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--kernel", "k"), CLI_RUN);
	assert_string_equal(cfg.kernel, "k");
	assert_int_equal(cfg.mem_size, 512ULL << 20);
	assert_int_equal(cfg.cpus, 1);
	assert_string_equal(cfg.cmdline, "console=ttyS0");
	assert_null(cfg.initrd);
	assert_true(cfg.timeout_sec == 0);
	assert_int_equal(cfg.pvm, CLI_PVM_AUTO);

	assert_int_equal(PARSE(&cfg, "--kernel", "bz", "--initrd", "rd", "--cmdline", "quiet",
			       "--mem", "2G", "--cpus", "4", "--timeout", "2.5", "--console-log",
			       "log", "--reboot", "--trace-exits", "--hugepages", "--pvm=off", "-v",
			       "-v"),
			 CLI_RUN);
	assert_string_equal(cfg.initrd, "rd");
	assert_string_equal(cfg.cmdline, "quiet");
	assert_int_equal(cfg.mem_size, 2ULL << 30);
	assert_int_equal(cfg.cpus, 4);
	assert_true(cfg.timeout_sec > 2.49 && cfg.timeout_sec < 2.51);
	assert_string_equal(cfg.console_log, "log");
	assert_true(cfg.reboot && cfg.trace_exits && cfg.hugepages);
	assert_int_equal(cfg.pvm, CLI_PVM_OFF);
	assert_int_equal(cfg.verbosity, 2);
	/* short options */
	assert_int_equal(PARSE(&cfg, "-k", "k", "-m", "64M", "-p", "2", "-t", "10"), CLI_RUN);
	assert_int_equal(cfg.mem_size, 64ULL << 20);
	assert_int_equal(cfg.cpus, 2);
}

static void expect_error(enum cli_result r, const char *needle)
{
	assert_int_equal(r, CLI_ERROR);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
	assert_null(strchr(err, '\n')); /* one line */
}

/* --sandbox and --landlock-rules (vmm/cli_sandbox.c) */
static void test_sandbox(void **state)
{
	struct vmm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--kernel", "k"), CLI_RUN);
	assert_int_equal(cfg.sandbox, CLI_SANDBOX_ON); /* on by default */
	assert_int_equal(cfg.nlandlock, 0);
	cli_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--sandbox=log"), CLI_RUN);
	assert_int_equal(cfg.sandbox, CLI_SANDBOX_LOG);
	cli_free(&cfg);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--sandbox", "off", "--landlock-rules",
			       "path=/srv/snap,access=rw", "--landlock-rules", "path=/etc/x"),
			 CLI_RUN);
	assert_int_equal(cfg.sandbox, CLI_SANDBOX_OFF);
	assert_int_equal(cfg.nlandlock, 2);
	assert_string_equal(cfg.landlock[0].path, "/srv/snap");
	assert_true(cfg.landlock[0].write);
	assert_string_equal(cfg.landlock[1].path, "/etc/x");
	assert_false(cfg.landlock[1].write); /* access defaults to r */
	cli_free(&cfg);
	expect_error(PARSE(&cfg, "--kernel", "k", "--sandbox=maybe"), "--sandbox");
	cli_free(&cfg);
	expect_error(PARSE(&cfg, "--kernel", "k", "--landlock-rules", "access=r"), "no path=");
	cli_free(&cfg);
	expect_error(PARSE(&cfg, "--kernel", "k", "--landlock-rules", "path=/a,access=x"),
		     "access=x");
	cli_free(&cfg);
	expect_error(PARSE(&cfg, "--kernel", "k", "--landlock-rules", "path=/a,path=/b"),
		     "path=/b");
	cli_free(&cfg);
}

static void test_errors(void **state)
{
	struct vmm_config cfg;

	(void)state;
	expect_error(PARSE(&cfg, "--mem", "512M"), "no kernel");
	expect_error(PARSE(&cfg, "--kernel", "k", "--mem", "lots"), "--mem");
	expect_error(PARSE(&cfg, "--kernel", "k", "--mem", "1M"), "out of range");
	expect_error(PARSE(&cfg, "--kernel", "k", "--mem", "2T"), "out of range");
	expect_error(PARSE(&cfg, "--kernel", "k", "--mem", "16777217"), "4 KiB");
	expect_error(PARSE(&cfg, "--kernel", "k", "--cpus", "0"), "--cpus");
	expect_error(PARSE(&cfg, "--kernel", "k", "--cpus", "255"), "--cpus");
	expect_error(PARSE(&cfg, "--kernel", "k", "--cpus", "two"), "--cpus");
	expect_error(PARSE(&cfg, "--kernel", "k", "--cpus", "-1"), "--cpus");
	expect_error(PARSE(&cfg, "--kernel", "k", "--timeout", "0"), "--timeout");
	expect_error(PARSE(&cfg, "--kernel", "k", "--timeout", "-3"), "--timeout");
	expect_error(PARSE(&cfg, "--kernel", "k", "--timeout", "soon"), "--timeout");
	expect_error(PARSE(&cfg, "--kernel", "k", "--timeout", "nan"), "--timeout");
	expect_error(PARSE(&cfg, "--kernel", "k", "--pvm=maybe"), "--pvm");
	expect_error(PARSE(&cfg, "--kernel", "k", "--bogus"), "unknown option '--bogus'");
	expect_error(PARSE(&cfg, "--kernel", "k", "extra"), "unexpected argument 'extra'");
	expect_error(PARSE(&cfg, "--kernel"), "needs a value");
	expect_error(PARSE(&cfg, "--kernel", "k", "--hugepages", "--mem", "3M"), "out of range");
	expect_error(PARSE(&cfg, "--kernel", "k", "--hugepages", "--mem", "17M"), "2M");
}

/* --incoming: no kernel needed; only host-side options beside it */
static void test_incoming(void **state)
{
	struct vmm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--incoming", "file:s", "--console-log", "c", "--timeout", "9",
			       "-v", "--trace-exits", "--pvm=off", "--incoming-disk-check=off"),
			 CLI_RUN);
	assert_string_equal(cfg.incoming, "file:s");
	assert_false(cfg.incoming_disk_check);
	assert_string_equal(cfg.console_log, "c");
	assert_int_equal(cfg.argc, 11); /* what a snapshot stores */
	assert_int_equal(PARSE(&cfg, "--incoming", "file:s"), CLI_RUN);
	assert_true(cfg.incoming_disk_check); /* the default */
	/* the option as typed, whichever way its value was given */
	expect_error(PARSE(&cfg, "--incoming", "file:s", "--mem", "1G"), "--mem cannot be given");
	expect_error(PARSE(&cfg, "--mem=1G", "--incoming", "file:s"), "--mem=1G cannot be given");
	expect_error(PARSE(&cfg, "--incoming", "file:s", "-p2"), "-p2 cannot be given");
	expect_error(PARSE(&cfg, "--incoming", "file:s", "--reboot"), "--reboot cannot be given");
	expect_error(PARSE(&cfg, "--incoming", "file:s", "--kernel", "k"), "--kernel cannot");
	cli_free(&cfg);
	expect_error(PARSE(&cfg, "--incoming", "file:s", "--net", "user"), "--net cannot");
	/* a disk's new path may be given */
	assert_int_equal(PARSE(&cfg, "--incoming", "file:s", "--disk", "moved.qcow2"), CLI_RUN);
	assert_int_equal(cfg.ndisks, 1);
	cli_free(&cfg);
	expect_error(PARSE(&cfg, "--incoming", "file:s", "--incoming-disk-check=maybe"),
		     "--incoming-disk-check");
}

static void test_help_version(void **state)
{
	struct vmm_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--help"), CLI_EXIT_OK);
	assert_int_equal(PARSE(&cfg, "-V"), CLI_EXIT_OK);
	assert_non_null(strstr(cli_help_text(), "--kernel"));
	assert_non_null(strstr(cli_help_text(), "Exit status"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),	     cmocka_unit_test(test_defaults_and_full),
		cmocka_unit_test(test_disks),	     cmocka_unit_test(test_disk_errors),
		cmocka_unit_test(test_nets),	     cmocka_unit_test(test_net_sockets),
		cmocka_unit_test(test_net_errors),   cmocka_unit_test(test_net_vde),
		cmocka_unit_test(test_errors),	     cmocka_unit_test(test_sandbox),
		cmocka_unit_test(test_help_version), cmocka_unit_test(test_shares),
		cmocka_unit_test(test_incoming),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
