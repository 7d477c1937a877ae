#!/usr/bin/env python3
"""The sandbox's cost: the same benchmarks with --sandbox=off and on, in one run.

Each benchmark below runs vmm's own threads, which is where the seccomp
filters sit (every system call of a filtered thread runs its BPF program
first): the PIO exit round trip (each exit is a KVM_RUN ioctl on the vCPU
thread), the guest's virtio-blk IOPS (the event loop's and the I/O pool's
calls), and process start to first KVM_RUN (what sandbox_prepare() and the
vCPU's own filter add: Landlock, the syscall-name table, building the BPF).
bench/disk_backend.c and bench/virtio_net_pps.c drive the devices without
vmm's threads or filters, so they are not repeated here.

Targets (issue 10): within 3% on the exit round trip and the I/O benchmarks,
under 2 ms added to start-up. Off and on alternate, so a load change on the
host hits both.
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--rounds", type=int, default=2, help="off/on pairs per benchmark")
args = ap.parse_args()

BENCHES = [
    ("startup", ["startup.py", "--runs", "10"]),
    ("exit round trip", ["exit_roundtrip.py", "-n", "100000", "--runs", "3"]),
    ("guest blk IOPS", ["guest_blk_iops.py", "--size", "64", "--n1", "1000", "--n32", "5000",
                        "--runs", "1", "--formats", "raw"]),
]

for name, cmd in BENCHES:
    for r in range(args.rounds):
        for mode in ("off", "on"):
            env = dict(os.environ, VMM_BENCH_ARGS="--sandbox=" + mode)
            p = subprocess.run([sys.executable] + cmd, cwd=HERE, env=env, capture_output=True,
                               text=True)
            if p.returncode == 77:
                print(p.stdout.strip())
                sys.exit(77)
            if p.returncode:
                sys.exit(f"bench: {name} (--sandbox={mode}) failed:\n{p.stdout}{p.stderr}")
            for line in p.stdout.strip().splitlines():
                print(f"sandbox={mode:3} round {r + 1}: {line}", flush=True)
