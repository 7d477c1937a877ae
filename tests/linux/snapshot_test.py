#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A Linux boot snapshotted part-way and restored must reach the same end
markers as an uninterrupted boot (tests/linux/boot_test.py's).

    python3 tests/linux/snapshot_test.py --vmm build/vmm \\
        --save build/tests/guests/snapshot-save [--pattern 'smp: Brought up']

The kernel and initramfs are boot_test.py's (current.env). snapshot-save
boots them with 2 vCPUs and 256 MiB, pauses the VM when PATTERN appears on
the console, saves it and is killed with SIGKILL; `vmm --incoming` then
restores the file, and the console after the restore must show the rest of
the boot: the ACPI DSDT, the serial console, the kernel starting /init, and
on PVM hosts the panic after /init dies (exit status 4; 0 elsewhere, /init
powering off). Exit status: 0 pass, 1 fail, 77 skip."""

import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot_test  # noqa: E402 (its milestones, cmdline and cache lookup)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vmm", required=True)
    p.add_argument("--save", required=True, help="tests/guests/snapshot-save")
    p.add_argument("--pattern", default="smp: Brought up")
    p.add_argument("--timeout", type=int, default=900)
    args = p.parse_args()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("SKIP: /dev/kvm not available")
        return boot_test.SKIP
    cache = os.environ.get("VMM_CACHE", os.path.expanduser("~/.cache/vmm"))
    env = boot_test.read_env(os.path.join(cache, "current.env"))
    pvm = boot_test.is_pvm()
    kernel = env.get("KERNEL")
    initrd = env.get("INITRD_MINI" if pvm else "INITRD")
    if not kernel or not initrd or not os.path.exists(kernel) or not os.path.exists(initrd):
        print("SKIP: guest images not built (guest-images/build-all.sh)")
        return boot_test.SKIP
    cmdline = boot_test.BASE_CMDLINE
    with tempfile.TemporaryDirectory(prefix="vmm-linux-snap-") as tmp:
        snap, before_log, after_log = (os.path.join(tmp, n) for n in ("vm.snap", "a", "b"))
        cmd = [args.save, "--kill", snap, args.pattern, "vmm", "--kernel", kernel,
               "--initrd", initrd, "--cpus", "2", "--mem", "256M", "--cmdline", cmdline,
               "--console-log", before_log]
        print("$ " + " ".join(cmd), flush=True)
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=args.timeout)
        if r.returncode != -9 or not os.path.exists(snap):
            print(f"FAIL: snapshot-save ended with {r.returncode}: {r.stderr.decode()}")
            return 1
        cmd = [args.vmm, "--incoming", "file:" + snap, "--console-log", after_log,
               "--timeout", str(args.timeout)]
        print("$ " + " ".join(cmd), flush=True)
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=args.timeout + 60)
        with open(before_log, "rb") as f:
            before = f.read().decode(errors="replace")
        with open(after_log, "rb") as f:
            after = f.read().decode(errors="replace")
    print(f"saved at {args.pattern!r} after {len(before)} bytes of console; "
          f"{len(after)} bytes after the restore; vmm exit status {r.returncode}")
    failures = []
    stones = [s for s in boot_test.milestones(2) if s[2]]
    whole = before + after
    for name, regex, _ in stones:
        if not re.search(regex, whole):
            failures.append(f"no {name!r} in the console")
    for name, regex in (("/init started", r"Run /init as init process"),
                        ("ACPI DSDT loaded", r"ACPI AML tables successfully acquired")):
        if not re.search(regex, after):
            failures.append(f"{name!r} not reached after the restore")
    expect = 4 if pvm else 0
    if pvm and "Kernel panic - not syncing" not in after:
        failures.append("no kernel panic after /init (expected on PVM hosts)")
    if r.returncode != expect:
        failures.append(f"vmm exit status {r.returncode}, expected {expect}: "
                        f"{r.stderr.decode(errors='replace')[-500:]}")
    print("--- console after the restore (tail) ---")
    print(after[-3000:])
    for f in failures:
        print("FAIL: " + f)
    if not failures:
        print("PASS: linux-snapshot")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
