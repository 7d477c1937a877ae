#!/usr/bin/env python3
"""Process start to first KVM_RUN: median of 20 runs, 512 MiB, 2 vCPUs.

The clock starts just before the parent forks vmm and stops when vmm's
vCPU 0 is about to enter KVM_RUN for the first time (vmm -v reports that
instant in CLOCK_MONOTONIC, the clock Python's time.monotonic_ns reads).
It covers exec, dynamic linking, KVM setup, RAM mapping, loading the
kernel, writing the firmware tables, creating vCPUs and starting threads.
Target: under 5 ms.

Beside it, the floor: bench/kvm_setup_floor makes only the KVM calls any VMM
of this shape needs (VM, irqchip, PIT, one RAM slot, vCPUs) and times them
in-process, so "vmm's own share" is what vmm adds on top of KVM.
"""
import argparse
import os
import re
import subprocess

from common import BUILD, GUESTS, first_run_ns, median, require_kvm, run_vmm

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--runs", type=int, default=20)
ap.add_argument("--mem", default="512M", help="in MiB, with an M suffix")
ap.add_argument("--cpus", type=int, default=2)
args = ap.parse_args()
require_kvm()

kernel = os.path.join(GUESTS, "hello.elf")
samples = []
for _ in range(args.runs):
    t0, err, _, _ = run_vmm(["--kernel", kernel, "--mem", args.mem, "--cpus", str(args.cpus)])
    samples.append((first_run_ns(err) - t0) / 1e6)
samples.sort()
floors = []
for _ in range(args.runs):
    out = subprocess.run([os.path.join(BUILD, "bench", "kvm_setup_floor"),
                          str(int(args.mem.rstrip("M"))), str(args.cpus)],
                         capture_output=True, text=True, check=True).stdout
    floors.append(float(re.match(r"floor: ([\d.]+) ms", out).group(1)))
print(f"startup: KVM floor (VM, irqchip, PIT, RAM slot, vCPUs; in-process): median {median(floors):.2f} ms")
print(f"startup: process start to first KVM_RUN ({args.mem}, {args.cpus} vCPUs, {args.runs} runs): "
      f"median {median(samples):.2f} ms, min {samples[0]:.2f} ms, max {samples[-1]:.2f} ms; "
      f"vmm's own share {median(samples) - median(floors):.2f} ms")
