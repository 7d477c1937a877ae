#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mkcpio.py INIT OUT: the initramfs of vmm --exec (an uncompressed newc
archive: gzip unpacking is slow on PVM hosts and saves nothing at this size).

It holds /vmm-exec-init (INIT, mode 0755), /dev with /dev/console (the
kernel opens it as init's stdin/stdout/stderr) and /newroot, where the init
mounts the 9p root. Every field is fixed (mtime 0, uid 0), so the archive
is the same for the same INIT.
"""
import sys


def entry(name, mode, data=b"", rdev=(0, 0), ino=1):
    name_b = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0]
    hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
    out = hdr + name_b
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)
    return out


def main():
    init_path, out_path = sys.argv[1], sys.argv[2]
    with open(init_path, "rb") as f:
        init = f.read()
    archive = b"".join([
        entry("dev", 0o040755, ino=1),
        entry("dev/console", 0o020600, rdev=(5, 1), ino=2),
        entry("newroot", 0o040755, ino=3),
        entry("vmm-exec-init", 0o100755, init, ino=4),
        entry("TRAILER!!!", 0, ino=0),
    ])
    with open(out_path, "wb") as f:
        f.write(archive)


if __name__ == "__main__":
    main()
