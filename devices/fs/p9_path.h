/* SPDX-License-Identifier: MIT */
/*
 * Confinement of a 9p share: every host path the server touches is a
 * path *relative to the share's directory fd*, built only from names the
 * guest sent that passed p9_name_ok() (no '/', not "." or ".."), and opened
 * with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
 * and O_NOFOLLOW: no "..", no symlink (absolute, relative, planted by the
 * host or made by the guest) and no /proc magic link is ever followed on the
 * host. The guest follows its symlinks itself (Treadlink, then a walk).
 * Where openat2 is missing (Linux < 5.6) the same is done one component at
 * a time with openat(O_NOFOLLOW), each intermediate one O_DIRECTORY.
 *
 * Walking ".." is lexical on these relative paths and stops at the root
 * ("." stays "."), as 9P says a walk of ".." at the root must.
 */
#ifndef VMM_DEVICES_FS_P9_PATH_H
#define VMM_DEVICES_FS_P9_PATH_H

#include <stdbool.h>
#include <sys/types.h>

/* One directory entry name a guest may create or walk to. */
bool p9_name_ok(const char *name);

/* "." + "x" = "x"; "a" + "x" = "a/x". Returns a malloc'd string in *out,
 * or -ENAMETOOLONG (longer than PATH_MAX) / -ENOMEM. */
int p9_path_join(const char *dir, const char *name, char **out) __attribute__((warn_unused_result));
/* "a/b" -> "a", "a" -> ".", "." -> ".". Malloc'd in *out, or -ENOMEM. */
int p9_path_parent(const char *path, char **out) __attribute__((warn_unused_result));
/* The last component: "a/b" -> "b", "a" -> "a", "." -> ".". */
const char *p9_path_base(const char *path);

/* The probe p9_open_beneath needs: does this kernel have openat2? */
bool p9_have_openat2(int root_fd);

/* Open `path` (relative, from p9_path_join) beneath root_fd with open(2)
 * flags `flags` (O_NOFOLLOW and O_CLOEXEC are added) and `mode` for
 * O_CREAT. Returns the fd, or -errno (-ELOOP for a symlink on the way,
 * -EXDEV for an escape). */
int p9_open_beneath(int root_fd, bool have_openat2, const char *path, int flags, mode_t mode)
	__attribute__((warn_unused_result));

#endif /* VMM_DEVICES_FS_P9_PATH_H */
