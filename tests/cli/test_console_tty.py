#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The interactive console, on a real pseudo-terminal: raw mode while the
guest runs, Ctrl-A escapes, and the terminal restored on the way out.

    test_console_tty.py --vmm build/vmm --guest-dir build/tests/guests

Prints "N passed, N failed, N skipped"; 77 when /dev/kvm is missing.
"""
import argparse
import os
import pty
import select
import sys
import termios
import time

ap = argparse.ArgumentParser()
ap.add_argument("--vmm", required=True)
ap.add_argument("--guest-dir", required=True)
args = ap.parse_args()
if not os.access("/dev/kvm", os.R_OK | os.W_OK):
    print("SKIP: /dev/kvm not available")
    sys.exit(77)


def run_on_pty(guest, keys, wait_for, timeout=30):
    """Start vmm on a new pty, wait until the console shows `wait_for`, type
    `keys`, and collect output until vmm exits. Returns (status, output,
    lflag before, lflag while running, lflag after)."""
    pid, master = pty.fork()
    if pid == 0:
        os.execv(args.vmm, [args.vmm, "--kernel", os.path.join(args.guest_dir, guest),
                            "--timeout", str(timeout)])
    before = termios.tcgetattr(master)[3]
    out = b""
    during = None
    deadline = time.monotonic() + timeout + 10
    typed = False
    status = None
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the pty
                chunk = b""
            out += chunk
        if not typed and wait_for in out:
            during = termios.tcgetattr(master)[3]
            for k in keys:
                os.write(master, k)
                time.sleep(0.05)
            typed = True
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(st)
            break
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    try:
        after = termios.tcgetattr(master)[3]
    except termios.error:
        after = None
    while select.select([master], [], [], 0.2)[0]:  # what is still buffered
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return status, out.decode(errors="replace"), before, during, after


passed = failed = 0


def check(name, ok, detail):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


raw_bits = termios.ICANON | termios.ECHO | termios.ISIG

# Ctrl-A x quits with status 130; raw mode while running, restored after
st, out, before, during, after = run_on_pty("hang.elf", [b"\x01", b"x"], b"hang: spinning")
check("ctrl-a x quits with 130", st == 130, f"status {st}, output {out[-300:]!r}")
check("raw mode while the guest runs", during is not None and (during & raw_bits) == 0,
      f"lflag during {during}")
check("terminal restored after quit", after is not None and (after & raw_bits) == (before & raw_bits),
      f"lflag before {before}, after {after}")

# Ctrl-A Ctrl-A sends one Ctrl-A; Ctrl-C goes to the guest, not to vmm;
# Ctrl-A h prints help and the VM goes on
st, out, _, _, after = run_on_pty(
    "echo.elf", [b"a", b"\x03", b"\x01", b"\x01", b"\x01", b"h", b"b", b"."], b"echo: ready")
expect = f"echo: 4 bytes, sum {ord('a') + 3 + 1 + ord('b')}"
check("keys reach the guest (Ctrl-C, Ctrl-A Ctrl-A)", st == 0 and expect in out,
      f"status {st}, wanted {expect!r} in {out[-300:]!r}")
check("ctrl-a h prints help", "Ctrl-A x" in out, f"output {out[-300:]!r}")
check("terminal restored after poweroff", after is not None and (after & raw_bits) == (before & raw_bits),
      f"lflag after {after}")

# the guest ends the VM on its own: status passes through
st, out, _, _, after = run_on_pty("hello.elf", [], b"\xff")
check("guest exit status on a tty", st == 0 and "hello from guest" in out, f"status {st}")

print(f"{passed} passed, {failed} failed, 0 skipped")
sys.exit(1 if failed else 0)
