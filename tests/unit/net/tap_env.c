/* SPDX-License-Identifier: MIT */
/* test_tap.c's namespaces and kernel-side helpers: see tap_env.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/ethtool.h>
#include <net/if.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "tests/unit/net/tap_env.h"

bool te_have_cap_net_admin(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return d[CAP_TO_INDEX(CAP_NET_ADMIN)].effective & CAP_TO_MASK(CAP_NET_ADMIN);
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, s, strlen(s)) < 0) {
		/* best effort: only makes the tests quieter */
	}
	close(fd);
}

/* Before any test, in main(): the private namespaces, or why not. */
void te_env_init(struct env *e)
{
	memset(e, 0, sizeof(*e));
	if (!te_have_cap_net_admin()) {
		snprintf(e->reason, sizeof(e->reason), "no CAP_NET_ADMIN (run as root)");
		return;
	}
	if (access("/dev/net/tun", F_OK) < 0) {
		snprintf(e->reason, sizeof(e->reason), "/dev/net/tun is missing (modprobe tun)");
		return;
	}
	/* A private network namespace for the taps and bridges, and a private
	 * mount namespace with its own sysfs so /sys/class/net shows them. */
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
		snprintf(e->reason, sizeof(e->reason), "unshare(CLONE_NEWNET|CLONE_NEWNS): %s",
			 strerror(errno));
		return;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("sysfs", "/sys", "sysfs", 0, NULL) < 0) {
		snprintf(e->reason, sizeof(e->reason), "cannot mount a private sysfs: %s",
			 strerror(errno));
		return;
	}
	/* No IPv6 router solicitations or MLD reports in the way of the
	 * frames the tests wait for (the tests skip foreign frames anyway). */
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	e->ok = true;
}

void te_require_env(const struct env *e)
{
	if (!e->ok) {
		print_message("[  SKIP    ] %s\n", e->reason);
		skip();
	}
}

int te_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n++;
	closedir(d);
	return n;
}

static int ifreq_ioctl(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret;

	assert_true(s >= 0);
	ret = ioctl(s, req, ifr) < 0 ? -errno : 0;
	close(s);
	return ret;
}

short te_if_flags(const char *name)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	assert_int_equal(ifreq_ioctl(SIOCGIFFLAGS, &ifr), 0);
	return ifr.ifr_flags;
}

/* 192.168.77.1/24 on the tap's host side */
void te_set_host_addr(const char *name)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(HOST_IP);
	assert_int_equal(ifreq_ioctl(SIOCSIFADDR, &ifr), 0);
	sin->sin_addr.s_addr = htonl(0xffffff00);
	assert_int_equal(ifreq_ioctl(SIOCSIFNETMASK, &ifr), 0);
}

/* ETHTOOL_GTSO / ETHTOOL_GTXCSUM of the tap: what TUNSETOFFLOAD made of
 * the device's features. */
uint32_t te_ethtool_get(const char *name, uint32_t cmd)
{
	struct ethtool_value ev = { .cmd = cmd };
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&ev;
	assert_int_equal(ifreq_ioctl(SIOCETHTOOL, &ifr), 0);
	return ev.data;
}

long te_cpu_us(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}
