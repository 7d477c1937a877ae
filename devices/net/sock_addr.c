/* SPDX-License-Identifier: MIT */
/*
 * Socket addresses of the stream and dgram backends (sock_config.h): the
 * conversion to struct sockaddr, the text shown in messages, binding with
 * QEMU's treatment of a stale unix socket file; and their MAC clash check.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/net/sock_config.h"
#include "base/err.h"
#include "base/log.h"

int netbe_sock_addr_to(const struct netbe_sock_addr *a, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_UNIX) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		size_t n = strnlen(a->path, sizeof(a->path));

		if (n == 0 || n >= sizeof(un->sun_path))
			return -EINVAL;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, a->path, n);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
		return 0;
	}
	if (a->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_addr = a->host;
		in->sin_port = htons(a->port);
		*len = sizeof(*in);
		return 0;
	}
	return -EINVAL;
}

void netbe_sock_addr_fmt(char *buf, size_t len, const struct netbe_sock_addr *a)
{
	char ip[INET_ADDRSTRLEN];

	if (a->family == AF_UNIX) {
		snprintf(buf, len, "unix:%.*s", (int)sizeof(a->path), a->path);
	} else if (a->family == AF_INET) {
		if (!inet_ntop(AF_INET, &a->host, ip, sizeof(ip)))
			snprintf(ip, sizeof(ip), "?");
		snprintf(buf, len, "%s:%u", ip, a->port);
	} else {
		snprintf(buf, len, "(none)");
	}
}

bool netbe_sock_addr_is_mcast(const struct netbe_sock_addr *a)
{
	return a->family == AF_INET && IN_MULTICAST(ntohl(a->host.s_addr));
}

/* A socket file at path: remove it if nobody answers there (a server that
 * died without cleaning up); -EADDRINUSE if someone does. */
static int unlink_stale(const char *path, int type, const struct sockaddr_storage *ss,
			socklen_t len)
{
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0; /* nothing there, or not a socket: bind() says what */
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)ss, len);
	/* a unix connect() never blocks to find out: ECONNREFUSED means no
	 * one is bound; EAGAIN means a full backlog, i.e. someone is */
	if (ret < 0 && errno == ECONNREFUSED)
		ret = unlink(path) < 0 ? -errno : 0;
	else
		ret = -EADDRINUSE;
	close(fd);
	return ret;
}

int netbe_sock_bind(int fd, int type, const struct netbe_sock_addr *a, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char shown[NETBE_SOCK_PATH_MAX + 8];
	int ret;

	netbe_sock_addr_fmt(shown, sizeof(shown), a);
	if (netbe_sock_addr_to(a, &ss, &len) < 0)
		return err_set(err, errlen, -EINVAL, "%s: not a usable address", shown);
	if (a->family == AF_UNIX) {
		ret = unlink_stale(a->path, type, &ss, len);
		if (ret == -EADDRINUSE)
			return err_set(err, errlen, ret, "%s: another process listens there",
				       shown);
		if (ret < 0)
			return err_set(err, errlen, ret, "%s: cannot remove the stale socket: %s",
				       shown, strerror(-ret));
	} else {
		int one = 1;

		/* a server restarted at once must not wait out TIME_WAIT */
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
			return err_set(err, errlen, -errno, "%s: SO_REUSEADDR: %s", shown,
				       strerror(errno));
	}
	if (bind(fd, (const struct sockaddr *)&ss, len) < 0) {
		ret = -errno;
		return err_set(err, errlen, ret, "cannot bind %s: %s", shown, strerror(-ret));
	}
	return 0;
}

bool netbe_mac_clash(const uint8_t mac[6], const uint8_t *frame, size_t len)
{
	static const uint8_t zero[6];

	return len >= 12 && memcmp(mac, zero, 6) && !memcmp(frame + 6, mac, 6);
}

void netbe_mac_clash_warn_once(const char *name, const char *who, const uint8_t mac[6],
			       const uint8_t *frame, size_t len, bool *said)
{
	if (*said || !netbe_mac_clash(mac, frame, len))
		return;
	log_warn("%s: %s sends frames from this NIC's own MAC %02x:%02x:%02x:%02x:%02x:%02x (two "
		 "NICs with one MAC, or frames looped back)",
		 name, who, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	*said = true;
}
