#!/usr/bin/env python3
"""Guest-visible 4 KiB random-read IOPS through virtio-blk, raw and qcow2.

The blk test guest (tests/guests/blk.c, mode=bench) reads random 4 KiB
blocks of its disk with its own polled virtio driver, first one request at
a time (queue depth 1), then with 32 chains in flight (queue depth 32). It
prints "BENCH qd=N start" before the first request and "BENCH qd=N done"
after the last completion; this script timestamps those lines as they
arrive on the vmm's stdout, so IOPS = n / (t_done - t_start). The guest
also checks every block it reads (each 4 KiB block of the image starts with
its block number) and reports errors=0.

The images (256 MiB by default) are written in full first, so the qcow2 one
has every cluster allocated (vmm-img convert, else qemu-img), and they sit
in the host's page cache unless --cache none is given: the numbers are the
VMM's and the guest driver's request path, not the storage's.

On PVM hosts (see KVM-ON-THESE-HOSTS.md) the guest's ring-0 driver code is
interpreted, at roughly 0.7 us per instruction; each request costs the guest
a few hundred instructions plus an MMIO kick, which bounds what any VMM can
show here. On hardware KVM the same guest is far faster.
"""
import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

from common import BUILD, GUESTS, VMM, VMM_ARGS, median, require_kvm

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--size", type=int, default=256, help="image size in MiB (default 256)")
ap.add_argument("--n1", type=int, default=3000, help="requests at queue depth 1")
ap.add_argument("--n32", type=int, default=20000, help="requests at queue depth 32")
ap.add_argument("--runs", type=int, default=3, help="runs per format; the median is printed")
ap.add_argument("--cache", help="--disk cache= option for vmm (e.g. none for O_DIRECT)")
ap.add_argument("--aio", help="--disk aio= option for vmm (native, threads, sync)")
ap.add_argument("--formats", default="raw,qcow2")
ap.add_argument("--dir", help="where to put the images (default: a temp dir in /var/tmp)")
args = ap.parse_args()
require_kvm()
GUEST = os.path.join(GUESTS, "blk.elf")
if not os.path.exists(GUEST):
    sys.exit(f"bench: {GUEST} missing: build tests/guests/guest-blk first")


def make_raw(path, mib):
    """Every 4 KiB block starts with its block number (le64), the rest 0xa5."""
    block = bytearray(b"\xa5" * 4096)
    with open(path, "wb") as f:
        for chunk in range(mib):
            buf = bytearray()
            for i in range(chunk * 256, chunk * 256 + 256):
                block[0:8] = struct.pack("<Q", i)
                buf += block
            f.write(buf)
        f.flush()
        os.fsync(f.fileno())


def make_qcow2(raw, path):
    img = os.path.join(BUILD, "vmm-img")
    tool = [img] if os.access(img, os.X_OK) else ["qemu-img"]
    r = subprocess.run(tool + ["convert", "-f", "raw", "-O", "qcow2", raw, path],
                       capture_output=True, text=True)
    if r.returncode != 0 and tool != ["qemu-img"] and shutil.which("qemu-img"):
        print(f"bench: vmm-img convert failed ({r.stderr.strip()}); using qemu-img")
        tool = ["qemu-img"]
        r = subprocess.run(tool + ["convert", "-f", "raw", "-O", "qcow2", raw, path],
                           capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench: cannot make {path}: {r.stderr.strip()}")
    return tool[0]


def run_once(path, fmt):
    """One vmm run; returns {qd: iops} timed from the console markers."""
    spec = f"{path},format={fmt}"
    if args.cache:
        spec += f",cache={args.cache}"
    if args.aio:
        spec += f",aio={args.aio}"
    cmd = [VMM] + VMM_ARGS + ["--kernel", GUEST, "--disk", spec, "--timeout", "600",
           "--cmdline", f"mode=bench n1={args.n1} n32={args.n32} sectors={args.size * 2048}"]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    stamps, lines = {}, []
    # readline() returns as soon as a line is complete: the timestamp is
    # taken when the guest's marker has been written to the console.
    for raw in iter(p.stdout.readline, b""):
        t = time.monotonic()
        line = raw.decode(errors="replace").strip()
        lines.append(line)
        m = re.match(r"BENCH qd=(\d+) (start|done)$", line)
        if m:
            stamps[(int(m.group(1)), m.group(2))] = t
    err = p.stderr.read().decode(errors="replace")
    status = p.wait()
    p.stdin.close()
    if status != 0:
        sys.exit(f"bench: {' '.join(cmd)} exited {status}:\n" + "\n".join(lines) + "\n" + err)
    out = {}
    for line in lines:
        m = re.match(r"BENCH qd=(\d+) n=(\d+) errors=(\d+) tsc=(\d+) idle=(\d+) kick=(\d+)",
                     line)
        if not m:
            continue
        qd, n, errors, tsc, idle, kick = (int(x) for x in m.groups())
        if errors:
            sys.exit(f"bench: {errors} bad reads at qd {qd}")
        secs = stamps[(qd, "done")] - stamps[(qd, "start")]
        # per request, in us (TSC ticks scaled by the rate the host saw):
        # waiting on an empty used ring, in the QueueNotify kick, the rest
        us = secs / n * 1e6 / tsc
        out[qd] = (n / secs, idle * us, kick * us, (tsc - idle - kick) * us)
    return out


tmp = tempfile.mkdtemp(prefix="vmm-blk-bench-", dir=args.dir or "/var/tmp")
try:
    raw = os.path.join(tmp, "bench.raw")
    t0 = time.monotonic()
    make_raw(raw, args.size)
    images = {"raw": raw}
    if "qcow2" in args.formats.split(","):
        images["qcow2"] = os.path.join(tmp, "bench.qcow2")
        made_by = make_qcow2(raw, images["qcow2"])
        print(f"guest_blk_iops: {args.size} MiB images written in {time.monotonic() - t0:.1f} s "
              f"(qcow2 by {os.path.basename(made_by)})")
    for fmt in args.formats.split(","):
        runs = [run_once(images[fmt], fmt) for _ in range(args.runs)]
        parts = []
        for qd, n in ((1, args.n1), (32, args.n32)):
            if n:
                xs = [r[qd][0] for r in runs]
                wait, kick, drv = (median([r[qd][i] for r in runs]) for i in (1, 2, 3))
                parts.append(f"qd {qd}: {median(xs):.0f} IOPS (min {min(xs):.0f}, "
                             f"max {max(xs):.0f}; {1e6 / median(xs):.0f} us/request: "
                             f"{drv:.0f} driver code, {kick:.0f} kicks, {wait:.0f} waiting)")
        print(f"guest_blk_iops: {fmt}, 4 KiB random reads, {args.size} MiB image, "
              f"cache={args.cache or 'default'}, median of {args.runs}: " + "; ".join(parts))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
