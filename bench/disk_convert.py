#!/usr/bin/env python3
"""Image conversion: `vmm-img convert` against `qemu-img convert`, each
format to and from raw, on a half-full image (and raw to raw).

The source is a raw image (default 1 GiB) in which every other 1 MiB is
written with non-zero data and the rest is a hole, so both tools must find
and skip zeros as well as copy data. For each format F (qcow2, qed, vdi, vpc,
vhdx, vmdk, and qcow2c: qcow2 with -c, compressed clusters): raw -> F with both tools, then
F -> raw from the F file qemu-img made (the same input for both). Runs are
interleaved (vmm, qemu, vmm, ...) and the median is kept; the output file's
dirty pages are written back inside the timing (both tools flush when they
finish; fsync after each makes sure nothing is left to the next run).

Target (issue 12): vmm-img at least as fast as qemu-img (ratio qemu/vmm
>= 1.0) for every pair.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

from common import BUILD

MIB = 1 << 20
# name: (format, convert options)
FORMATS = {"qcow2": ("qcow2", []), "qed": ("qed", []), "vdi": ("vdi", []),
           "vpc": ("vpc", []), "vhdx": ("vhdx", []), "vmdk": ("vmdk", []),
           "qcow2c": ("qcow2", ["-c"])}


def half_full(path, size):
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    print(f"disk_convert: writing {path} ({size >> 20} MiB, half data) ...", flush=True)
    block = bytes((i * 13 + 7) & 0xFF or 1 for i in range(MIB))
    with open(path, "wb") as f:
        f.truncate(size)
        for off in range(0, size, 2 * MIB):
            f.seek(off)
            f.write(block)
        f.flush()
        os.fsync(f.fileno())


def timed(cmd, out):
    if os.path.exists(out):
        os.unlink(out)
    t = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return None, (p.stderr or p.stdout).strip()
    fd = os.open(out, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.monotonic() - t, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/var/tmp/vmm-bench-convert")
    ap.add_argument("--size", type=int, default=1024, help="source size in MiB")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--formats", default=",".join(FORMATS))
    args = ap.parse_args()
    vmm_img = os.path.join(BUILD, "vmm-img")
    if not os.path.exists(vmm_img):
        sys.exit(f"bench: {vmm_img} missing: build first (or set VMM_BUILD)")
    if not shutil.which("qemu-img"):
        sys.exit("bench: qemu-img not found (apt-get install qemu-utils)")
    os.makedirs(args.dir, exist_ok=True)
    src = os.path.join(args.dir, "src.raw")
    half_full(src, args.size * MIB)
    print(f"disk_convert: {args.size} MiB half-full source, median of {args.repeat}; seconds")
    print(f"{'conversion':18} {'vmm-img':>8} {'qemu-img':>9} {'qemu/vmm':>9}")
    for name in args.formats.split(","):
        fmt, opts = FORMATS[name]
        made = os.path.join(args.dir, f"src.{name}")
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", fmt, *opts, src, made],
                       check=True)
        for label, sfmt, s, ofmt, oopts in ((f"raw -> {name}", "raw", src, fmt, opts),
                                            (f"{name} -> raw", fmt, made, "raw", [])):
            out = os.path.join(args.dir, "out")
            res = {"vmm": [], "qemu": []}
            err = None
            for _ in range(args.repeat):
                for who in ("vmm", "qemu"):
                    tool = [vmm_img] if who == "vmm" else ["qemu-img"]
                    t, e = timed(tool + ["convert", "-f", sfmt, "-O", ofmt, *oopts, s, out], out)
                    if t is None:
                        err = f"{who}: {e}"
                        continue
                    res[who].append(t)
            if err or not res["vmm"] or not res["qemu"]:
                print(f"{label:18} failed: {err}")
                continue
            v, q = statistics.median(res["vmm"]), statistics.median(res["qemu"])
            print(f"{label:18} {v:>8.2f} {q:>9.2f} {q / v:>9.2f}", flush=True)
        os.unlink(made)
    out = os.path.join(args.dir, "out")
    if os.path.exists(out):
        os.unlink(out)
    print("qemu/vmm: qemu-img's time over vmm-img's (target >= 1.0)")


if __name__ == "__main__":
    main()
