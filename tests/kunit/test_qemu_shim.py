#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tools/kunit/qemu-system-vmm: kunit.py's QEMU flags in, vmm's flags out.

Runs the shim as kunit.py does, with VMM pointing at a stand-in that prints
the argv it got, and checks the translation and the refusals (one line,
status 2). Prints "N passed, N failed".
"""
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIM = os.path.join(REPO, "tools", "kunit", "qemu-system-vmm")
KUNIT = ["-nodefaults", "-m", "1024", "-kernel", "/k/vmlinux", "-append",
         "kunit.enable=1 console=ttyS0 kunit_shutdown=reboot", "-no-reboot", "-nographic",
         "-serial", "stdio"]

# (name, QEMU argv, expected vmm argv or None for a refusal, words of the error)
CASES = [
    ("kunit.py's own flags", KUNIT,
     ["--mem", "1024M", "--kernel", "/k/vmlinux", "--cmdline",
      "kunit.enable=1 console=ttyS0 kunit_shutdown=reboot"], None),
    ("stock x86_64 config's -bios qboot.rom ignored", KUNIT + ["-bios", "qboot.rom"],
     ["--mem", "1024M", "--kernel", "/k/vmlinux", "--cmdline",
      "kunit.enable=1 console=ttyS0 kunit_shutdown=reboot"], None),
    ("without -no-reboot a reboot restarts", ["-kernel", "k", "-m", "2G"],
     ["--kernel", "k", "--mem", "2G", "--reboot"], None),
    ("--long spelling, -smp, -initrd, size=", ["--kernel", "k", "-smp", "cpus=2,sockets=1",
                                               "-initrd", "rd", "-m", "size=512M,slots=2",
                                               "-no-reboot", "-display", "none"],
     ["--kernel", "k", "--cpus", "2", "--initrd", "rd", "--mem", "512M"], None),
    ("-vmm passes an option through", ["-kernel", "k", "-no-reboot", "-vmm", "--timeout=60"],
     ["--kernel", "k", "--timeout=60"], None),
    ("unknown option refused", ["-kernel", "k", "-device", "virtio-rng"], None,
     ["-device"]),
    ("serial other than stdio refused", ["-kernel", "k", "-serial", "pty"], None, ["-serial"]),
    ("bad -m refused", ["-kernel", "k", "-m", "lots"], None, ["-m", "lots"]),
    ("option without value", ["-kernel"], None, ["-kernel", "needs a value"]),
    ("stray argument", ["-kernel", "k", "extra"], None, ["extra"]),
]

with tempfile.TemporaryDirectory(prefix="qemu-shim-") as tmp:
    fake = os.path.join(tmp, "fake-vmm")
    with open(fake, "w") as f:
        f.write("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\nexit 3\n")
    os.chmod(fake, 0o755)
    passed = failed = 0
    for name, argv, want, words in CASES:
        r = subprocess.run([SHIM] + argv, env=dict(os.environ, VMM=fake), capture_output=True,
                           text=True, stdin=subprocess.DEVNULL)
        problems = []
        if want is not None:
            got = r.stdout.splitlines()
            if r.returncode != 3:  # the stand-in's status comes back through exec
                problems.append(f"status {r.returncode}, expected the stand-in's 3")
            if got != want:
                problems.append(f"vmm got {got!r}, expected {want!r}")
        else:
            lines = [l for l in r.stderr.splitlines() if l.strip()]
            if r.returncode != 2:
                problems.append(f"status {r.returncode}, expected 2")
            if r.stdout:
                problems.append(f"vmm ran: {r.stdout!r}")
            if len(lines) != 1 or not all(w in lines[0] for w in words):
                problems.append(f"stderr {lines!r} is not one line naming {words}")
        if problems:
            print(f"FAIL {name}: " + "; ".join(problems))
            failed += 1
        else:
            print(f"ok   {name}")
            passed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
