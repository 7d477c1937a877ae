#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vmm-exec-init (the guest init of vmm --exec) run on the host, where it can
be: inside a user and mount namespace (`unshare -rm`), chrooted into a
temporary directory, so that its mkdir lands there and its privileged calls
(mount 9p, ioperm, reboot) fail harmlessly -- never as real root outside a
namespace, where ioperm would reach the host's I/O ports. Checks its failure
paths: one line naming the problem and the status 125 (EXEC_STATUS_INIT_FAILED),
for a missing command-line contract and for a 9p root that cannot be mounted.

    test_exec_init.py build/tools/exec-init/vmm-exec-init

Prints "N passed, N failed, N skipped".
"""
import os
import shutil
import subprocess
import sys

from cli_common import scratch_dir

init = os.path.abspath(sys.argv[1])
tmp = scratch_dir("vmm-exec-init-")
shutil.copy(init, os.path.join(tmp, "vmm-exec-init"))

# Absolute paths: each case runs with nothing in its environment but its own.
unshare, chroot = shutil.which("unshare"), shutil.which("chroot")
probe = subprocess.run([unshare or "unshare", "-rm", "true"], capture_output=True)
if not chroot or probe.returncode != 0:
    print("SKIP no user namespaces (unshare -rm): the init is run only inside one")
    print("0 passed, 0 failed, 3 skipped")
    sys.exit(0)

# (name, environment, words the error line must contain)
CASES = [
    ("no command-line contract", {}, ["start me with vmm --exec"]),
    ("bad encoding", {"vmm_root": "vmmroot", "vmm_exec": "a%zz", "vmm_exit_port": "1281"},
     ["bad vmm_exec="]),
    ("9p root cannot be mounted", {"vmm_root": "vmmroot", "vmm_exec": "true",
                                   "vmm_exit_port": "1281"}, ["9p"]),
]
passed = failed = 0
for name, env, words in CASES:
    p = subprocess.run([unshare, "-rm", chroot, tmp, "/vmm-exec-init"], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    errors = [l for l in p.stderr.splitlines() if "error:" in l]
    problems = []
    if p.returncode != 125:
        problems.append(f"status {p.returncode}, expected 125")
    if len(errors) != 1 or not all(w in errors[0] for w in words):
        problems.append(f"error lines {errors!r} do not mention {words}")
    if problems:
        print(f"FAIL {name}: " + "; ".join(problems) + f" (stderr {p.stderr!r})")
        failed += 1
    else:
        print(f"ok   {name}: {errors[0]}")
        passed += 1
print(f"{passed} passed, {failed} failed, 0 skipped")
sys.exit(1 if failed else 0)
