#!/usr/bin/env python3
"""PIO VM-exit round trip: vmm's full path versus a bare KVM_RUN loop.

vmm: the pioloop test guest writes port 0x80 N times; every write exits to
vmm's vCPU thread, goes through the PIO bus (lookup, device lock, handler)
and back into KVM_RUN. The per-exit cost is (time(N) - time(0)) / N, so
process start-up and the guest's own setup cancel out.
bare: bench/kvm_bare_loop, a 100-line VMM whose vCPU runs `out 0x80` N times
in real mode and whose loop does nothing but re-enter KVM_RUN.
in vmm: vmm --trace-exits times its own share directly (from KVM_RUN returning
to the next KVM_RUN: exit decoding, bus lookup, device lock and handler). The
rest of the difference to the bare loop is on the guest and KVM side: both
guests run the same 3-instruction loop, but vmm's in 64-bit mode with paging
and the bare one in real mode, which matters on hosts that interpret guest
ring-0 code (PVM).
"""
import argparse
import os
import re
import subprocess

from common import BUILD, GUESTS, median, require_kvm, run_vmm

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("-n", type=int, default=200000)
ap.add_argument("--runs", type=int, default=5)
args = ap.parse_args()
require_kvm()

guest = os.path.join(GUESTS, "pioloop.elf")
base = median([run_vmm(["--kernel", guest, "--cmdline", "n=0"])[3] for _ in range(args.runs)])
full = median([run_vmm(["--kernel", guest, "--cmdline", f"n={args.n}"])[3] for _ in range(args.runs)])
vmm_ns = (full - base) / args.n



def bare(extra):
    xs = []
    for _ in range(args.runs):
        out = subprocess.run([os.path.join(BUILD, "bench", "kvm_bare_loop"), str(args.n)] + extra,
                             capture_output=True, text=True, check=True, timeout=600).stdout
        xs.append(float(re.search(r"\(([\d.]+) ns/exit\)", out).group(1)))
    return median(xs)


traced = run_vmm(["--kernel", guest, "--cmdline", f"n={args.n}", "--trace-exits"])[1]
in_vmm_ns = float(re.search(r"([\d.]+) ns in vmm per exit", traced).group(1))
bare_ns = bare([])
bare_irq_ns = bare(["irqchip"])
print(f"exit round trip ({args.n} PIO writes, median of {args.runs}): "
      f"vmm {vmm_ns:.0f} ns/exit; bare KVM_RUN loop {bare_ns:.0f} ns/exit, "
      f"with in-kernel irqchip {bare_irq_ns:.0f} ns/exit; "
      f"vmm adds {vmm_ns - bare_irq_ns:.0f} ns ({vmm_ns / bare_irq_ns:.2f}x the irqchip loop), "
      f"of which {in_vmm_ns:.0f} ns are spent in vmm's exit handling")
