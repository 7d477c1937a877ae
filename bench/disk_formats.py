#!/usr/bin/env python3
"""Block-backend throughput per image format (VHD, VHDX, ...) against qemu-img.

The sibling of disk_backend.py (whose files, request walk, settling and
runners it uses): for each format FMT, the 1 GiB fully written raw image is
converted by qemu-img to FMT (every block allocated), then vmm's driver
(build/bench/disk_backend --format FMT) and `qemu-img bench -f FMT` run the
same 4 KiB random / 1 MiB sequential reads and writes at depth 1 and 32,
cached and O_DIRECT. Columns: IOPS (4k) or MB/s (1m) for vmm raw, vmm FMT and
qemu FMT; FMT/qemu (target >= 1.0) and FMT/raw (target >= 0.9 for dynamic
formats).

Then `vmm-img convert` against `qemu-img convert`, FMT -> raw and raw -> FMT,
on a 1 GiB image that is half full (every other 8 MiB written), page cache
dropped of neither (both tools read the same warm file): seconds and the
ratio qemu/vmm (target >= 1.0).

    python3 bench/disk_formats.py [--formats vpc,vhdx] [--quick] [--repeat 3]
        [--only '4k-randread cached'] [--formats vpc,vpc@vmm]

FMT@vmm runs both tools on the image vmm-img convert made: its layout can
differ (a VHD made by vmm-img has its block data on 4 KiB boundaries, one
made by qemu-img 512 bytes past them).

Compare like with like: the cost of a buffered write depends on how the file
was written (measured 2026-12, --cpu: vmm's raw driver on a copy of
bench.raw made by `qemu-img convert -O raw` took 46-50 us of CPU per 4 KiB
write, 16 us on bench.raw itself), so a /raw ratio of a qemu-made image
mixes the format's cost with the file's history; FMT@vmm files are written
the way bench.raw is.
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

from common import BUILD
from disk_backend import GIB, STEP, prepare, run_qemu, run_vmm, settle


def children_cpu():
    """User + system seconds of every finished child process so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def convert_source(d, size):
    """A raw image half full: every other 8 MiB chunk written."""
    path = os.path.join(d, "half.raw")
    if os.path.exists(path) and os.path.getsize(path) == size:
        return path
    chunk = bytes((i * 13 + 7) & 0xFF or 1 for i in range(1 << 20)) * 8
    with open(path, "wb") as f:
        f.truncate(size)
        for off in range(0, size, 16 << 20):
            f.seek(off)
            f.write(chunk)
        os.fsync(f.fileno())
    return path


def timed(cmd):
    t = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return None, (p.stderr or p.stdout).strip()
    return time.monotonic() - t, None


def bench_convert(d, fmts, size, repeat):
    vmm_img = os.path.join(BUILD, "vmm-img")
    src = convert_source(d, size)
    print(f"\nconvert: {size >> 20} MiB, half full; seconds (median of {repeat}), "
          "qemu/vmm >= 1.0 means vmm-img is as fast or faster")
    print(f"{'conversion':16} {'vmm-img':>8} {'qemu-img':>8} {'qemu/vmm':>8}")
    for fmt in fmts:
        img = os.path.join(d, "half." + fmt)
        back = os.path.join(d, "half.back.raw")
        for what, s, dst, of in ((f"raw -> {fmt}", src, img, fmt),
                                 (f"{fmt} -> raw", img, back, "raw")):
            ts = {"vmm": [], "qemu": []}
            for _ in range(repeat):
                for who in ("vmm", "qemu"):
                    if os.path.exists(dst):
                        os.unlink(dst)
                    settle(s, True)
                    tool = [vmm_img] if who == "vmm" else ["qemu-img"]
                    t, err = timed(tool + ["convert", "-f", "raw" if of != "raw" else fmt,
                                           "-O", of, s, dst])
                    if t is None:
                        print(f"convert: {who} {what}: {err}")
                        return
                    ts[who].append(t)
            v, q = statistics.median(ts["vmm"]), statistics.median(ts["qemu"])
            print(f"{what:16} {v:>8.2f} {q:>8.2f} {q / v:>8.2f}", flush=True)
            if os.path.exists(back):
                os.unlink(back)
        # leave half.FMT for the next conversion's source; removed at the end
    for fmt in fmts:
        p = os.path.join(d, "half." + fmt)
        if os.path.exists(p):
            os.unlink(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/var/tmp/vmm-bench-disk")
    ap.add_argument("--size", type=int, default=1, help="image size in GiB")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="fewer requests per run")
    ap.add_argument("--formats", default="vpc,vhdx",
                    help="comma-separated; FMT@vmm: the image made by vmm-img convert "
                    "instead of qemu-img convert (both tools still run on it)")
    ap.add_argument("--only", default="",
                    help="run only the rows whose 'pattern cache qd' contains this "
                    "(e.g. '4k-randread direct 32', 'seqwrite')")
    ap.add_argument("--cpu", action="store_true",
                    help="per CPU-second instead of per second: requests (or MB) per "
                    "second of user+system time of the tool's process, start-up "
                    "subtracted. On a loaded host wall-clock rates say more about the "
                    "scheduler than the code (a tool with more threads gets more "
                    "share); CPU per request does not")
    ap.add_argument("--no-convert", action="store_true")
    args = ap.parse_args()

    tool = os.path.join(BUILD, "bench", "disk_backend")
    if not os.path.exists(tool):
        sys.exit(f"bench: {tool} missing: build first (or set VMM_BUILD)")
    if not shutil.which("qemu-img"):
        sys.exit("bench: qemu-img not found (apt-get install qemu-utils)")
    os.makedirs(args.dir, exist_ok=True)
    files = {"raw": prepare(args.dir, args.size * GIB)["raw"]}
    fmts = args.formats.split(",")
    for fmt in fmts:
        base, _, maker = fmt.partition("@")
        path = os.path.join(args.dir, "bench." + fmt)
        if maker not in ("", "vmm"):
            sys.exit(f"bench: {fmt}: only FMT or FMT@vmm")
        if not os.path.exists(path):
            print(f"disk_formats: converting to {path} ...", flush=True)
            conv = [os.path.join(BUILD, "vmm-img")] if maker else ["qemu-img"]
            subprocess.run(conv + ["convert", "-f", "raw", "-O", base, files["raw"], path],
                           check=True)
        files[fmt] = path
    div = 4 if args.quick else 1
    patterns = [
        ("4k-randread", False, 4096, STEP, 100000, 8000, 40000),
        ("4k-randwrite", True, 4096, STEP, 100000, 8000, 40000),
        ("1m-seqread", False, 1 << 20, 1 << 20, 2048, 1024, 1024),
        ("1m-seqwrite", True, 1 << 20, 1 << 20, 2048, 1024, 1024),
    ]
    per = "CPU-second (--cpu)" if args.cpu else "second"
    print(f"disk_formats: {args.size} GiB images, median of {args.repeat} (vmm and qemu "
          f"runs interleaved); IOPS for 4k, MB/s for 1m, per {per}")
    hdr = f"{'pattern':13} {'cache':6} {'qd':>3} {'vmm-raw':>9}"
    for fmt in fmts:
        hdr += f" {'vmm-' + fmt:>9} {'qemu-' + fmt:>10} {'/qemu':>6} {'/raw':>6}"
    print(hdr + f" {'spread':>6}")
    for name, w, bs, stride, c_cached, c_d1, c_d32 in patterns:
        for direct in (False, True):
            for depth in (1, 32):
                row = f"{name:13} {'direct' if direct else 'cached':6} {depth:>3}"
                if args.only and args.only not in " ".join(row.split()):
                    continue
                count = (c_cached if not direct else c_d1 if depth == 1 else c_d32) // div
                runs = [(who, fmt) for fmt in ["raw"] + fmts
                        for who in (("vmm", "qemu") if fmt != "raw" else ("vmm",))]
                times = {k: [] for k in runs}

                def one(who, fmt, n):
                    """Seconds and CPU seconds of one run (None: failed)."""
                    settle(files[fmt], not direct)
                    run = run_vmm if who == "vmm" else run_qemu
                    args_ = (tool,) if who == "vmm" else ()
                    c0 = children_cpu()
                    t, _ = run(*args_, files[fmt], fmt.partition("@")[0], w, direct, bs,
                               depth, n, stride)
                    return (t, children_cpu() - c0) if t is not None else None

                # --cpu: what a run costs without its requests (start-up,
                # open; qemu-img's is ~20x vmm's), measured once, subtracted.
                fixed = {k: (one(*k, 1) or (0, 0))[1] if args.cpu else 0 for k in runs}
                # Repeats outermost: a burst of load on the host lands on
                # every cell of the row, not on all the runs of one of them.
                for _ in range(args.repeat):
                    for k in runs:
                        r = one(*k, count)
                        if r is not None:
                            t = max(r[1] - fixed[k], 1e-6) if args.cpu else r[0]
                            times[k].append(t)
                cell, spread = {}, 0.0
                for k, ts in times.items():
                    if ts:
                        med = statistics.median(ts)
                        spread = max(spread, (max(ts) - min(ts)) / med)
                        rate = count / med
                        cell[k] = rate * bs / 1e6 if bs >= 1 << 20 else rate
                line = row + f" {cell.get(('vmm', 'raw'), 0):>9.0f}"
                for fmt in fmts:
                    v, q, r = (cell.get((who, f)) for who, f in
                               (("vmm", fmt), ("qemu", fmt), ("vmm", "raw")))
                    line += f" {v or 0:>9.0f} {q or 0:>10.0f}"
                    line += f" {v / q:>6.2f}" if v and q else f" {'n/a':>6}"
                    line += f" {v / r:>6.2f}" if v and r else f" {'n/a':>6}"
                line += f" {spread * 100:>5.0f}%" if args.repeat > 1 else f" {'-':>6}"
                print(line, flush=True)
    print("/qemu: vmm FMT / qemu-img bench FMT (target >= 1.0); /raw: vmm FMT / vmm raw "
          "(target >= 0.9 for dynamic formats); spread: max (max-min)/median of the row's "
          "cells")
    if not args.no_convert:
        bench_convert(args.dir, list(dict.fromkeys(f.partition("@")[0] for f in fmts)),
                      args.size * GIB, args.repeat)


if __name__ == "__main__":
    main()
