#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Snapshot and restore tests: a guest saved part-way (snapshot-save, which
calls vm_snapshot_save() in-process) and restored with `vmm --incoming` must
print the rest of its console output and end with the same status as an
uninterrupted run, also when restored twice from one file; bad snapshots
and bad command lines get one clear line.

    snapshot_test.py --vmm build/vmm --save build/tests/guests/snapshot-save \\
        --guest-dir build/tests/guests CASE...
    snapshot_test.py --list

Exit status 0 pass, 1 fail, 77 skip (no /dev/kvm)."""

import os
import shutil
import struct
import subprocess
import sys

import case_runner
from case_runner import Fail

TIMEOUT = 120

FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END = 1, 2, 3, 4, 9


def run(cmd, timeout=TIMEOUT):
    print('$ ' + ' '.join(cmd), flush=True)
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(errors='replace'), p.stderr.decode(errors='replace')


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def fdt_props(blob):
    """{'/path/prop': (offset of the value, length)} of a DTB: a minimal
    walker of the structure block (devicetree spec 5.4)."""
    magic, total, off_struct, off_strings = struct.unpack('>IIII', blob[:16])
    if magic != 0xd00dfeed:
        raise Fail('not a DTB')
    props, path, pos = {}, [], off_struct
    while True:
        tag, = struct.unpack('>I', blob[pos:pos + 4])
        pos += 4
        if tag == FDT_BEGIN_NODE:
            end = blob.index(b'\0', pos)
            path.append(blob[pos:end].decode())
            pos = (end + 1 + 3) & ~3
        elif tag == FDT_END_NODE:
            path.pop()
        elif tag == FDT_PROP:
            length, nameoff = struct.unpack('>II', blob[pos:pos + 8])
            name_end = blob.index(b'\0', off_strings + nameoff)
            name = blob[off_strings + nameoff:name_end].decode()
            props['/'.join(path) + '/' + name] = (pos + 8, length)
            pos = (pos + 8 + length + 3) & ~3
        elif tag == FDT_NOP:
            continue
        elif tag == FDT_END:
            return props
        else:
            raise Fail('bad FDT tag %d' % tag)


class Env:
    def __init__(self, opts, tmp):
        self.vmm, self.save, self.tmp = opts.vmm, opts.save, tmp
        self.guest_dir = opts.guest_dir

    def path(self, name):
        return os.path.join(self.tmp, name)

    def guest_args(self, guest, cmdline, extra=()):
        return ['--kernel', os.path.join(self.guest_dir, guest + '.elf'),
                '--cmdline', cmdline, '--mem', '64M'] + list(extra)

    def reference(self, args):
        log = self.path('ref.log')
        status, _, err = run([self.vmm] + args + ['--console-log', log, '--timeout', '60'])
        return status, read(log), err

    def snapshot(self, args, pattern, out, kill=True):
        """Save when `pattern` is on the console; then SIGKILL, or (kill
        False) resume and run to the end: (console log, status)."""
        log = self.path('before.log')
        status, stdout, err = run([self.save] + (['--kill'] if kill else []) +
                                  [out, pattern, 'vmm'] + args + ['--console-log', log])
        if 'saved:' not in stdout or (kill and status != -9):
            raise Fail('snapshot-save failed (%d): %s' % (status, err.strip()))
        print(stdout.strip().splitlines()[-1])
        return read(log), status

    def restore(self, snap, name, extra=()):
        log = self.path(name + '.log')
        status, _, err = run([self.vmm, '--incoming', 'file:' + snap, '--console-log', log,
                              '--timeout', '60'] + list(extra))
        return status, read(log) if os.path.exists(log) else b'', err


def check_restore(env, guest, cmdline, pattern, extra=(), restores=2, disks=None,
                  ok=lambda status: status >= 32):
    """disks(name) -> vmm arguments for a fresh set of disks per run."""
    def args(name):
        return env.guest_args(guest, cmdline, list(extra) + (disks(name) if disks else []))

    ref_status, ref_log, ref_err = env.reference(args('ref'))
    if not ok(ref_status):
        raise Fail('the reference run ended with %d: %s' % (ref_status, ref_err.strip()))
    snap = env.path('vm.snap')
    # saved while running: the VM pauses for the save and goes on to the end
    whole, status = env.snapshot(args('running'), pattern, env.path('running.snap'),
                                 kill=False)
    if status != ref_status or whole != ref_log:
        raise Fail('a VM saved while running and resumed ended with %d (%d bytes of console); '
                   'the uninterrupted run with %d (%d bytes)'
                   % (status, len(whole), ref_status, len(ref_log)))
    # saved, then the process SIGKILLed: restored from the file
    before, _ = env.snapshot(args('snap'), pattern, snap)
    if pattern.encode() not in before:
        raise Fail('the log before the save lacks %r' % pattern)
    for n in range(restores):
        status, after, err = env.restore(snap, 'after%d' % n)
        print('restore %d: status %d, %d + %d bytes of console (reference %d)'
              % (n, status, len(before), len(after), len(ref_log)))
        if status != ref_status:
            raise Fail('restore %d ended with %d, the uninterrupted run with %d: %s'
                       % (n, status, ref_status, err.strip()))
        if before + after != ref_log:
            raise Fail('restore %d: the console output before and after does not add up '
                       'to the uninterrupted run\'s:\n%r\n+\n%r\n!=\n%r'
                       % (n, before[-80:], after[:80], ref_log))
    if shutil.which('dtc'):
        status, dts, err = run(['dtc', '-I', 'dtb', '-O', 'dts', snap])
        if status != 0 or 'compatible = "vmm,snapshot"' not in dts or 'rip = ' not in dts or \
                ('Warning' in err):
            raise Fail('dtc cannot show the snapshot: %s' % err.strip())
    return snap


def case_count(env):
    check_restore(env, 'tally', 'count=40 delay=20000', 'count 10')


def case_count_2cpus(env):
    check_restore(env, 'tally', 'count=40 delay=20000', 'count 10', extra=['--cpus', '2'])


def image_maker(env, fmt, mib=16):
    def disks(name):
        path = env.path('%s.%s' % (name, fmt))
        if fmt == 'raw':
            with open(path, 'wb') as f:
                f.truncate(mib << 20)
        else:
            vmm_img = os.path.join(os.path.dirname(env.vmm), 'vmm-img')
            status, _, err = run([vmm_img, 'create', '-f', fmt, path, '%dM' % mib])
            if status != 0:
                raise Fail('vmm-img create: %s' % err)
        return ['--disk', '%s,format=%s' % (path, fmt)]
    return disks


def blk_restore(env, fmt):
    """The blk guest saved after its writes, restored for the reads, the
    flush and the rest of its checks (its queue positions, the transport's
    registers and the disk must all carry over)."""
    return check_restore(env, 'blk', 'mode=rw sectors=32768', 'wrote 8 regions',
                         disks=image_maker(env, fmt), ok=lambda status: status == 0)


def case_blk_raw(env):
    blk_restore(env, 'raw')


def case_blk_qcow2(env):
    snap = blk_restore(env, 'qcow2')
    # a disk that moved keeps its identity: restored from its new path
    img = env.path('snap.qcow2')
    moved = env.path('moved.qcow2')
    os.rename(img, moved)
    status, _, err = env.restore(snap, 'moved', ['--disk', moved])
    if status != 0:
        raise Fail('a moved disk given with --disk: status %d: %s' % (status, err))
    status, _, err = env.restore(snap, 'gone')
    one_error_line(status, err, 'No such file', 'a disk no longer at its path')
    os.rename(moved, img)
    # the disk changed since: refused, unless told
    os.utime(img, None)
    status, _, err = env.restore(snap, 'changed')
    one_error_line(status, err, 'has changed since the snapshot', 'a changed disk')
    status, _, err = env.restore(snap, 'forced', ['--incoming-disk-check=off'])
    if status != 0:
        raise Fail('--incoming-disk-check=off: status %d: %s' % (status, err))


NET_AFTER = ['net0: ARP: 10.0.2.2 is at', 'ping 10.0.2.2: reply 3', 'UDP echo 0: 64 bytes back',
             'UDP echo 2: 1472 bytes back', 'mode=user passed']


def case_net_user(env):
    """The net guest on user networking (slirp), with 2 vCPUs and a qcow2
    disk beside it, saved once DHCP gave it its address: after the restore
    it must ARP and ping the gateway and get UDP echoes from the host
    through the restored slirp (its state is libslirp's own
    slirp_state_save). Restored twice."""
    from run_guest_tests import UdpEcho  # the guest tests' echo server
    echo = UdpEcho()
    try:
        args = env.guest_args('net', 'mode=user port=%d' % echo.port,
                              ['--net', 'user', '--cpus', '2'] + image_maker(env, 'qcow2')('n'))
        snap = env.path('net.snap')
        before, _ = env.snapshot(args, 'net0: DHCP: ack', snap)
        for n in range(2):
            status, after, err = env.restore(snap, 'net%d' % n)
            text = after.decode(errors='replace')
            missing = [m for m in NET_AFTER if m not in text]
            print('restore %d: status %d; %d + %d bytes of console' % (n, status, len(before),
                                                                       len(after)))
            if status != 0 or missing or 'DHCP: ack' in text:
                raise Fail('restore %d: status %d, missing %r:\n%s\n%s'
                           % (n, status, missing, text, err))
    finally:
        echo.close()


def one_error_line(status, err, want, what):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if status == 0 or len(lines) != 1 or want not in lines[0]:
        raise Fail('%s: expected a failure with one line containing %r, got status %d and '
                   '%r' % (what, want, status, err))
    print('%s: %s' % (what, lines[0]))


def case_bad_input(env):
    args = env.guest_args('tally', 'count=400 delay=20000')
    snap = env.path('good.snap')
    env.snapshot(args, 'count 3', snap)
    blob = read(snap)
    props = fdt_props(blob)
    total, = struct.unpack('>I', blob[4:8])

    def variant(name, data):
        p = env.path(name)
        with open(p, 'wb') as f:
            f.write(data)
        return p

    cases = []
    off, _ = props['/vmm/version']
    cases.append(('newer version', blob[:off] + struct.pack('>I', 2) + blob[off + 4:],
                  'format version 2'))
    cases.append(('truncated state', blob[:total // 2], 'truncated'))
    cases.append(('truncated RAM', blob[:len(blob) - 4096], 'truncated'))
    cases.append(('not a snapshot', b'hello' * 100, 'not a vmm snapshot'))
    off, length = props['/cpus/cpu@0/msrs']
    cases.append(('corrupted property length',
                  blob[:off - 8] + struct.pack('>I', 0x7ffffff0) + blob[off - 4:],
                  'corrupted'))
    off, _ = props['/cpus/signature']
    cases.append(('other CPU model', blob[:off] + struct.pack('>I', 0x12345) + blob[off + 4:],
                  'another CPU model'))
    off, _ = props['/devices/serial@3f8/rx-count']
    cases.append(('serial FIFO out of range',
                  blob[:off] + struct.pack('>I', 99) + blob[off + 4:], 'out of range'))
    for what, data, want in cases:
        status, _, err = env.restore(variant('bad.snap', data), 'bad')
        one_error_line(status, err, want, what)

    status, _, err = run([env.vmm, '--incoming', 'file:' + snap, '--mem', '128M'])
    one_error_line(status, err, '--mem cannot be given with --incoming', 'a machine option')
    status, _, err = run([env.vmm, '--incoming', 'http://x'])
    one_error_line(status, err, 'only file:PATH', 'another URI')
    status, _, err = run([env.vmm, '--incoming', 'file:' + env.path('missing')])
    one_error_line(status, err, 'No such file', 'a missing file')
    # a save that cannot be written fails with one line; the VM runs on to its end
    short = env.guest_args('tally', 'count=20 delay=20000')
    ref_status, _, _ = env.reference(short)
    status, _, err = run([env.save, '/proc/vmm-snapshot', 'count 2', 'vmm'] + short +
                         ['--console-log', env.path('x.log')])
    one_error_line(-1, err, 'cannot create /proc/vmm-snapshot.tmp', 'an unwritable path')
    if status != ref_status:
        raise Fail('after a failed save the VM ended with %d, not %d' % (status, ref_status))
    # the good file still restores after all that
    status, after, err = env.restore(snap, 'good')
    if status < 32:
        raise Fail('the good snapshot did not restore: %d %s' % (status, err))


def case_virtio_refused(env):
    sock = env.path('s.sock')
    args = env.guest_args('tally', 'count=10',
                          ['--net', 'stream,server=on,addr.type=unix,addr.path=' + sock])
    status, _, err = run([env.save, env.path('v.snap'), 'count 2', 'vmm'] + args +
                         ['--console-log', env.path('v.log')])
    one_error_line(-1, err, 'not supported yet (--net user is)', 'a VM with a stream NIC')
    if status < 32:
        raise Fail('after a refused save the VM ended with %d' % status)
    if os.path.exists(env.path('v.snap')) or os.path.exists(env.path('v.snap.tmp')):
        raise Fail('a failed save left a file behind')


CASES = {
    'snapshot-count': case_count,
    'snapshot-count-2cpus': case_count_2cpus,
    'snapshot-bad-input': case_bad_input,
    'snapshot-net-refused': case_virtio_refused,
    'snapshot-net-user': case_net_user,
    'snapshot-blk-raw': case_blk_raw,
    'snapshot-blk-qcow2': case_blk_qcow2,
}


def main():
    return case_runner.main(__doc__, CASES, 'vmm-snap-',
                            lambda case, opts, tmp: case(Env(opts, tmp)), options=['--save'])


if __name__ == '__main__':
    sys.exit(main())
