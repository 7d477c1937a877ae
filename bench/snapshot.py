#!/usr/bin/env python3
"""Snapshot save time and file size against touched guest memory, and
restore to first KVM_RUN for a 512 MiB guest.

Save: tests/guests/snapshot-save runs the tally guest, which first fills
`touch` MiB of its RAM, pauses it and times vm_snapshot_save() in-process
(vCPU and device state, then the RAM pages that hold data; zero pages stay
holes, so the file's allocated size follows the touched memory, not --mem).

Restore: process start to vCPU 0's first KVM_RUN of `vmm --incoming` (the
clock as bench/startup.py's: vmm -v reports the instant in
CLOCK_MONOTONIC). The RAM is mapped MAP_PRIVATE from the file, so this does
not grow with the guest's size. Target: under 10 ms.
"""
import argparse
import os
import re
import subprocess
import tempfile

from common import BUILD, GUESTS, first_run_ns, median, require_kvm, run_vmm

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--runs", type=int, default=10)
ap.add_argument("--mem", default="512M")
ap.add_argument("--touch", default="0,16,64,256", help="MiB to touch, comma-separated")
args = ap.parse_args()
require_kvm()

save = os.path.join(BUILD, "tests", "guests", "snapshot-save")
kernel = os.path.join(GUESTS, "tally.elf")
with tempfile.TemporaryDirectory(prefix="vmm-bench-snap-") as tmp:
    snap = os.path.join(tmp, "vm.snap")
    for mib in [int(x) for x in args.touch.split(",")]:
        times, sizes = [], []
        for _ in range(3):
            out = subprocess.run(
                [save, "--kill", snap, "count 1", "vmm", "--kernel", kernel, "--mem", args.mem,
                 "--cmdline", f"count=1000 delay=1000 touch={mib}",
                 "--console-log", os.path.join(tmp, "log")],
                capture_output=True, text=True).stdout
            m = re.search(r"saved: (\d+) bytes \((\d+) allocated\) in ([\d.]+) ms", out)
            if not m:
                raise SystemExit(f"bench: snapshot-save failed: {out}")
            times.append(float(m.group(3)))
            sizes.append(int(m.group(2)))
        print(f"snapshot: save with {mib:4d} MiB touched of {args.mem}: median "
              f"{median(times):7.2f} ms, file {median(sizes) / 2**20:7.1f} MiB allocated "
              f"(apparent size {int(m.group(1)) / 2**20:.0f} MiB)")

    # restore: the file of the last (largest) save
    samples = []
    for _ in range(args.runs):
        t0, err, _, _ = run_vmm(["--incoming", "file:" + snap, "--timeout", "0.5"],
                                expect_status=5)
        samples.append((first_run_ns(err) - t0) / 1e6)
    samples.sort()
    print(f"snapshot: restore, process start to first KVM_RUN ({args.mem}, {args.runs} runs): "
          f"median {median(samples):.2f} ms, min {samples[0]:.2f} ms, max {samples[-1]:.2f} ms "
          f"(target < 10 ms)")
