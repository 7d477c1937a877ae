#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kunit.py's wall time for lib/kunit on vmm, with its parts.

    python3 bench/kunit_time.py [--vmm build/vmm] [--cold] [--compare-images]

Runs `kunit.py run --qemu_config=tools/kunit/vmm_x86_64.py
--kunitconfig=lib/kunit` in the linux-source-6.1 tree that
tools/kunit/kunit-src.sh unpacks, with the cached build directory (so the
build part is kunit.py's incremental make over a built tree), and prints:

  - kunit.py's own split ("Elapsed time: T total, C configuring, B building,
    R running");
  - the running part split by the guest's printk clock in the console log
    (build_dir/test.log): boot = kernel start to the first KTAP line, tests =
    the first KTAP line to the last result, and the rest of R (vmm start-up,
    the reboot, kunit.py's parsing) as host overhead.

--cold also builds the kernel once from scratch in a temporary build
directory (minutes on 2 cores) and reports that build time.
--compare-images boots the built kernel straight in vmm twice, as the ELF
vmlinux and as arch/x86/boot/bzImage, with kunit.py's command line, and
prints the time to the first kernel message, to the first KTAP line and to
vmm's exit for each (the bzImage decompresses itself first).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "tools", "kunit", "vmm_x86_64.py")
PRINTK = re.compile(r"^\[\s*(\d+\.\d+)\]")
# kunit.py's command line for the kernel, then the config's own words.
KUNIT_CMDLINE = ("kunit.enable=1 console=ttyS0 panic=-1 tsc=reliable no_timer_check pci=off "
                 "kunit_shutdown=reboot")


def source_paths():
    out = subprocess.run([os.path.join(REPO, "tools", "kunit", "kunit-src.sh")],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return env["KUNIT_SRC"], env["KUNIT_BUILD"]


def run_kunit(src, build_dir, vmm, jobs):
    cmd = [sys.executable, "tools/testing/kunit/kunit.py", "run", f"--qemu_config={CONFIG}",
           "--kunitconfig=lib/kunit", f"--build_dir={build_dir}", f"--jobs={jobs}"]
    start = time.monotonic()
    r = subprocess.run(cmd, cwd=src, env=dict(os.environ, VMM=vmm), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - start
    if r.returncode != 0:
        sys.exit(f"kunit.py failed ({r.returncode}):\n{r.stdout[-3000:]}")
    return r.stdout, wall


def guest_split(log_path):
    """(boot, tests) in guest seconds from the printk times of test.log."""
    first_ktap = last_result = None
    with open(log_path, errors="replace") as f:
        for line in f:
            m = PRINTK.match(line)
            if not m:
                continue
            t = float(m.group(1))
            if first_ktap is None and re.search(r"\bK?TAP version \d+", line):
                first_ktap = t
            if re.search(r"\b(not )?ok \d+ ", line):
                last_result = t
    if first_ktap is None or last_result is None:
        return None
    return first_ktap, last_result - first_ktap


def boot_image(vmm, image, timeout=1800):
    """Seconds to the first console byte, the first KTAP line, and exit."""
    start = time.monotonic()
    first = ktap = None
    p = subprocess.Popen([vmm, "--kernel", image, "--mem", "1024M", "--timeout", str(timeout),
                          "--cmdline", KUNIT_CMDLINE], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         errors="replace")
    for line in p.stdout:
        now = time.monotonic() - start
        if first is None:
            first = now
        if ktap is None and "TAP version" in line:
            ktap = now
    status = p.wait()
    return first, ktap, time.monotonic() - start, status


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vmm", default=os.environ.get("VMM", os.path.join(REPO, "build", "vmm")))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--cold", action="store_true", help="also time a build from scratch")
    ap.add_argument("--compare-images", action="store_true",
                    help="boot vmlinux and bzImage directly and compare")
    args = ap.parse_args()
    vmm = os.path.abspath(args.vmm)
    src, build_dir = source_paths()

    if args.cold:
        cold_dir = tempfile.mkdtemp(prefix="kunit-cold-")
        try:
            out, wall = run_kunit(src, cold_dir, vmm, args.jobs)
            m = re.search(r"([\d.]+)s configuring, ([\d.]+)s building", out)
            print(f"cold build (empty build dir, make -j{args.jobs}): configure "
                  f"{float(m.group(1)):.1f} s, build {float(m.group(2)):.1f} s")
        finally:
            shutil.rmtree(cold_dir, ignore_errors=True)

    # With the cache filled (the kunit test or an earlier run), "building" is
    # kunit.py's incremental make over a built tree.
    out, wall = run_kunit(src, build_dir, vmm, args.jobs)
    m = re.search(r"Elapsed time: ([\d.]+)s total, ([\d.]+)s configuring, ([\d.]+)s building, "
                  r"([\d.]+)s running", out)
    summ = re.search(r"Testing complete\..*", out)
    total, conf, build, running = (float(x) for x in m.groups())
    print(f"kunit.py run, lib/kunit, cached build ({summ.group(0) if summ else '?'})")
    print(f"  wall {wall:.1f} s: kunit.py total {total:.1f} s = configure {conf:.1f} + "
          f"build (incremental make) {build:.1f} + running {running:.1f}")
    split = guest_split(os.path.join(build_dir, "test.log"))
    if split:
        boot, tests = split
        print(f"  running {running:.1f} s = guest boot to first KTAP line {boot:.1f} s + "
              f"tests {tests:.1f} s + host (vmm start, reboot, parsing) "
              f"{running - boot - tests:.1f} s (guest printk clock)")

    if args.compare_images:
        for name, rel in (("vmlinux (ELF)", "vmlinux"), ("bzImage", "arch/x86/boot/bzImage")):
            first, ktap, end, status = boot_image(vmm, os.path.join(build_dir, rel))
            fmt = lambda v: f"{v:.1f} s" if v is not None else "never"
            print(f"  {name:14s} first output {fmt(first)}, first KTAP line {fmt(ktap)}, "
                  f"vmm exit {end:.1f} s (status {status})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
