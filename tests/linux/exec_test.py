#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vmm --exec with the Linux test guest (guest-images/): the kernel must
unpack --exec's initramfs and start our init.

    python3 tests/linux/exec_test.py [--vmm build/vmm] [--kernel vmlinux]

Runs `vmm --kernel K --exec 'uname -r; exit 7'` (kernel log on: loglevel=7).

  - On a host whose KVM is PVM guest user space cannot make system calls
    (docs/pvm.md), so this mode is exercised only up to the kernel starting
    the init: the log must show the command line handed to user space and
    "Run /vmm-exec-init as init process", after which the init's first
    system call faults, the kernel panics and vmm exits with status 4.
  - Elsewhere the init mounts the host's / over 9p and runs the command: the
    kernel's release must be printed and vmm must exit with status 7.

Skips (77) without /dev/kvm, without the guest images, or when the kernel
lacks 9p or ioperm (vmm refuses it in one line, which is checked).
"""

import argparse
import os
import re
import subprocess
import sys

SKIP = 77
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CMDLINE = "console=ttyS0 loglevel=7 no_timer_check tsc=reliable pci=off"


def read_env(path):
    env = {}
    try:
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.strip().split("=", 1)
                    env[k] = v
    except OSError:
        pass
    return env


def main():
    cache = os.environ.get("VMM_CACHE", os.path.expanduser("~/.cache/vmm"))
    env = read_env(os.path.join(cache, "current.env"))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vmm", default=os.path.join(REPO, "build", "vmm"))
    p.add_argument("--kernel", default=os.environ.get("KERNEL", env.get("KERNEL")))
    p.add_argument("--timeout", type=int, default=900)
    args = p.parse_args()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("SKIP: /dev/kvm is missing or not accessible")
        return SKIP
    if not args.kernel or not os.path.isfile(args.kernel):
        print("SKIP: no guest kernel (run guest-images/build-all.sh)")
        return SKIP
    pvm = os.path.exists("/sys/module/kvm_pvm")
    cmd = [args.vmm, "--kernel", args.kernel, "--mem", "256M", "--timeout", str(args.timeout),
           "--cmdline", CMDLINE, "--exec", "uname -r; exit 7"]
    print("exec_test: $", " ".join(cmd))
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, errors="replace")
    if r.returncode == 1 and "lacks what --exec needs" in r.stderr:
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        if len(lines) != 1:
            print(f"FAIL: the refusal is not one line: {lines!r}")
            return 1
        print(f"SKIP: the guest kernel lacks 9p or ioperm; vmm said so in one line: {lines[0]}")
        return SKIP
    out = r.stdout
    failures = []
    want = [("command line to user space",
             r'Unknown kernel command line parameters ".*vmm_exec=uname%20-r%3B%20exit%207'),
            ("init started", r"Run /vmm-exec-init as init process")]
    for name, rx in want:
        if re.search(rx, out):
            print(f"exec_test: ok: {name}")
        else:
            failures.append(f"no '{name}' in the log")
    if pvm:
        if r.returncode != 4:
            failures.append(f"vmm exited {r.returncode}, expected 4 (the init faults on PVM)")
    else:
        if r.returncode != 7:
            failures.append(f"vmm exited {r.returncode}, expected CMD's status 7")
        if not re.search(r"^\d+\.\d+\.\d+\S*\s*$", out, re.M):
            failures.append("no kernel release printed by `uname -r`")
    if failures:
        print(out[-4000:])
        print(r.stderr[-2000:])
        print("FAIL: " + "; ".join(failures))
        return 1
    print(f"PASS (vmm exit status {r.returncode}{', PVM host' if pvm else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
