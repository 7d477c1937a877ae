#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Boot tests: run the tiny test guests (tests/guests/*.c) in vmm and check
the console output and the exit status of the vmm process.

    run_guest_tests.py --vmm build/vmm --guest-dir build/tests/guests CASE...
    run_guest_tests.py --list

Exit status: 0 if every case passed, 1 if one failed, 77 (meson's "skip")
if /dev/kvm cannot be opened. Only the Python standard library is used.

The exit statuses checked are the vmm's contract: 0 poweroff, 3 reset,
4 panic, 5 --timeout expired, v for a byte v written to debug-exit.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77

# The vmm's own --timeout for guests that should end by themselves, and the
# harder limit after which the runner kills the whole process group.
VMM_TIMEOUT = 60
KILL_AFTER = 90


class Case:
    def __init__(self, name, guest, status, expect=(), cmdline=None, args=(),
                 vmm_timeout=VMM_TIMEOUT, kill_after=KILL_AFTER, check=None,
                 signal_after=None, stdin_data=None):
        self.name = name
        self.guest = guest
        self.status = status
        self.expect = list(expect)
        self.cmdline = cmdline
        self.args = list(args)
        self.vmm_timeout = vmm_timeout
        self.kill_after = kill_after
        self.check = check  # extra check(case, run) -> error string or None
        self.signal_after = signal_after  # (seconds, signal) sent to the vmm
        self.stdin_data = stdin_data  # bytes written to the vmm's stdin


# console input larger than the UART's 16-byte FIFO, every byte value but '.'
ECHO_INPUT = bytes(b for b in range(1, 256) if b != ord('.')) * 4


def smp_case(ncpus):
    return Case('smp-%d' % ncpus, 'smp', 0,
                expect=['AP %d up' % i for i in range(1, ncpus)] +
                ['all %d CPUs up' % ncpus],
                cmdline='cpus=%d' % ncpus, args=['--cpus', str(ncpus)])


def check_console_log(case, run):
    """--console-log FILE must receive exactly the bytes sent to stdout."""
    try:
        with open(run.console_log, 'rb') as f:
            logged = f.read()
    except OSError as e:
        return 'cannot read the console log: %s' % e
    if logged != run.stdout:
        return ('console log (%d bytes) differs from stdout (%d bytes)'
                % (len(logged), len(run.stdout)))
    return None


def check_restarted(case, run):
    """--reboot: the guest must have started again after its reset."""
    n = text(run.stdout).count('pulsing the reset line')
    if n < 2:
        return 'the guest ran %d time(s); --reboot should restart it' % n
    return None


def check_fast_timeout(case, run):
    if run.elapsed > case.vmm_timeout + 10:
        return ('--timeout %d took %.1f s to stop the VM'
                % (case.vmm_timeout, run.elapsed))
    return None


CASES = [
    Case('hello', 'hello', 42, cmdline='exit=42',
         expect=['hello from guest', 'cmdline: exit=42', 'exiting with status 42']),
    Case('hello-default', 'hello', 0,
         expect=['hello from guest', 'exiting with status 0']),
    Case('console-log', 'hello', 7, cmdline='exit=7',
         expect=['hello from guest'], check=check_console_log),
    smp_case(1),
    smp_case(2),
    smp_case(4),
    smp_case(16),
    # The guest's own checks must be able to fail: a CPU count that does not
    # match the MADT is status 15 (GS_BAD_CONFIG), a MADT whose checksum is
    # wrong is 14 (GS_BAD_TABLE).
    Case('smp-wrong-count', 'smp', 15, cmdline='cpus=3', args=['--cpus', '2'],
         expect=['MADT lists 2 CPUs', 'expected 3 CPUs']),
    Case('smp-bad-madt', 'smp', 14, cmdline='corrupt_madt=1',
         expect=['APIC at 0x', 'has a bad checksum']),
    # CPUID topology as the guest sees it: 2 cores in one package
    Case('cpuid', 'cpuid', 0, args=['--cpus', '2'],
         expect=['cpuid b.0: eax=0 ebx=1 ecx=100', 'cpuid b.1: eax=1 ebx=2 ecx=201',
                 'lapic id 0, consistent']),
    Case('poweroff', 'poweroff', 0,
         expect=['writing 0x34 to SLEEP_CONTROL_REG']),
    Case('reboot', 'reboot', 3, expect=['pulsing the reset line']),
    # --reboot restarts the VM; --timeout bounds the whole run across restarts
    Case('reboot-restarts', 'reboot', 5, args=['--reboot'], vmm_timeout=3, kill_after=30,
         check=check_restarted),
    Case('panic', 'panic', 4, expect=['reporting a panic']),
    Case('triplefault', 'triplefault', 3, expect=['ud2 with an empty IDT']),
    Case('int3', 'int3', 0,
         expect=['breakpoint handled', '2 breakpoints handled, execution continued']),
    Case('fwait', 'fwait', 0, expect=['fwait: execution continued']),
    Case('echo', 'echo', 0, stdin_data=ECHO_INPUT + b'.',
         expect=['echo: %d bytes, sum %d' % (len(ECHO_INPUT), sum(ECHO_INPUT))]),
    Case('hang-timeout', 'hang', 5, expect=['hang: spinning'],
         vmm_timeout=2, kill_after=30, check=check_fast_timeout),
    Case('hang-sigterm', 'hang', 128 + signal.SIGTERM, expect=['hang: spinning'],
         kill_after=30, signal_after=(1.0, signal.SIGTERM)),
]


class Run:
    stdout = b''
    stderr = b''
    status = None
    elapsed = 0.0
    killed = False
    console_log = None


def kvm_unavailable():
    """Why /dev/kvm cannot be used, or None if it can."""
    try:
        fd = os.open('/dev/kvm', os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return '%s: %s' % (e.filename or '/dev/kvm', e.strerror)
    os.close(fd)
    return None


def run_vmm(vmm, case, guest_dir, tmpdir):
    run = Run()
    cmd = [vmm, '--kernel', os.path.join(guest_dir, case.guest + '.elf'),
           '--timeout', str(case.vmm_timeout)] + case.args
    if case.cmdline is not None:
        cmd += ['--cmdline', case.cmdline]
    if case.check is check_console_log:
        run.console_log = os.path.join(tmpdir, case.name + '.console')
        cmd += ['--console-log', run.console_log]
    print('$ ' + ' '.join(cmd), flush=True)

    # A session of its own, so a hung vmm and anything it started can be
    # killed as a group. stdin is a pipe kept open (never written): the vmm
    # may poll its stdin for console input, and neither a closed pipe nor
    # /dev/null (which epoll refuses) is what a terminal user gives it.
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    out, err = [], []

    def drain(pipe, chunks):
        for chunk in iter(lambda: pipe.read1(65536), b''):
            chunks.append(chunk)

    readers = [threading.Thread(target=drain, args=(proc.stdout, out), daemon=True),
               threading.Thread(target=drain, args=(proc.stderr, err), daemon=True)]
    for t in readers:
        t.start()
    if case.stdin_data:
        proc.stdin.write(case.stdin_data)
        proc.stdin.flush()
    try:
        if case.signal_after:
            delay, sig = case.signal_after
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                proc.send_signal(sig)
        proc.wait(timeout=case.kill_after)
    except subprocess.TimeoutExpired:
        run.killed = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    run.elapsed = time.monotonic() - start
    for t in readers:
        t.join(timeout=5)
    proc.stdin.close()
    run.status = proc.returncode
    run.stdout = b''.join(out)
    run.stderr = b''.join(err)
    return run


def text(b):
    return b.decode('utf-8', errors='replace').replace('\r\n', '\n')


def run_case(vmm, case, guest_dir):
    with tempfile.TemporaryDirectory(prefix='vmm-guest-') as tmpdir:
        run = run_vmm(vmm, case, guest_dir, tmpdir)
        errors = []
        if run.killed:
            errors.append('vmm did not exit within %d s; killed' % case.kill_after)
        elif run.status != case.status:
            errors.append('exit status %s, expected %d' % (run.status, case.status))
        console = text(run.stdout)
        for s in case.expect:
            if s not in console:
                errors.append('console output lacks %r' % s)
        if case.check and not run.killed:
            e = case.check(case, run)
            if e:
                errors.append(e)

    print('--- console (%d bytes) ---' % len(run.stdout))
    print(console, end='' if console.endswith('\n') or not console else '\n')
    if run.stderr:
        print('--- vmm stderr ---')
        print(text(run.stderr), end='')
    print('---')
    verdict = 'FAIL' if errors else 'PASS'
    print('%s: %s (status %s, %.2f s)' % (verdict, case.name, run.status, run.elapsed))
    for e in errors:
        print('  ' + e)
    sys.stdout.flush()
    return not errors


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--vmm', help='the vmm executable')
    ap.add_argument('--guest-dir', help='directory holding the built <guest>.elf images')
    ap.add_argument('--list', action='store_true', help='print the case names and exit')
    ap.add_argument('cases', nargs='*', help='cases to run (default: all)')
    opts = ap.parse_args()

    by_name = {c.name: c for c in CASES}
    if opts.list:
        print('\n'.join(by_name))
        return 0
    if not opts.vmm or not opts.guest_dir:
        ap.error('--vmm and --guest-dir are required')
    unknown = [n for n in opts.cases if n not in by_name]
    if unknown:
        ap.error('unknown case(s): %s' % ', '.join(unknown))

    why = kvm_unavailable()
    if why:
        print('SKIP: /dev/kvm not available (%s)' % why)
        return SKIP

    cases = [by_name[n] for n in opts.cases] if opts.cases else CASES
    ok = True
    for case in cases:
        ok = run_case(opts.vmm, case, opts.guest_dir) and ok
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
