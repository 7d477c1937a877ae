"""Shared helpers for the bench/ scripts (python3 stdlib only)."""
import os
import re
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("VMM_BUILD", os.path.join(ROOT, "build"))
VMM = os.path.join(BUILD, "vmm")
GUESTS = os.path.join(BUILD, "tests", "guests")
# Extra vmm options for every run (bench/sandbox.py: --sandbox=off vs on).
VMM_ARGS = shlex.split(os.environ.get("VMM_BENCH_ARGS", ""))


def require_kvm():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("SKIP: /dev/kvm not available")
        sys.exit(77)
    for path in (VMM, os.path.join(GUESTS, "hello.elf")):
        if not os.path.exists(path):
            print(f"bench: {path} missing: run scripts/build.sh first", file=sys.stderr)
            sys.exit(1)


def run_vmm(args, expect_status=0):
    """Run vmm with -v; return (t_spawn_ns, stderr text, rusage, wall_ns)."""
    t0 = time.monotonic_ns()
    p = subprocess.Popen([VMM, "-v"] + VMM_ARGS + args, stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, rusage = os.wait4(p.pid, 0)
    t1 = time.monotonic_ns()
    err = p.stderr.read().decode(errors="replace")
    p.stdin.close()
    p.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != expect_status:
        raise SystemExit(f"bench: vmm {' '.join(args)} exited {code}, expected {expect_status}:\n{err}")
    return t0, err, rusage, t1 - t0


def first_run_ns(stderr):
    m = re.search(r"first KVM_RUN at monotonic (\d+) ns", stderr)
    if not m:
        raise SystemExit("bench: vmm did not report its first KVM_RUN (needs -v)")
    return int(m.group(1))


def touched_kib(stderr):
    m = re.search(r"guest RAM touched: (\d+) KiB", stderr)
    if not m:
        raise SystemExit("bench: vmm did not report guest RAM touched (needs -v)")
    return int(m.group(1))


def median(xs):
    return statistics.median(xs)


def peak_rss_kib(stderr):
    m = re.search(r"peak RSS: (\d+) KiB", stderr)
    if not m:
        raise SystemExit("bench: vmm did not report its peak RSS (needs -v)")
    return int(m.group(1))
