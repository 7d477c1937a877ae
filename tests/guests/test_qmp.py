#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""QMP conformance: a plain-socket QMP client (socket + json, no qemu.qmp)
drives `vmm --api-sock` running the count and powerbtn test guests.

    test_qmp.py --vmm build/vmm --guest-dir build/tests/guests CASE...
    test_qmp.py --list

Exit status: 0 passed, 1 failed, 77 (meson's skip) without /dev/kvm, or for
the socat case without socat.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import case_runner
from case_runner import Fail, Skip

TIMEOUT = 30  # seconds any single wait may take (guests are slow on PVM)


def check(cond, msg):
    if not cond:
        raise Fail(msg)


class Vmm:
    """A vmm running `guest` with --api-sock in tmpdir; its console is read
    by a thread into .console."""

    def __init__(self, opts, tmpdir, guest, cmdline='', args=()):
        self.sock = os.path.join(tmpdir, 'qmp.sock')
        cmd = [opts.vmm, '--kernel', os.path.join(opts.guest_dir, guest + '.elf'),
               '--cmdline', cmdline, '--mem', '32M', '--timeout', '120',
               '--api-sock', self.sock] + list(args)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.console = b''
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        # the socket file appears at bind(), a moment before listen():
        # wait until a connection is accepted
        deadline = time.monotonic() + TIMEOUT
        while True:
            check(self.proc.poll() is None, 'vmm exited early: %s' % self.stderr())
            check(time.monotonic() < deadline, 'no socket at %s' % self.sock)
            probe = socket.socket(socket.AF_UNIX)
            try:
                probe.connect(self.sock)
                break
            except OSError:
                time.sleep(0.01)
            finally:
                probe.close()

    def _read(self):
        for chunk in iter(lambda: self.proc.stdout.read1(4096), b''):
            with self.lock:
                self.console += chunk

    def text(self):
        with self.lock:
            return self.console.decode('utf-8', 'replace')

    def stderr(self):
        return self.proc.stderr.read().decode('utf-8', 'replace') if self.proc.poll() is not None else ''

    def wait_console(self, what, count=1):
        deadline = time.monotonic() + TIMEOUT
        while self.text().count(what) < count:
            check(time.monotonic() < deadline, 'console lacks %r: %r' % (what, self.text()[-300:]))
            time.sleep(0.02)

    def wait_exit(self):
        try:
            return self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Fail('vmm did not exit')

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Client:
    """One QMP connection: lines in, JSON values out; events kept apart."""

    def __init__(self, vmm, negotiate=True):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(TIMEOUT)
        self.s.connect(vmm.sock)
        self.buf = b''
        self.events = []
        self.greeting = self.recv()
        if negotiate:
            check(self.cmd('qmp_capabilities') == {'return': {}}, 'negotiation failed')

    def send_raw(self, data):
        self.s.sendall(data)

    def recv(self):
        while b'\n' not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise Fail('the server closed the connection')
            self.buf += chunk
        line, self.buf = self.buf.split(b'\n', 1)
        return json.loads(line)

    def reply(self):
        """The next reply; events that come first are kept in .events."""
        while True:
            v = self.recv()
            if 'event' in v:
                self.events.append(v)
            else:
                return v

    def cmd(self, name, args=None, **extra):
        req = {'execute': name}
        if args is not None:
            req['arguments'] = args
        req.update(extra)
        self.send_raw(json.dumps(req).encode() + b'\n')
        return self.reply()

    def event(self, name):
        """Wait for event `name` (kept or still to come)."""
        while True:
            for i, e in enumerate(self.events):
                if e['event'] == name:
                    return self.events.pop(i)
            self.events.append(self.recv())

    def close(self):
        self.s.close()


def check_event(e, name, data=None):
    check(e['event'] == name, 'event %s, expected %s' % (e, name))
    ts = e.get('timestamp', {})
    check(abs(ts.get('seconds', 0) - time.time()) < 60 and 0 <= ts.get('microseconds', -1) < 10**6,
          'bad timestamp in %s' % e)
    if data is not None:
        check(e.get('data') == data, 'event data %s, expected %s' % (e.get('data'), data))


def error_class(r, cls, desc=None):
    check('error' in r and r['error']['class'] == cls, 'expected a %s error, got %s' % (cls, r))
    if desc:
        check(desc in r['error']['desc'], 'error %r lacks %r' % (r['error']['desc'], desc))


def count_lines(vmm):
    return vmm.text().count('count ')


# ------------------------------------------------------------------ cases

def case_protocol(opts, tmp):
    """Greeting, negotiation mode, errors that keep the session and the VM;
    a stale socket left at the path (a vmm killed with SIGKILL) is replaced."""
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(os.path.join(tmp, 'qmp.sock'))
    stale.close()
    vmm = Vmm(opts, tmp, 'count', 'print=20000')
    c = Client(vmm, negotiate=False)
    g = c.greeting['QMP']
    check(g['capabilities'] == [] and 'major' in g['version']['qemu'], 'greeting %s' % g)
    error_class(c.cmd('query-status', id=5), 'CommandNotFound',
                "Expecting capabilities negotiation with 'qmp_capabilities'")
    r = c.cmd('qmp_capabilities', id='neg')
    check(r == {'return': {}, 'id': 'neg'}, 'qmp_capabilities: %s' % r)
    error_class(c.cmd('qmp_capabilities'), 'CommandNotFound', 'already complete')
    r = c.cmd('query-status', id={'n': [1, 2]})
    check(r == {'return': {'status': 'running', 'singlestep': False, 'running': True},
                'id': {'n': [1, 2]}}, 'query-status: %s' % r)
    error_class(c.cmd('no-such-command', id=1), 'CommandNotFound',
                'The command no-such-command has not been found')
    error_class(c.cmd('stop', {'now': True}), 'GenericError', "Parameter 'now' is unexpected")
    error_class(c.cmd('stop', [1]), 'GenericError', "'arguments' must be an object")
    for bad in (b'{"execute": }\n', b'this is not json\n', b'{"execute": "st\xffop"}\n'):
        c.send_raw(bad)
        error_class(c.reply(), 'GenericError', 'JSON parse error')
    c.send_raw(b'[1, 2]\n')
    error_class(c.reply(), 'GenericError', 'must be a JSON object')
    c.send_raw(b'{"arguments": {}}\n')
    error_class(c.reply(), 'GenericError', "lacks member 'execute'")
    v = c.cmd('query-version')['return']
    check(v['package'].startswith('vmm'), 'query-version: %s' % v)
    names = {x['name'] for x in c.cmd('query-commands')['return']}
    want = {'qmp_capabilities', 'query-status', 'stop', 'cont', 'system_powerdown',
            'system_reset', 'quit', 'query-cpus-fast', 'query-version', 'query-commands'}
    check(want <= names, 'query-commands lacks %s' % (want - names))
    # the VM ran on through all that
    n = count_lines(vmm)
    vmm.wait_console('count ', n + 1)
    check(c.cmd('quit') == {'return': {}}, 'quit')
    check_event(c.event('SHUTDOWN'), 'SHUTDOWN', {'guest': False, 'reason': 'host-qmp-quit'})
    status = vmm.wait_exit()
    check(status == 0, 'quit: exit status %d, expected 0' % status)
    check(not os.path.exists(vmm.sock), 'the socket is left behind')


def case_stop_cont(opts, tmp):
    """stop freezes the counting guest, cont lets it go on; two clients see
    STOP and RESUME; one that has not negotiated sees no event."""
    vmm = Vmm(opts, tmp, 'count', 'print=20000')
    try:
        a, b, quiet = Client(vmm), Client(vmm), Client(vmm, negotiate=False)
        vmm.wait_console('count ', 2)
        check(a.cmd('stop') == {'return': {}}, 'stop')
        check_event(a.event('STOP'), 'STOP')
        check_event(b.event('STOP'), 'STOP')
        check(b.cmd('query-status')['return']['status'] == 'paused', 'not paused')
        n = count_lines(vmm)
        time.sleep(1.0)
        check(count_lines(vmm) == n, 'the guest counted while stopped (%d -> %d lines)'
              % (n, count_lines(vmm)))
        # a second stop: no error and no second STOP event
        check(a.cmd('stop') == {'return': {}}, 'second stop')
        # the state dump (SIGUSR2) still reads a parked vCPU
        os.kill(vmm.proc.pid, signal.SIGUSR2)
        time.sleep(0.5)
        check(b.cmd('cont') == {'return': {}}, 'cont')
        check_event(a.event('RESUME'), 'RESUME')
        check_event(b.event('RESUME'), 'RESUME')
        check(a.events == [] and b.events == [], 'extra events %s %s' % (a.events, b.events))
        vmm.wait_console('count ', n + 2)
        check(a.cmd('query-status')['return']['status'] == 'running', 'not running')
        # the client that never negotiated got no event, only an answer
        error_class(quiet.cmd('stop'), 'CommandNotFound')
        check(quiet.events == [], 'events before negotiation: %s' % quiet.events)
        a.cmd('quit')
        check(vmm.wait_exit() == 0, 'exit status')
        err = vmm.stderr()
        check('vCPU 0: runnable, 64-bit' in err and 'did not answer' not in err,
              'the dump while stopped: %r' % err[-500:])
    finally:
        vmm.kill()


def case_vanish(opts, tmp):
    """Clients that leave mid-command, mid-value, or stop reading harm
    nothing: the VM runs on and a new client is served."""
    vmm = Vmm(opts, tmp, 'count', 'print=20000')
    try:
        # gone before the greeting; mid-value; mid-command (before its
        # reply: the command runs, its reply goes nowhere)
        for payload in (b'', b'{"exec', b'{"execute": "query-cpus-fast", "id"',
                        b'{"execute": "stop"}\n'):
            s = socket.socket(socket.AF_UNIX)
            s.connect(vmm.sock)
            if payload:
                s.recv(4096)  # the greeting
                s.sendall(b'{"execute": "qmp_capabilities"}\n')
                s.recv(4096)
            s.sendall(payload)
            s.close()
        # the vanished client's stop ran: cont it (a client that vanishes
        # does not undo its commands, as with QEMU)
        c = Client(vmm)
        deadline = time.monotonic() + TIMEOUT
        while c.cmd('query-status')['return']['status'] != 'paused':
            check(time.monotonic() < deadline, 'the vanished client\'s stop never ran')
            time.sleep(0.05)
        c.cmd('cont')
        # a client that sends and never reads is dropped once its output
        # buffer is full; the VM does not wait for it
        hog = socket.socket(socket.AF_UNIX)
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog.connect(vmm.sock)
        hog.settimeout(TIMEOUT)
        req = b'{"execute": "query-cpus-fast"}\n'
        hog.sendall(b'{"execute": "qmp_capabilities"}\n')
        sent, dropped = 0, False
        try:
            for _ in range(20000):
                hog.sendall(req * 16)
                sent += 16
        except (BrokenPipeError, ConnectionResetError):
            dropped = True
        check(dropped, 'a client that never reads was not dropped (%d requests)' % sent)
        hog.close()
        n = count_lines(vmm)
        vmm.wait_console('count ', n + 1)
        check(c.cmd('query-status')['return']['status'] == 'running', 'status after the hog')
        err = c.cmd('quit')
        check(err == {'return': {}}, 'quit')
        check(vmm.wait_exit() == 0, 'exit status')
        check('does not read its replies' in vmm.stderr(), 'no warning about the dropped client')
    finally:
        vmm.kill()


def case_cpus(opts, tmp):
    """query-cpus-fast: one entry per vCPU, thread ids that are the vmm's
    vCPU threads in /proc/PID/task."""
    vmm = Vmm(opts, tmp, 'count', '', ['--cpus', '3'])
    try:
        c = Client(vmm)
        vmm.wait_console('count: counting')
        cpus = c.cmd('query-cpus-fast')['return']
        check([x['cpu-index'] for x in cpus] == [0, 1, 2], 'cpu-index: %s' % cpus)
        tasks = set(int(t) for t in os.listdir('/proc/%d/task' % vmm.proc.pid))
        for x in cpus:
            check(x['target'] == 'x86_64' and 'props' in x, 'entry %s' % x)
            tid = x['thread-id']
            check(tid in tasks, 'thread-id %d is not a thread of vmm %s' % (tid, sorted(tasks)))
            with open('/proc/%d/task/%d/comm' % (vmm.proc.pid, tid)) as f:
                name = f.read().strip()
            check(name == 'vcpu%d' % x['cpu-index'], 'thread %d is %r' % (tid, name))
        check(len({x['thread-id'] for x in cpus}) == 3, 'thread ids repeat: %s' % cpus)
        c.cmd('quit')
        check(vmm.wait_exit() == 0, 'exit status')
    finally:
        vmm.kill()


def case_powerdown(opts, tmp):
    """system_powerdown: POWERDOWN, the guest sees the GED's power button
    bit and powers off: SHUTDOWN guest-shutdown, exit status 0."""
    vmm = Vmm(opts, tmp, 'powerbtn')
    try:
        c = Client(vmm)
        vmm.wait_console('powerbtn: waiting for the power button')
        check(c.cmd('system_powerdown') == {'return': {}}, 'system_powerdown')
        check_event(c.event('POWERDOWN'), 'POWERDOWN')
        check_event(c.event('SHUTDOWN'), 'SHUTDOWN', {'guest': True, 'reason': 'guest-shutdown'})
        status = vmm.wait_exit()
        check(status == 0, 'exit status %d (console %r)' % (status, vmm.text()))
        check('powerbtn: power button pressed (GED 0x1)' in vmm.text(), 'no press seen')
    finally:
        vmm.kill()


def case_reset(opts, tmp):
    """system_reset with --reboot: RESET, a new VM, the client stays
    connected; without --reboot: SHUTDOWN and exit status 3."""
    vmm = Vmm(opts, tmp, 'count', 'print=20000', ['--reboot'])
    try:
        c = Client(vmm)
        vmm.wait_console('count: counting')
        check(c.cmd('system_reset') == {'return': {}}, 'system_reset')
        check_event(c.event('RESET'), 'RESET', {'guest': False, 'reason': 'host-qmp-system-reset'})
        vmm.wait_console('count: counting', 2)
        check(c.cmd('query-status')['return']['status'] == 'running', 'status after reset')
        c.cmd('stop')  # the new VM is driven by the same connection
        check_event(c.event('STOP'), 'STOP')
        c.cmd('quit')
        check(vmm.wait_exit() == 0, 'exit status')
    finally:
        vmm.kill()
    vmm = Vmm(opts, tmp, 'count', 'print=20000')
    try:
        c = Client(vmm)
        c.cmd('system_reset')
        check_event(c.event('SHUTDOWN'), 'SHUTDOWN',
                    {'guest': False, 'reason': 'host-qmp-system-reset'})
        status = vmm.wait_exit()
        check(status == 3, 'system_reset without --reboot: exit status %d, expected 3' % status)
    finally:
        vmm.kill()


def case_guest_exit(opts, tmp):
    """The guest ends the VM (debug-exit after its 2 s wait for a button
    that nobody presses): SHUTDOWN guest-shutdown, the guest's status."""
    vmm = Vmm(opts, tmp, 'powerbtn', 'wait=2')
    try:
        c = Client(vmm)
        check_event(c.event('SHUTDOWN'), 'SHUTDOWN', {'guest': True, 'reason': 'guest-shutdown'})
        status = vmm.wait_exit()
        check(status == 16, 'exit status %d, expected 16 (GS_TIMEOUT)' % status)
    finally:
        vmm.kill()


def case_socat(opts, tmp):
    """One exchange the way a user would type it: socat on the socket."""
    socat = shutil.which('socat')
    if not socat:
        raise Skip('socat is not installed (scripts/install-deps.sh installs it)')
    vmm = Vmm(opts, tmp, 'count')
    try:
        out = subprocess.run([socat, '-t', '2', '-', 'UNIX-CONNECT:' + vmm.sock],
                             input=b'{"execute": "qmp_capabilities"}\n'
                                   b'{"execute": "query-status"}\n',
                             stdout=subprocess.PIPE, timeout=TIMEOUT).stdout.decode()
        lines = [json.loads(x) for x in out.splitlines() if x.strip()]
        check(len(lines) >= 3 and 'QMP' in lines[0], 'socat got %r' % out)
        check(lines[1] == {'return': {}}, 'socat: %r' % out)
        check(lines[2]['return']['status'] == 'running', 'socat: %r' % out)
        Client(vmm).cmd('quit')
        check(vmm.wait_exit() == 0, 'exit status')
    finally:
        vmm.kill()


def first_count(text):
    """The number of the first 'count N' line in text."""
    for line in text.splitlines():
        if line.startswith('count '):
            return int(line.split()[1])
    raise Fail('no count line in %r' % text[-300:])


def last_count(text):
    return int([x for x in text.splitlines() if x.startswith('count ')][-1].split()[1])


def case_migrate(opts, tmp):
    """migrate to file:PATH while running (the guest goes on), query-migrate,
    a path that cannot be written (an error; the VM goes on), then a restore
    with --incoming that counts on from the save."""
    snap = os.path.join(tmp, 'vm.snap')
    vmm = Vmm(opts, tmp, 'count', 'print=20000',
              args=['--landlock-rules', 'path=%s,access=rw' % tmp])
    try:
        c = Client(vmm)
        check(c.cmd('query-migrate') == {'return': {}}, 'query-migrate before any migrate')
        vmm.wait_console('count ', 3)
        r = c.cmd('migrate', {'uri': 'file:/proc/no/such/dir/vm.snap'})
        error_class(r, 'GenericError')
        check(c.cmd('query-migrate')['return']['status'] == 'failed', 'failed migrate status')
        error_class(c.cmd('migrate', {'uri': 'tcp:127.0.0.1:4444'}), 'GenericError', 'file:')
        before = last_count(vmm.text())
        check(c.cmd('migrate', {'uri': 'file:' + snap}) == {'return': {}}, 'migrate')
        info = c.cmd('query-migrate')['return']
        check(info['status'] == 'completed' and info['ram']['total'] > 0, 'query-migrate %s' % info)
        check(os.path.getsize(snap) == info['ram']['total'], 'size %s' % info)
        check(c.cmd('query-status')['return']['status'] == 'running', 'not running after migrate')
        vmm.wait_console('count ', count_lines(vmm) + 2)  # the guest went on
        after = last_count(vmm.text())
        c.cmd('quit')
        check(vmm.wait_exit() == 0, 'exit status')
    finally:
        vmm.kill()
    # restore: the guest counts on from where it was saved
    out = subprocess.run([opts.vmm, '--incoming', 'file:' + snap, '--timeout', '3'],
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    check(out.returncode == 5, 'restored run: status %d: %r' % (out.returncode, out.stderr[-300:]))
    first = first_count(out.stdout.decode(errors='replace'))
    check(before < first <= after + 1,
          'restored count %d, saved between %d and %d' % (first, before, after))


def wait_replaced(vmm, ino):
    """Until vmm's socket file is another than inode `ino` (vmm's own)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            if os.stat(vmm.sock).st_ino != ino:
                return
        except FileNotFoundError:
            pass
        check(vmm.proc.poll() is None, 'vmm exited early: %s' % vmm.stderr())
        check(time.monotonic() < deadline, '%s was not replaced' % vmm.sock)
        time.sleep(0.01)


def wait_listening(vmm):
    """A Client of vmm once its socket path accepts one (call it when no
    other vmm is left on that path)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        check(vmm.proc.poll() is None, 'vmm exited early: %s' % vmm.stderr())
        try:
            return Client(vmm)
        except OSError:
            check(time.monotonic() < deadline, 'no socket at %s' % vmm.sock)
            time.sleep(0.01)


def case_sock_handover(opts, tmp):
    """A second vmm on the --api-sock path of one that is exiting (as a
    restore started right after the save): the one exiting must unlink only
    its own socket, not the new one's (issue 13). Both orders: the new vmm
    replaces the socket while the old one runs, then the old one quits; and
    a new vmm started right after a quit."""
    old = Vmm(opts, tmp, 'count', 'print=20000')
    new = None
    try:
        ino = os.stat(old.sock).st_ino
        to_old = Client(old)  # the path will soon lead to the new one
        new = Vmm(opts, tmp, 'count', 'print=20000')
        wait_replaced(new, ino)  # old's socket, still bound, keeps its inode
        to_old.cmd('quit')
        check(old.wait_exit() == 0, 'first vmm: exit status')
        check(os.path.exists(new.sock), 'the exiting vmm unlinked the new one\'s socket')
        c = Client(new)
        check(c.cmd('query-status')['return']['status'] == 'running', 'second vmm status')
        for _ in range(3):
            old, new = new, None
            Client(old).cmd('quit')
            new = Vmm(opts, tmp, 'count', 'print=20000')
            check(old.wait_exit() == 0, 'exit status after quit')
            # (not by inode: the one the old socket freed may be the new one's)
            check('return' in wait_listening(new).cmd('query-status'), 'restarted vmm answers')
        # and the last one, quitting alone, still removes its own
        Client(new).cmd('quit')
        check(new.wait_exit() == 0, 'last vmm: exit status')
        check(not os.path.exists(new.sock), 'the last vmm left its socket behind')
    finally:
        old.kill()
        if new:
            new.kill()


CASES = {
    'qmp-migrate': case_migrate,
    'qmp-protocol': case_protocol,
    'qmp-stop-cont': case_stop_cont,
    'qmp-vanish': case_vanish,
    'qmp-cpus': case_cpus,
    'qmp-powerdown': case_powerdown,
    'qmp-reset': case_reset,
    'qmp-guest-exit': case_guest_exit,
    'qmp-socat': case_socat,
    'qmp-sock-handover': case_sock_handover,
}


def main():
    return case_runner.main(__doc__, CASES, 'vmm-qmp-', errors=(OSError, ValueError, KeyError))


if __name__ == '__main__':
    sys.exit(main())
