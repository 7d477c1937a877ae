#!/usr/bin/env python3
"""Process start to first KVM_RUN with --jail, a cgroup limit, and neither.

The method of startup.py (hello.elf, 512 MiB, 2 vCPUs, median of N runs),
with the three variants interleaved run by run so that a change in the
host's load falls on all of them alike. What --jail adds: the supervising
fork, the namespaces, opening each disk's chain to find its files, the
tmpfs root with its bind mounts and /proc, pivot_root. What --cpu-limit
adds: the fork and creating, filling and removing a cgroup (the removal is
after the VM, outside the figure). Target: under 2 ms added.
Root only (the cgroup, and the jail without a user namespace).
"""
import argparse
import os
import re
import sys

from common import GUESTS, first_run_ns, median, require_kvm, run_vmm

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--runs", type=int, default=20)
ap.add_argument("--mem", default="512M")
ap.add_argument("--cpus", type=int, default=2)
args = ap.parse_args()
require_kvm()
if os.geteuid() != 0:
    print("SKIP: needs root (cgroups)")
    sys.exit(77)

kernel = os.path.join(GUESTS, "hello.elf")
base = ["--kernel", kernel, "--mem", args.mem, "--cpus", str(args.cpus)]
# -v twice: the jail's own step times (jail.c, jail_root.c)
variants = {"plain": ["-v"], "--jail": ["-v", "--jail"], "--cpu-limit 2": ["-v", "--cpu-limit", "2"],
            "--mem-limit 1G": ["-v", "--mem-limit", "1G"],
            "--jail --cpu-limit 2": ["-v", "--jail", "--cpu-limit", "2"]}
samples = {k: [] for k in variants}
steps = {"files": [], "namespaces": [], "root": [], "cgroup+fork+move": []}
for _ in range(args.runs):
    for name, extra in variants.items():
        t0, err, _, _ = run_vmm(base + extra)
        samples[name].append((first_run_ns(err) - t0) / 1e6)
        m = re.search(r"jail: files ([\d.]+) ms, namespaces ([\d.]+) ms, root ([\d.]+) ms", err)
        if m and name == "--jail":
            for k, v in zip(("files", "namespaces", "root"), m.groups()):
                steps[k].append(float(v))
        m = re.search(r"jail: cgroup made, child forked and moved in: ([\d.]+) ms", err)
        if m and name == "--cpu-limit 2":
            steps["cgroup+fork+move"].append(float(m.group(1)))
for k, v in steps.items():
    if v:
        print(f"startup_jail: in-process step {k:18s} median {median(v):6.2f} ms")
plain = median(samples["plain"])
for name, s in samples.items():
    s.sort()
    print(f"startup_jail: {name:22s} median {median(s):6.2f} ms (min {s[0]:.2f}, max {s[-1]:.2f})"
          f"; added {median(s) - plain:+.2f} ms")
