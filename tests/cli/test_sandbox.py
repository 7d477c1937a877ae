#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The in-process sandbox (vmm/sandbox*.c): seccomp per thread kind,
capabilities, no_new_privs, rlimits, stray fds, Landlock.

    test_sandbox.py --vmm build/vmm --vmm-test build/vmm-test --guest-dir build/tests/guests

vmm-test is vmm built with -DVMM_TEST_HOOKS: VMM_TEST_SANDBOX_TRIGGER=<kind>
makes that thread kind issue a system call no list allows, and
VMM_TEST_LANDLOCK_OPEN=<path> makes the main thread try to open a file once
it is sandboxed and print the result. Needs /dev/kvm (skips without it).
Prints "N passed, N failed, N skipped"; exit 0 only if nothing failed.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import time

from cli_common import scratch_dir

ap = argparse.ArgumentParser()
ap.add_argument("--vmm", required=True)
ap.add_argument("--vmm-test", required=True)
ap.add_argument("--guest-dir", required=True)
args = ap.parse_args()

results = {"passed": 0, "failed": 0, "skipped": 0}
tmp = scratch_dir("vmm-sandbox-")
hello = os.path.join(args.guest_dir, "hello.elf")
hang = os.path.join(args.guest_dir, "hang.elf")
disk = os.path.join(tmp, "disk.raw")
with open(disk, "wb") as f:
    f.truncate(16 << 20)
FORBIDDEN = re.compile(r"^vmm: sandbox: (main|vcpu|disk I/O) thread made a forbidden "
                       r"system call: (\w+) \((\d+)\)$")


def report(name, ok, why=""):
    results["passed" if ok else "failed"] += 1
    print("%s: %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else ": " + why), flush=True)


def run(exe, argv, env=None, timeout=60):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([exe] + argv, env=e, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout)
    return p.returncode, p.stderr.decode(errors="replace")


def last_line(text):
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    return lines[-1] if lines else ""


def threads_status(pid):
    """{tid: {field: value}} for every thread of pid."""
    out = {}
    for t in glob.glob("/proc/%d/task/*/status" % pid):
        fields = {}
        with open(t) as f:
            for line in f:
                k, _, v = line.partition(":")
                fields[k] = v.strip()
        out[t.split("/")[4]] = fields
    return out


def with_running_vm(argv, check):
    """Start vmm on the hang guest, wait for its vCPU threads, run check(pid)."""
    p = subprocess.Popen([args.vmm, "--kernel", hang, "--timeout", "30"] + argv,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, pass_fds=argv_fds)
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            names = [s.get("Name", "") for s in threads_status(p.pid).values()]
            if sum(n.startswith("vcpu") for n in names) >= 2:
                break
            time.sleep(0.05)
        time.sleep(0.3)  # the main thread installs its filter after starting the vCPUs
        return check(p.pid)
    finally:
        p.kill()
        p.wait()
        p.stderr.close()


argv_fds = ()

if not os.access("/dev/kvm", os.R_OK | os.W_OK):
    print("SKIP: /dev/kvm cannot be opened: the sandbox tests need a running VM")
    print("0 passed, 0 failed, 1 skipped")
    sys.exit(77)

# 1. A forbidden system call from each thread kind: one line, status 6.
disk_args = ["--disk", disk + ",format=raw,aio=threads"]
for kind in ("main", "vcpu", "disk I/O"):
    rc, err = run(args.vmm_test, ["--kernel", hello, "--timeout", "20"] + disk_args,
                  env={"VMM_TEST_SANDBOX_TRIGGER": kind})
    m = FORBIDDEN.match(last_line(err))
    report("forbidden call on a %s thread ends vmm with status 6 and one line" % kind,
           rc == 6 and m and m.group(1) == kind and m.group(2) == "personality"
           and m.group(3) == "135", "status %d, stderr %r" % (rc, err[-300:]))

# 2. --sandbox=log: the same call is only logged; the guest runs to its end.
rc, err = run(args.vmm_test, ["--kernel", hello, "--timeout", "20", "--sandbox=log",
                              "--cmdline", "exit=9"], env={"VMM_TEST_SANDBOX_TRIGGER": "vcpu"})
report("--sandbox=log lets a forbidden call through", rc == 9 and "sandbox:" not in err,
       "status %d, stderr %r" % (rc, err[-300:]))


# 3. Every thread of a running VM: Seccomp 2, NoNewPrivs 1, no capabilities.
def check_on(pid):
    st = threads_status(pid)
    bad = {t: (s.get("Name"), s.get("Seccomp"), s.get("NoNewPrivs"), s.get("CapEff"),
               s.get("CapPrm"), s.get("CapBnd"))
           for t, s in st.items()
           if s.get("Seccomp") != "2" or s.get("NoNewPrivs") != "1"
           or int(s.get("CapEff", "1"), 16) or int(s.get("CapPrm", "1"), 16)
           or int(s.get("CapBnd", "1"), 16) and os.geteuid() == 0}
    kinds = sorted(s.get("Name", "") for s in st.values())
    # main, 2 vCPUs and the disk's I/O pool (named after vmm: not vcpu*)
    return len(st) >= 4 and not bad, "threads %s, not sandboxed: %s" % (kinds, bad)


ok, why = with_running_vm(["--cpus", "2"] + disk_args, check_on)
report("every thread: Seccomp 2, NoNewPrivs 1, CapEff/CapPrm 0", ok, why)


def check_off(pid):
    st = threads_status(pid)
    bad = {t: s.get("Seccomp") for t, s in st.items() if s.get("Seccomp") != "0"}
    return len(st) >= 3 and not bad, "threads with a filter: %s" % bad


ok, why = with_running_vm(["--cpus", "2", "--sandbox=off"] + disk_args, check_off)
report("--sandbox=off: Seccomp 0 on every thread", ok, why)

# 4. rlimits and stray fds: no core, a bounded fd table, an inherited fd closed.
stray_r, stray_w = os.pipe()
argv_fds = (stray_r,)


def check_limits(pid):
    with open("/proc/%d/limits" % pid) as f:
        limits = f.read()
    core = re.search(r"Max core file size\s+(\S+)\s+(\S+)", limits)
    nofile = re.search(r"Max open files\s+(\S+)\s+(\S+)", limits)
    # the fd number may be reused by vmm's own files: look for the pipe
    links = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            links.add(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            pass
    pipe = "pipe:[%d]" % os.fstat(stray_r).st_ino
    why = "core %s, nofile %s, fds %s" % (core.groups(), nofile.groups(), sorted(links))
    return (core.groups() == ("0", "0") and int(nofile.group(2)) <= 4096
            and pipe not in links), why


ok, why = with_running_vm([], check_limits)
report("RLIMIT_CORE 0, RLIMIT_NOFILE bounded, an inherited fd closed", ok, why)
argv_fds = ()
os.close(stray_r)
os.close(stray_w)

# 5. Landlock: a file the command line does not name cannot be opened.
secret = os.path.join(tmp, "secret")
with open(secret, "w") as f:
    f.write("not for the guest\n")
rc, err = run(args.vmm_test, ["--kernel", hello, "--timeout", "20"],
              env={"VMM_TEST_LANDLOCK_OPEN": secret})
report("Landlock denies opening a file nobody named",
       rc == 0 and ("vmm: test: open %s: Permission denied" % secret) in err,
       "status %d, stderr %r" % (rc, err[-300:]))
rc, err = run(args.vmm_test, ["--kernel", hello, "--timeout", "20",
                              "--landlock-rules", "path=%s,access=r" % secret],
              env={"VMM_TEST_LANDLOCK_OPEN": secret})
report("--landlock-rules path=P,access=r allows it",
       rc == 0 and ("vmm: test: open %s: ok" % secret) in err,
       "status %d, stderr %r" % (rc, err[-300:]))
rc, err = run(args.vmm_test, ["--kernel", hello, "--timeout", "20"] + disk_args,
              env={"VMM_TEST_LANDLOCK_OPEN": disk})
report("a disk named on the command line can be opened again",
       rc == 0 and ("vmm: test: open %s: ok" % disk) in err,
       "status %d, stderr %r" % (rc, err[-300:]))

# 6. Bad values: one line, status 2.
for bad in (["--sandbox=maybe"], ["--landlock-rules", "access=rw"],
            ["--landlock-rules", "path=/tmp,access=x"]):
    rc, err = run(args.vmm, ["--kernel", hello] + bad)
    lines = [l for l in err.splitlines() if l.strip()]
    report("%s is a usage error" % " ".join(bad),
           rc == 2 and len(lines) == 1 and lines[0].startswith("vmm: error: --"),
           "status %d, stderr %r" % (rc, err))

print("%d passed, %d failed, %d skipped" % (results["passed"], results["failed"],
                                           results["skipped"]))
sys.exit(1 if results["failed"] else 0)
