/* SPDX-License-Identifier: MIT */
/*
 * Paths inside a share, and opening them without leaving it (p9_path.h).
 */
#include "devices/fs/p9_path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/openat2.h>
#include <sys/syscall.h>

bool p9_name_ok(const char *name)
{
	return name[0] && strcmp(name, ".") && strcmp(name, "..") && !strchr(name, '/');
}

int p9_path_join(const char *dir, const char *name, char **out)
{
	size_t n;

	*out = NULL;
	if (!strcmp(dir, "."))
		dir = "";
	n = strlen(dir) + 1 + strlen(name) + 1;
	if (n > PATH_MAX)
		return -ENAMETOOLONG;
	*out = malloc(n);
	if (!*out)
		return -ENOMEM;
	if (dir[0])
		strcat(strcat(strcpy(*out, dir), "/"), name);
	else
		strcpy(*out, name);
	return 0;
}

int p9_path_parent(const char *path, char **out)
{
	const char *slash = strrchr(path, '/');

	*out = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
	return *out ? 0 : -ENOMEM;
}

const char *p9_path_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static int sys_openat2(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(unsigned int)flags,
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

bool p9_have_openat2(int root_fd)
{
	int fd = sys_openat2(root_fd, ".", O_PATH | O_CLOEXEC, 0);

	if (fd < 0)
		return fd != -ENOSYS;
	close(fd);
	return true;
}

/* Without openat2: one component at a time, never following a symlink
 * (O_NOFOLLOW on the last one, O_DIRECTORY|O_NOFOLLOW on the others, so an
 * intermediate symlink fails with ENOTDIR/ELOOP). The components are names
 * that passed p9_name_ok, so none is "..". */
static int open_walk(int root_fd, const char *path, int flags, mode_t mode)
{
	char buf[PATH_MAX];
	char *comp, *slash;
	int dfd = root_fd, fd;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	comp = buf;
	while ((slash = strchr(comp, '/'))) {
		*slash = '\0';
		fd = openat(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
		if (dfd != root_fd)
			close(dfd);
		if (fd < 0)
			return fd;
		dfd = fd;
		comp = slash + 1;
	}
	fd = openat(dfd, comp, flags, mode);
	if (fd < 0)
		fd = -errno;
	if (dfd != root_fd)
		close(dfd);
	return fd;
}

int p9_open_beneath(int root_fd, bool have_openat2, const char *path, int flags, mode_t mode)
{
	flags |= O_NOFOLLOW | O_CLOEXEC;
	/* Defence in depth: paths are built from checked names, but refuse
	 * anything absolute or with a ".." component here too. */
	if (path[0] == '/' || !strcmp(path, "..") || !strncmp(path, "../", 3) ||
	    strstr(path, "/../") || (strlen(path) >= 3 && !strcmp(path + strlen(path) - 3, "/..")))
		return -EXDEV;
	if (have_openat2)
		return sys_openat2(root_fd, path, flags, mode);
	return open_walk(root_fd, path, flags, mode);
}
