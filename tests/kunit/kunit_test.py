#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run the kernel's own KUnit tests under vmm with the unmodified kunit.py.

    python3 tests/kunit/kunit_test.py [--vmm build/vmm] [--timeout 1800]

From Debian's linux-source-6.1 (unpacked once into the cache by
tools/kunit/kunit-src.sh) it runs

    kunit.py run --qemu_config=tools/kunit/vmm_x86_64.py --kunitconfig=lib/kunit
                 --build_dir=<cache>/kunit-build-<hash>

with a qemu-system-x86_64 and a qemu-system-vmm that fail (and leave a mark)
first on PATH: the config must reach vmm through its own shim, never QEMU.
It passes when kunit.py exits 0, its summary says every test passed or was
skipped (lib/kunit's example suite skips two on purpose) and none failed or
crashed, and neither fake QEMU ran. The kernel build is kept in the cache
(kunit.py rebuilds incrementally there); the first build takes several
minutes on 2 cores. Exit status: 0 pass, 1 fail, 77 skip (no /dev/kvm, or
no linux-source-6.1).
"""

import argparse
import fcntl
import os
import re
import subprocess
import sys
import tempfile
import time

SKIP = 77
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO, "tools", "kunit", "vmm_x86_64.py")
FAKE_QEMU = """#!/bin/sh
echo "fake $(basename "$0") ran: kunit.py must not run QEMU" >&2
touch "{mark}"
exit 1
"""


def prepare_source():
    """(source tree, build dir) from kunit-src.sh, or None and the reason."""
    r = subprocess.run([os.path.join(REPO, "tools", "kunit", "kunit-src.sh")],
                       stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        return None
    env = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    return env.get("KUNIT_SRC"), env.get("KUNIT_BUILD")


def summary(output):
    """(ran, passed, the rest) from kunit.py's "Testing complete. Ran N tests:
    passed: P[, skipped: S][, failed: F]..."."""
    m = re.search(r"Testing complete\. Ran (\d+) tests?: passed: (\d+)(.*)", output)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), m.group(3).strip(", ")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vmm", default=os.environ.get("VMM", os.path.join(REPO, "build", "vmm")))
    p.add_argument("--timeout", type=int, default=1800,
                   help="kunit.py's --timeout for the test run, seconds")
    p.add_argument("--kunitconfig", default="lib/kunit")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = p.parse_args()

    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("SKIP: /dev/kvm is missing or not accessible")
        return SKIP
    if not os.path.isfile("/usr/src/linux-source-6.1.tar.xz"):
        print("SKIP: linux-source-6.1 is not installed (scripts/install-deps.sh)")
        return SKIP
    paths = prepare_source()
    if not paths or not all(paths):
        print("FAIL: tools/kunit/kunit-src.sh failed")
        return 1
    src, build_dir = paths
    vmm = os.path.abspath(args.vmm)

    with tempfile.TemporaryDirectory(prefix="kunit-test-") as tmp:
        mark = os.path.join(tmp, "qemu-ran")
        fake_dir = os.path.join(tmp, "bin")
        os.mkdir(fake_dir)
        for name in ("qemu-system-x86_64", "qemu-system-vmm"):
            path = os.path.join(fake_dir, name)
            with open(path, "w") as f:
                f.write(FAKE_QEMU.format(mark=mark))
            os.chmod(path, 0o755)
        env = dict(os.environ, VMM=vmm, PATH=fake_dir + os.pathsep + os.environ["PATH"])
        cmd = [sys.executable, "tools/testing/kunit/kunit.py", "run",
               f"--qemu_config={CONFIG}", f"--kunitconfig={args.kunitconfig}",
               f"--build_dir={build_dir}", f"--jobs={args.jobs}",
               f"--timeout={args.timeout}"]
        print("kunit_test: in", src)
        print("kunit_test: $", " ".join(cmd))
        # One kunit.py at a time per build directory (build/ and build-asan/
        # may run this test at once).
        with open(build_dir + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            start = time.monotonic()
            r = subprocess.run(cmd, cwd=src, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            took = time.monotonic() - start
        print(r.stdout)
        print(f"kunit_test: kunit.py exited {r.returncode} after {took:.0f} s")
        failures = []
        if os.path.exists(mark):
            failures.append("a fake QEMU ran")
        if r.returncode != 0:
            failures.append(f"kunit.py exited {r.returncode}")
        s = summary(r.stdout)
        if not s:
            failures.append("no 'Testing complete' summary")
        else:
            # lib/kunit's example suite skips two tests on purpose
            # (example_skip_test, example_mark_skipped_test): a skip is
            # kunit.py's success; a failure, crash or error is not.
            ran, passed, rest = s
            skipped = int(m.group(1)) if (m := re.fullmatch(r"skipped: (\d+)", rest)) else 0
            print(f"kunit_test: {ran} tests ran: {passed} passed, {skipped} skipped"
                  f"{'' if not rest or skipped else ', ' + rest}")
            if passed == 0 or passed + skipped != ran:
                failures.append(f"not every test passed ({passed} of {ran}: {rest})")
        if "Running tests with:" not in r.stdout or "qemu-system-vmm" not in r.stdout:
            failures.append("kunit.py did not start qemu-system-vmm")
    if failures:
        print("FAIL: " + "; ".join(failures))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
