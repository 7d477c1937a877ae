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
import hashlib
import os
import re
import shutil
import signal
import socket
import struct
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
                 signal_after=None, stdin_data=None, prepare=None):
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
        # prepare(case, ctx) -> extra vmm arguments, run before the vmm in
        # the case's temp dir (e.g. to create disk images); raises
        # CaseError. ctx (a Ctx) is then run.ctx for check().
        self.prepare = prepare


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


def check_dump(case, run, dumps=1):
    """The vCPU state dump (vmm/vcpu_dump.c) on stderr: each vCPU's line,
    its RIP named by the guest's own symbol table, in 64-bit mode (vCPU 0)
    or still waiting for INIT (the APs, which the hang guest never wakes)."""
    err = text(run.stderr)
    bsp = re.findall(r'vCPU 0: runnable, 64-bit, rip 0x[0-9a-f]+ <guest_main\+0x[0-9a-f]+>', err)
    if len(bsp) < dumps:
        return 'stderr has %d dumps of vCPU 0 in guest_main, expected %d' % (len(bsp), dumps)
    if '--cpus' in case.args and 'vCPU 1: wait-for-INIT (uninitialised), real mode' not in err:
        return 'the dump lacks vCPU 1 waiting for INIT'
    if 'lapic: base 0xfee00000 (xAPIC, BSP) id 0' not in err:
        return "the dump lacks the boot CPU's LAPIC"
    return None


def check_timeout_dump(case, run):
    return check_fast_timeout(case, run) or check_dump(case, run)


def check_signal_dump(case, run):
    return check_dump(case, run, dumps=2)


# KVM hypercalls from the guest kernel never return on PVM hosts (issue 15,
# docs/pvm.md): the pvipi guest then spins on its vmcall until --timeout,
# and vmm does not offer the paravirt features that would make Linux use
# them. Elsewhere both hypercalls return what KVM documents.
ON_PVM = os.path.exists('/sys/module/kvm_pvm')


def check_hypercall_hang(case, run):
    err = text(run.stderr)
    if not re.search(r'rip 0x[0-9a-f]+ <hypercall4\+0x[0-9a-f]+>|<guest_main\+0x[0-9a-f]+>', err):
        return 'the dump does not name the function making the hypercall'
    if 'code at rip: 0f 01 c1' not in err:
        return 'the dump does not show vCPU 0 on the vmcall instruction'
    return None


def pvipi_case():
    if ON_PVM:
        return Case('pvm-hypercall-hangs', 'pvipi', 5, vmm_timeout=3, kill_after=30,
                    expect=['KVM_FEATURE_PV_SEND_IPI not offered',
                            'pvipi: unknown hypercall with vmcall...'],
                    check=check_hypercall_hang)
    return Case('kvm-hypercall-send-ipi', 'pvipi', 0,
                expect=['unknown hypercall returned -1000',
                        'KVM_HC_SEND_IPI returned 1, vector pending', 'pvipi: passed'])


# ---- virtio-blk: the blk guest (tests/guests/blk.c) and its disk images ----

class CaseError(Exception):
    """A case's set-up failed (prepare)."""


class CaseSkip(Exception):
    """A case cannot run here (prepare): no root, no `ip`..."""


class Ctx:
    """What a case's prepare() and check() share: where things are."""

    def __init__(self, vmm, guest_dir, tmpdir):
        self.vmm = vmm
        self.guest_dir = guest_dir
        self.tmpdir = tmpdir
        self.images = []  # (path, fmt) in --disk order
        self.digests = {}  # path -> sha256 before the run
        self.cmdline = None  # replaces the case's --cmdline when set
        self.prefix = []  # run the vmm under this command (ip netns exec NS)
        self.cleanups = []  # run after the vmm, even when the case failed
        self.state = {}  # what prepare() leaves for check()


SECTOR = 512
BLK_MAGIC = 0x4b4c427600000000
BLK_MIB = 16  # default image size: 32768 sectors


def blk_pattern(sector, nsect, tag):
    """blk.c fill_pattern(): what a sector written with `tag` holds."""
    if not tag:
        return bytes(nsect * SECTOR)
    out = bytearray()
    for s in range(sector, sector + nsect):
        b = bytearray([(s * 31 + tag) & 0xff]) * SECTOR
        b[0:16] = struct.pack('<QQ', s, BLK_MAGIC | tag)
        out += b
    return bytes(out)


def blk_rw_writes(cap):
    """The (sector, count) regions mode=rw writes (blk.c rw_writes())."""
    return [(0, 1), (1, 1), (16, 8), (64, 8), (128, 32), (cap // 2 + 3, 1), (cap - 1, 1),
            (cap - 9, 8)]


def tool(ctx, name):
    """build/vmm-img beside the vmm, else qemu-img for `name` == 'vmm-img'."""
    if name == 'vmm-img':
        path = os.path.join(os.path.dirname(os.path.abspath(ctx.vmm)), 'vmm-img')
        if os.access(path, os.X_OK):
            return [path]
    if shutil.which('qemu-img'):
        return ['qemu-img']
    raise CaseError('neither vmm-img nor qemu-img found')


def sh(cmd, ok=(0,)):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode not in ok:
        raise CaseError('%s: status %d: %s' % (' '.join(cmd), p.returncode,
                                               (p.stderr or p.stdout).strip()))
    return p.stdout


# Image formats of the blk cases besides raw: vmm-img's format name, and
# the extra convert options. qcow2c is a compressed qcow2 (convert -c).
BLK_FORMATS = {'qcow2': ('qcow2', []), 'qcow2c': ('qcow2', ['-c']), 'vdi': ('vdi', []),
               'qed': ('qed', []), 'vmdks': ('vmdk', ['-o', 'subformat=streamOptimized'])}


def make_image(ctx, name, fmt, mib=BLK_MIB, fill=()):
    """A disk image of `mib` MiB in the case's temp dir; fill = [(sector,
    bytes)] written first. qcow2, vdi and qed images are made with vmm-img
    (qcow2: qemu-img if it is missing): `create` when empty, `convert` from
    raw otherwise."""
    path = os.path.join(ctx.tmpdir, name + '.' + fmt)
    raw = path if fmt == 'raw' else path + '.src'
    if fmt in BLK_FORMATS and fmt != 'qcow2':
        with open(raw, 'wb') as f:
            for sector, data in fill:
                f.seek(sector * SECTOR)
                f.write(data)
            f.truncate(mib << 20)
        sh(tool(ctx, 'vmm-img') + ['convert', '-f', 'raw', '-O', BLK_FORMATS[fmt][0],
                                   *BLK_FORMATS[fmt][1], raw, path])
        os.unlink(raw)
        ctx.images.append((path, fmt))
        return path
    if fmt == 'raw' or fill:
        with open(raw, 'wb') as f:
            for sector, data in fill:
                f.seek(sector * SECTOR)
                f.write(data)
            f.truncate(mib << 20)
    if fmt != 'raw':
        # VHD: force_size keeps the size exact (no CHS rounding)
        opts = ['-o', 'force_size=on'] if fmt == 'vpc' else []
        if fill:
            sh(tool(ctx, 'vmm-img') + ['convert', '-f', 'raw', '-O', fmt, *opts, raw, path])
            os.unlink(raw)
        else:
            sh(tool(ctx, 'vmm-img') + ['create', '-f', fmt, *opts, path, '%dM' % mib])
    ctx.images.append((path, fmt))
    return path


def disk_arg(path, fmt, opts=''):
    # raw is named explicitly; the others are left to the vmm's format probe
    spec = path + (',format=raw' if fmt == 'raw' else '') + opts
    return ['--disk', spec]


def image_bytes(ctx, path, fmt):
    """The guest-visible contents of an image. Formats other than raw are
    checked (where qemu-img can) and read by qemu-img (an independent
    implementation) when installed."""
    if fmt != 'raw':
        qimg = ['qemu-img'] if shutil.which('qemu-img') else tool(ctx, 'vmm-img')
        qfmt = BLK_FORMATS[fmt][0] if fmt in BLK_FORMATS else fmt
        if fmt != 'vpc':  # qemu-img cannot check VHD
            sh(qimg + ['check', '-f', qfmt, path])
        out = path + '.converted'
        sh(qimg + ['convert', '-f', qfmt, '-O', 'raw', path, out])
        path = out
    with open(path, 'rb') as f:
        return f.read()


def expect_sectors(data, regions, what):
    """regions: (sector, count, tag); returns an error string or None."""
    for sector, n, tag in regions:
        got = data[sector * SECTOR:(sector + n) * SECTOR]
        want = blk_pattern(sector, n, tag)
        if got != want:
            bad = next(i for i in range(n)
                       if got[i * SECTOR:(i + 1) * SECTOR] != want[i * SECTOR:(i + 1) * SECTOR])
            return '%s: sector %d in the image is not tag %d' % (what, sector + bad, tag)
    return None


def blk_case(name, mode, fmt, status=0, expect=(), cmdline='', disks=None, check=None,
             pre=None, vmm_timeout=VMM_TIMEOUT):
    """A blk guest case. disks(ctx) -> vmm arguments (default: one empty
    16 MiB image of `fmt`); pre(ctx) runs before the case's own vmm."""

    def prepare(case, ctx):
        args = disks(ctx) if disks else disk_arg(make_image(ctx, 'disk', fmt), fmt)
        if pre:
            pre(ctx, args)
        return args

    sectors = '' if 'sectors=' in cmdline else 'sectors=%d ' % (BLK_MIB * 2048)
    cmd = ('mode=%s %s%s' % (mode, sectors, cmdline)).strip()
    return Case(name, 'blk', status, expect=list(expect), cmdline=cmd, check=check,
                prepare=prepare, vmm_timeout=vmm_timeout)


def check_rw_image(case, run):
    path, fmt = run.ctx.images[0]
    cap = BLK_MIB * 2048
    try:
        data = image_bytes(run.ctx, path, fmt)
    except CaseError as e:
        return str(e)
    if len(data) != cap * SECTOR:
        return 'image is %d bytes, expected %d' % (len(data), cap * SECTOR)
    return (expect_sectors(data, [(s, n, 1) for s, n in blk_rw_writes(cap)], 'rw') or
            expect_sectors(data, [(2, 14, 0), (cap // 2 + 4, 8, 0)], 'rw (never written)'))


def rw_first(ctx, args):
    """Before a verify run: a mode=rw run on the same image."""
    sub = Case('rw-pass', 'blk', 0, cmdline='mode=rw sectors=%d' % (BLK_MIB * 2048))
    run = run_vmm(ctx.vmm, sub, ctx.guest_dir, ctx.tmpdir, args)
    if run.status != 0 or 'mode=rw passed' not in text(run.stdout):
        raise CaseError('the mode=rw run before it ended with status %s:\n%s%s'
                        % (run.status, text(run.stdout), text(run.stderr)))


def check_discard_image(case, run):
    path, fmt = run.ctx.images[0]
    try:
        data = image_bytes(run.ctx, path, fmt)
    except CaseError as e:
        return str(e)
    # blk.c mode_discard(): the spans and what they hold afterwards
    return expect_sectors(data, [(2016, 32, 3), (2048, 256, 0), (2304, 32, 3), (2392, 8, 3),
                                 (2400, 40, 0), (2440, 16, 3), (3072, 256, 0)], 'discard')


RO_FILL = [(0, blk_pattern(0, 64, 5))]


def ro_disks(fmt):
    def disks(ctx):
        path = make_image(ctx, 'ro', fmt, fill=RO_FILL)
        with open(path, 'rb') as f:
            ctx.digests[path] = hashlib.sha256(f.read()).hexdigest()
        return disk_arg(path, fmt, ',readonly')
    return disks


def check_unchanged(case, run):
    for path, digest in run.ctx.digests.items():
        with open(path, 'rb') as f:
            if hashlib.sha256(f.read()).hexdigest() != digest:
                return '%s changed although it was read-only' % os.path.basename(path)
    return None


def multi_disks(fmt0, fmt1):
    def disks(ctx):
        a = make_image(ctx, 'a', fmt0, mib=16)
        b = make_image(ctx, 'b', fmt1, mib=24)
        return disk_arg(a, fmt0) + disk_arg(b, fmt1)
    return disks


def check_multi_images(case, run):
    for i, (path, fmt) in enumerate(run.ctx.images):
        cap = (16, 24)[i] * 2048
        try:
            data = image_bytes(run.ctx, path, fmt)
        except CaseError as e:
            return str(e)
        e = expect_sectors(data, [(s, n, 10 + i) for s, n in blk_rw_writes(cap)],
                           'disk %d' % i)
        if e:
            return e
    return None


def check_malformed_image(case, run):
    path, fmt = run.ctx.images[0]
    try:
        data = image_bytes(run.ctx, path, fmt)
    except CaseError as e:
        return str(e)
    # the chain without a status byte (tag 7 over sector 0) must not land
    return expect_sectors(data, [(0, 8, 6)], 'malformed')


def bench_disks(fmt, mib=16):
    """Every 4 KiB block starts with its block number (blk.c bench_done())."""
    def disks(ctx):
        block = bytearray(b'\xa5' * 4096)
        fill = bytearray()
        for i in range(mib * 256):
            block[0:8] = struct.pack('<Q', i)
            fill += block
        return disk_arg(make_image(ctx, 'bench', fmt, mib=mib, fill=[(0, bytes(fill))]), fmt)
    return disks


RW_OK = ['vda: capacity 32768 sectors', 'used-buffer interrupt raised and acknowledged',
         'read back 8 regions, data matches', 'flush ok',
         'out-of-range and odd-length requests get IOERR', 'unknown request type gets UNSUPP',
         "id 'disk-7'", 'mode=rw passed']

BLK_CASES = []
for _fmt in ('raw', 'qcow2', 'vdi', 'qed'):
    BLK_CASES += [
        blk_case('blk-rw-' + _fmt, 'rw', _fmt, expect=RW_OK, cmdline='serial=disk-7',
                 disks=lambda ctx, f=_fmt: disk_arg(make_image(ctx, 'disk', f), f,
                                                   ',serial=disk-7'),
                 check=check_rw_image),
        blk_case('blk-verify-' + _fmt, 'verify', _fmt, pre=rw_first,
                 expect=['mode=verify passed: tag 1 data persisted'], check=check_rw_image),
        blk_case('blk-ro-' + _fmt, 'ro', _fmt, disks=ro_disks(_fmt),
                 expect=['RO offered', 'writes refused with IOERR, data unchanged',
                         'mode=ro passed'], check=check_unchanged),
        blk_case('blk-malformed-' + _fmt, 'malformed', _fmt,
                 expect=['chain without a status byte: DEVICE_NEEDS_RESET',
                         'descriptor loop: DEVICE_NEEDS_RESET', 'reset, device works again',
                         'mode=malformed passed'], check=check_malformed_image),
        blk_case('blk-bench-' + _fmt, 'bench', _fmt, cmdline='n1=200 n32=1000',
                 disks=bench_disks(_fmt),
                 expect=['BENCH qd=1 n=200 errors=0', 'BENCH qd=32 n=1000 errors=0',
                         'mode=bench passed']),
    ]
# Formats without discard here: the guest writes, qemu-img reads it back.
for _fmt in ('vpc', 'vhdx', 'vmdk'):
    BLK_CASES += [
        blk_case('blk-rw-' + _fmt, 'rw', _fmt, expect=RW_OK, cmdline='serial=disk-7',
                 disks=lambda ctx, f=_fmt: disk_arg(make_image(ctx, 'disk', f), f,
                                                   ',format=%s,serial=disk-7' % f),
                 check=check_rw_image),
        blk_case('blk-verify-' + _fmt, 'verify', _fmt, pre=rw_first,
                 expect=['mode=verify passed: tag 1 data persisted'], check=check_rw_image),
    ]


def vmdk_direct_disks(sub):
    """A VMDK of subformat `sub` opened with cache=none (O_DIRECT guest data,
    buffered metadata); skipped where the file system has no O_DIRECT."""
    def disks(ctx):
        path = os.path.join(ctx.tmpdir, 'disk.vmdk')
        sh(tool(ctx, 'vmm-img') + ['create', '-f', 'vmdk', '-o', 'subformat=' + sub, path,
                                   '%dM' % BLK_MIB])
        ctx.images.append((path, 'vmdk'))
        try:
            os.close(os.open(path, os.O_RDONLY | os.O_DIRECT))
        except OSError as e:
            raise CaseSkip('no O_DIRECT in %s: %s' % (ctx.tmpdir, e))
        return disk_arg(path, 'vmdk', ',format=vmdk,cache=none,serial=disk-7')
    return disks


for _sub in ('monolithicSparse', 'monolithicFlat'):
    BLK_CASES += [
        blk_case('blk-rw-vmdk-direct-' + _sub, 'rw', 'vmdk', expect=RW_OK,
                 cmdline='serial=disk-7', disks=vmdk_direct_disks(_sub), check=check_rw_image),
    ]

def check_stream_refused(case, run):
    err = text(run.stderr)
    return None if 'streamOptimized) VMDK images are read-only' in err else (
        'no read-only refusal on stderr: ' + err)


# A streamOptimized VMDK (vmm-img convert): the guest reads it; writable it
# is refused with one line.
BLK_CASES += [
    blk_case('blk-ro-vmdks', 'ro', 'vmdks', disks=ro_disks('vmdks'),
             expect=['RO offered', 'writes refused with IOERR, data unchanged',
                     'mode=ro passed'], check=check_unchanged),
    blk_case('blk-rw-vmdks-refused', 'rw', 'vmdks', status=1,
             disks=lambda ctx: disk_arg(make_image(ctx, 'disk', 'vmdks', fill=RO_FILL), 'vmdks'),
             check=check_stream_refused),
]


def rw_over_compressed(ctx):
    """A compressed qcow2 whose clusters hold other data (tag 2) where the
    rw guest writes: every write lands in a compressed cluster (copy on
    write); the rest of each cluster stays zero, which check_rw_image
    checks."""
    cap = BLK_MIB * 2048
    fill = [(s, blk_pattern(s, n, 2)) for s, n in blk_rw_writes(cap)]
    return disk_arg(make_image(ctx, 'disk', 'qcow2c', fill=fill), 'qcow2c', ',serial=disk-7')


BLK_CASES += [
    blk_case('blk-rw-qcow2c', 'rw', 'qcow2c', expect=RW_OK, cmdline='serial=disk-7',
             disks=rw_over_compressed, check=check_rw_image),
    blk_case('blk-ro-qcow2c', 'ro', 'qcow2c', disks=ro_disks('qcow2c'),
             expect=['RO offered', 'writes refused with IOERR, data unchanged',
                     'mode=ro passed'], check=check_unchanged),
    blk_case('blk-bench-qcow2c', 'bench', 'qcow2c', cmdline='n1=200 n32=1000',
             disks=bench_disks('qcow2c'),
             expect=['BENCH qd=1 n=200 errors=0', 'BENCH qd=32 n=1000 errors=0',
                     'mode=bench passed']),
    blk_case('blk-multi-raw', 'multi', 'raw', disks=multi_disks('raw', 'raw'),
             cmdline='sectors0=32768 sectors1=49152',
             expect=['vdb: capacity 49152 sectors', 'mode=multi passed'],
             check=check_multi_images),
    blk_case('blk-multi-mixed', 'multi', 'raw', disks=multi_disks('raw', 'qcow2'),
             cmdline='sectors0=32768 sectors1=49152',
             expect=['vdb: capacity 49152 sectors', 'mode=multi passed'],
             check=check_multi_images),
    # The guest's checks can fail: a capacity it does not expect is 22
    # (BS_CAPACITY), data that is not what it looks for is 24 (BS_DATA),
    # no device at all is 20 (BS_NO_DEVICE).
    blk_case('blk-wrong-capacity', 'rw', 'raw', status=22, cmdline='sectors=1000',
             expect=['capacity 32768, expected 1000']),
    blk_case('blk-verify-wrong-tag', 'verify', 'raw', status=24, cmdline='tag=2', pre=rw_first,
             expect=['differs from tag 2']),
    Case('blk-no-disk', 'blk', 20, cmdline='mode=rw',
         expect=['no virtio-blk device at 0xd0000000']),
]


# ---- virtio-net: the net guest (tests/guests/net.c) and its host side ----
#
# Traffic goes only to 127.0.0.1 (user networking) or to addresses inside
# a network namespace the case creates (tap).



def free_port(kind=socket.SOCK_DGRAM):
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class UdpEcho:
    """A UDP echo server on 127.0.0.1 in a thread; .seen = [(addr, bytes)]."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.seen.append((addr, data))
            self.sock.sendto(data, addr)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=2)
        self.sock.close()


def net_echo_case(name, vmm_net, cmdline, check_seen, expect, status=0):
    """A net guest run with a UDP echo server on 127.0.0.1:{port}."""

    def prepare(case, ctx):
        echo = UdpEcho()
        ctx.cleanups.append(echo.close)
        ctx.state['echo'] = echo
        ctx.cmdline = cmdline.format(port=echo.port)
        return ['--net', vmm_net]

    def check(case, run):
        return check_seen(run.ctx.state['echo'].seen)

    return Case(name, 'net', status, expect=expect, prepare=prepare, check=check)


# net.c exercise(): the sizes of the UDP echoes, in order
NET_ECHO_SIZES = [64, 1400, 1472]


def seen_echoes(seen):
    sizes = [len(d) for _, d in seen]
    if sizes != NET_ECHO_SIZES:
        return 'the echo server saw datagrams of %s bytes, expected %s' % (sizes, NET_ECHO_SIZES)
    if any(a[0] != '127.0.0.1' for a, _ in seen):
        return 'datagrams came from %s, expected 127.0.0.1' % sorted({a[0] for a, _ in seen})
    if any(not d.startswith(b'vmm-net ') for _, d in seen):
        return 'a datagram without the guest\'s "vmm-net " prefix'
    return None


def seen_nothing(seen):
    if seen:
        return 'restrict=on, yet the host saw %d datagram(s) from the guest' % len(seen)
    return None


USER_OK = ['net0: DHCP: ack: ip 10.0.2.15 mask 255.255.255.0 router 10.0.2.2 dns 10.0.2.3',
           'net0: ARP: 10.0.2.2 is at', 'ping 10.0.2.2: reply 3',
           'UDP echo 0: 64 bytes back', 'UDP echo 2: 1472 bytes back', 'mode=user passed']


class FwdSender:
    """The host side of a hostfwd case: sends numbered datagrams to
    127.0.0.1:hp (retrying until the guest is up) until `count` of them have
    come back; .sent and .echoed are the payloads."""

    def __init__(self, hp, count, limit=VMM_TIMEOUT):
        self.hp, self.count, self.limit = hp, count, limit
        self.sent, self.echoed, self.errors = [], [], []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        deadline = time.monotonic() + self.limit
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            while (len(self.echoed) < self.count and not self.stop.is_set() and
                   time.monotonic() < deadline):
                payload = b'hostfwd %d ' % len(self.sent) + b'x' * (50 + 100 * len(self.sent))
                self.sent.append(payload)
                s.sendto(payload, ('127.0.0.1', self.hp))
                try:
                    while len(self.echoed) < self.count:
                        data, addr = s.recvfrom(65536)
                        if addr != ('127.0.0.1', self.hp):
                            self.errors.append('a reply from %s:%d' % addr)
                        self.echoed.append(data)
                except socket.timeout:
                    pass

    def close(self):
        self.stop.set()
        self.thread.join(timeout=2)


def hostfwd_case(name, count=3):
    gp = 5555

    def prepare(case, ctx):
        hp = free_port()
        sender = FwdSender(hp, count)
        ctx.cleanups.append(sender.close)
        ctx.state['sender'] = sender
        ctx.cmdline = 'mode=fwd port=%d count=%d' % (gp, count)
        return ['--net', 'user,hostfwd=udp:127.0.0.1:%d-:%d' % (hp, gp)]

    def check(case, run):
        sender = run.ctx.state['sender']
        sender.close()
        if sender.errors:
            return '; '.join(sender.errors)
        if len(sender.echoed) != count:
            return '%d of %d datagrams came back through the hostfwd port (%d sent)' % (
                len(sender.echoed), count, len(sender.sent))
        strays = [e for e in sender.echoed if e not in sender.sent]
        if strays:
            return 'an echo that was never sent: %r' % strays[0][:40]
        return None

    return Case(name, 'net', 0, prepare=prepare, check=check,
                expect=['net0: DHCP: ack: ip 10.0.2.15', 'waiting for datagrams on port %d' % gp,
                        'mode=fwd passed: %d datagrams echoed' % count])


def hostfwd_busy_case(name, proto):
    """A hostfwd port some other socket holds: the vmm must say so in one
    line and exit 1 before the guest runs."""
    kind = socket.SOCK_DGRAM if proto == 'udp' else socket.SOCK_STREAM

    def prepare(case, ctx):
        holder = socket.socket(socket.AF_INET, kind)
        ctx.cleanups.append(holder.close)
        holder.bind(('127.0.0.1', 0))
        if proto == 'tcp':
            holder.listen(1)
        ctx.state['port'] = port = holder.getsockname()[1]
        ctx.cmdline = 'mode=fwd port=5555'
        return ['--net', 'user,hostfwd=%s:127.0.0.1:%d-:5555' % (proto, port)]

    def check(case, run):
        lines = [l for l in text(run.stderr).splitlines() if l.strip()]
        if len(lines) != 1:
            return 'stderr has %d lines, expected one error line' % len(lines)
        port = str(run.ctx.state['port'])
        if port not in lines[0] and 'hostfwd' not in lines[0]:
            return 'the error names neither hostfwd nor port %s: %r' % (port, lines[0])
        if run.stdout:
            return 'the guest ran (%d console bytes)' % len(run.stdout)
        return None

    return Case(name, 'net', 1, prepare=prepare, check=check, kill_after=30)


# ---- tap in a network namespace of the case's own ----

NS_ECHO = r'''
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print('ready', flush=True)
while True:
    d, a = s.recvfrom(65536)
    s.sendto(d, a)
    print('%s %d' % (a[0], len(d)), flush=True)
'''
TAP_NET = '192.168.77.'
TAP_PORT = 7777


def netns_setup(ctx, tag):
    """A namespace holding bridge vmmbr0 (192.168.77.1/24) and a UDP echo
    server on 192.168.77.1:TAP_PORT; the vmm runs inside it. Deleted by
    the case's cleanups. Raises CaseSkip where it cannot be done."""
    if os.geteuid() != 0:
        raise CaseSkip('needs root (CAP_NET_ADMIN) for a network namespace and a tap')
    if not shutil.which('ip'):
        raise CaseSkip('needs ip (iproute2)')
    ns = 'vmmtest-%s-%d-%d' % (tag, os.getpid(), int(time.monotonic() * 1000) % 100000)
    p = subprocess.run(['ip', 'netns', 'add', ns], capture_output=True, text=True)
    if p.returncode != 0:
        raise CaseSkip('ip netns add: %s' % p.stderr.strip())
    ctx.cleanups.append(lambda: sh(['ip', 'netns', 'del', ns]))
    for cmd in (['link', 'set', 'lo', 'up'],
                ['link', 'add', 'vmmbr0', 'type', 'bridge'],
                ['addr', 'add', TAP_NET + '1/24', 'dev', 'vmmbr0'],
                ['link', 'set', 'vmmbr0', 'up']):
        sh(['ip', '-n', ns] + cmd)
    server = subprocess.Popen(['ip', 'netns', 'exec', ns, sys.executable, '-c', NS_ECHO,
                               TAP_NET + '1', str(TAP_PORT)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def stop_server():
        server.kill()
        out, _ = server.communicate(timeout=5)
        ctx.state['ns_echo'] = out.splitlines()

    ctx.cleanups.append(stop_server)
    if server.stdout.readline().strip() != 'ready':
        raise CaseError('the echo server in %s did not start: %s' % (ns, server.stderr.read()))
    ctx.prefix = ['ip', 'netns', 'exec', ns]
    return ns


def tap_case(name, opts=''):
    def prepare(case, ctx):
        netns_setup(ctx, 'tap')
        ctx.cmdline = 'mode=static ip=%s2 peer=%s1 port=%d' % (TAP_NET, TAP_NET, TAP_PORT)
        return ['--net', 'tap,ifname=vmmtap0,bridge=vmmbr0' + opts]

    def check(case, run):
        got = [l for l in run.ctx.state.get('ns_echo', []) if l != 'ready']
        want = ['%s2 %d' % (TAP_NET, n) for n in NET_ECHO_SIZES]
        if got != want:
            return 'the echo server in the namespace saw %s, expected %s' % (got, want)
        return None

    return Case(name, 'net', 0, prepare=prepare, check=check,
                expect=['static ip 192.168.77.2 peer 192.168.77.1',
                        'net0: ARP: 192.168.77.1 is at', 'ping 192.168.77.1: reply 3',
                        'UDP echo 2: 1472 bytes back', 'mode=static passed'])


NET_CASES = [
    net_echo_case('net-user', 'user', 'mode=user port={port}', seen_echoes, USER_OK),
    # the same without VIRTIO_NET_F_MRG_RXBUF: the device's other rx path
    net_echo_case('net-user-nomrg', 'user', 'mode=user mrg=0 port={port}', seen_echoes,
                  USER_OK),
    # another network, a MAC of our own
    net_echo_case('net-user-options',
                  'user,mac=52:54:00:aa:bb:cc,net=10.9.8.0/24,host=10.9.8.1,dns=10.9.8.53,'
                  'dhcpstart=10.9.8.100',
                  'mode=user mac0=52:54:00:aa:bb:cc ip=10.9.8.100 router=10.9.8.1 '
                  'dns=10.9.8.53 port={port}', seen_echoes,
                  ['DHCP: ack: ip 10.9.8.100 mask 255.255.255.0 router 10.9.8.1 dns 10.9.8.53',
                   'ping 10.9.8.1: reply 3', 'mode=user passed']),
    # more frames than the guest has tx buffers (64) or rx buffers (64):
    # every buffer is reused several times
    net_echo_case('net-user-many', 'user', 'mode=user pings=200 port={port}', seen_echoes,
                  ['ping 10.0.2.2: reply 200', 'mode=user passed']),
    net_echo_case('net-restrict', 'user,restrict=on', 'mode=user restrict=1 port={port}',
                  seen_nothing,
                  ['DHCP: ack: ip 10.0.2.15 mask 255.255.255.0 router 0.0.0.0 dns 0.0.0.0',
                   'restricted: no UDP datagram reached the host',
                   'mode=user passed']),
    hostfwd_case('net-hostfwd'),
    Case('net-two-nics', 'net', 0, args=['--net', 'user', '--net', 'user,mac=52:54:00:ab:cd:ef'],
         cmdline='mode=multi nics=2 mac1=52:54:00:ab:cd:ef',
         expect=['net0: window 0xd0000000 mac 52:54:00:12:34:56',
                 'net1: window 0xd0001000 mac 52:54:00:ab:cd:ef',
                 'net0: DHCP: ack: ip 10.0.2.15', 'net1: DHCP: ack: ip 10.0.2.15',
                 'mode=multi passed: 2 NICs']),
    # The guest's checks can fail: an address it does not expect is 44
    # (NS_DHCP_VALUE), a NIC where there is none is 40 (NS_NO_DEVICE).
    net_echo_case('net-wrong-ip', 'user', 'mode=user ip=10.0.2.99 port={port}',
                  lambda seen: None, ['DHCP gave ip 10.0.2.15'], status=44),
    Case('net-no-nic', 'net', 40, cmdline='mode=user port=9',
         expect=['no virtio-net device #0']),
    hostfwd_busy_case('net-hostfwd-busy-udp', 'udp'),
    hostfwd_busy_case('net-hostfwd-busy-tcp', 'tcp'),
    tap_case('net-tap'),
    tap_case('net-tap-novnet', ',vnet_hdr=off'),
]

# networks of several guests on a VDE switch: tests/guests/vde_cases.py
import vde_cases  # noqa: E402 (it takes this module's Case and helpers)
NET_CASES += vde_cases.cases(sys.modules[__name__])

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
    Case('hang-timeout', 'hang', 5, expect=['hang: spinning'], args=['--cpus', '2'],
         vmm_timeout=2, kill_after=30, check=check_timeout_dump),
    # SIGUSR2 prints where the vCPUs are and the VM runs on (to --timeout)
    Case('hang-dump-signal', 'hang', 5, expect=['hang: spinning'], vmm_timeout=3,
         kill_after=30, signal_after=(1.0, signal.SIGUSR2), check=check_signal_dump),
    pvipi_case(),
    Case('hang-sigterm', 'hang', 128 + signal.SIGTERM, expect=['hang: spinning'],
         kill_after=30, signal_after=(1.0, signal.SIGTERM)),
]

CASES += BLK_CASES
CASES += NET_CASES
# the socket backends' cases (stream, dgram, multicast, passt, QEMU's
# netdevs): tests/guests/net_sock_cases.py
import net_sock_cases  # noqa: E402 (it takes this module's Case and helpers)
CASES += net_sock_cases.cases(sys.modules[__name__])
import p9_cases  # noqa: E402 (virtio-9p, --share: tests/guests/p9_cases.py)
CASES += p9_cases.cases(sys.modules[__name__])


class Run:
    stdout = b''
    stderr = b''
    status = None
    elapsed = 0.0
    killed = False
    console_log = None
    ctx = None


def kvm_unavailable():
    """Why /dev/kvm cannot be used, or None if it can."""
    try:
        fd = os.open('/dev/kvm', os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return '%s: %s' % (e.filename or '/dev/kvm', e.strerror)
    os.close(fd)
    return None


def run_vmm(vmm, case, guest_dir, tmpdir, extra_args=(), cmdline=None, prefix=()):
    run = Run()
    cmd = list(prefix) + [vmm, '--kernel', os.path.join(guest_dir, case.guest + '.elf'),
                          '--timeout', str(case.vmm_timeout)] + case.args + list(extra_args)
    if cmdline is None:
        cmdline = case.cmdline
    if cmdline is not None:
        cmd += ['--cmdline', cmdline]
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


def run_cleanups(ctx):
    for fn in reversed(ctx.cleanups if ctx else []):
        try:
            fn()
        except Exception as e:  # a cleanup must not hide the verdict
            print('cleanup: %s' % e)
    if ctx:
        ctx.cleanups = []


def run_case(vmm, case, guest_dir):
    """True if the case passed, False if it failed, None if skipped."""
    with tempfile.TemporaryDirectory(prefix='vmm-guest-') as tmpdir:
        extra, ctx = [], None
        if case.prepare:
            ctx = Ctx(vmm, guest_dir, tmpdir)
            try:
                extra = case.prepare(case, ctx)
            except CaseSkip as e:
                run_cleanups(ctx)
                print('SKIP: %s (%s)' % (case.name, e))
                sys.stdout.flush()
                return None
            except CaseError as e:
                run_cleanups(ctx)
                print('FAIL: %s (setup: %s)' % (case.name, e))
                sys.stdout.flush()
                return False
        try:
            run = run_vmm(vmm, case, guest_dir, tmpdir, extra,
                          cmdline=ctx.cmdline if ctx else None,
                          prefix=ctx.prefix if ctx else ())
        finally:
            run_cleanups(ctx)
        run.ctx = ctx
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
    results = [run_case(opts.vmm, case, opts.guest_dir) for case in cases]
    if False in results:
        return 1
    return SKIP if all(r is None for r in results) else 0


if __name__ == '__main__':
    sys.exit(main())
