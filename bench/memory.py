#!/usr/bin/env python3
"""vmm's own memory overhead: peak RSS minus the guest pages it touched.

Peak RSS is vmm's VmHWM at exit (getrusage's ru_maxrss would include the
forked Python parent's pages, as it survives exec); the guest RAM the host committed is what
vmm -v reports at exit (mincore over guest RAM). With transparent huge pages
the guest's share is counted in 2 MiB pages, the same way RSS counts it.
Target: under 3 MiB. --kernel/--initrd measure a real guest instead of the
hello test guest.
"""
import argparse
import os

from common import GUESTS, median, peak_rss_kib, require_kvm, run_vmm, touched_kib

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--mem", default="512M")
ap.add_argument("--cpus", type=int, default=2)
ap.add_argument("--kernel", default=os.path.join(GUESTS, "hello.elf"))
ap.add_argument("--initrd")
ap.add_argument("--cmdline")
ap.add_argument("--expect-status", type=int, default=0)
args = ap.parse_args()
require_kvm()

extra = ["--initrd", args.initrd] if args.initrd else []
extra += ["--cmdline", args.cmdline] if args.cmdline else []
overheads, peaks, touched = [], [], []
for _ in range(args.runs):
    _, err, _, _ = run_vmm(["--kernel", args.kernel, "--mem", args.mem,
                            "--cpus", str(args.cpus)] + extra, args.expect_status)
    peaks.append(peak_rss_kib(err))
    touched.append(touched_kib(err))
    overheads.append(peak_rss_kib(err) - touched_kib(err))
print(f"memory: {os.path.basename(args.kernel)}, {args.mem}, {args.cpus} vCPUs: "
      f"peak RSS {median(peaks):.0f} KiB, guest RAM touched {median(touched):.0f} KiB, "
      f"vmm overhead {median(overheads):.0f} KiB ({median(overheads) / 1024:.2f} MiB), median of {args.runs}")
