#!/usr/bin/env python3
"""VM-to-VM round trips and frame rates on an internal VDE network: a
pair of vmm guests against a pair of QEMU microvm guests, the same net test
guest (tests/guests/net.c) on the same kind of `vde_switch`.

Round trips: one guest answers (mode=respond), the other pings it `--pings`
times (mode=static) and prints each reply's TSC ticks; the script reports
the median and 90th percentile in microseconds (ticks / the host's TSC kHz,
from /proc/cpuinfo's "cpu MHz" when nothing better is known).

Frame rates: one guest counts (mode=sink), the other sends `--frames` UDP
datagrams as fast as its tx ring allows (mode=bench), once in 1514-byte and
once in 64-byte frames; the rate is what arrived over the receiver's own
span from first to last frame, and the loss what the switch or a full rx
ring dropped on the way.

On PVM hosts the guests' ring-0 code is interpreted, so these figures are
dominated by the two guests' own drivers, in both pairs alike.

    bench/vde_pair.py [--pings 200] [--frames 5000]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import GUESTS, VMM

NET = '192.168.50.'
QEMU_WINDOWS = 'mmio=0xfeb00000 mmio_stride=0x200 mmio_slots=24'


def tsc_mhz():
    with open('/proc/cpuinfo') as f:
        m = re.search(r'cpu MHz\s*:\s*([\d.]+)', f.read())
    return float(m.group(1)) if m else None


def guest_cmd(kind, elf, sock, mac, cmdline):
    if kind == 'vmm':
        return [VMM, '--kernel', elf, '--timeout', '120', '--net',
                'vde,sock=%s,mac=%s' % (sock, mac), '--cmdline', cmdline]
    return ['qemu-system-x86_64', '-M', 'microvm,acpi=on', '-accel', 'kvm', '-m', '64M',
            '-nographic', '-no-reboot', '-kernel', elf, '-append', cmdline + ' ' + QEMU_WINDOWS,
            '-global', 'virtio-mmio.force-legacy=false', '-netdev', 'vde,id=n0,sock=' + sock,
            '-device', 'virtio-net-device,netdev=n0,mac=' + mac,
            '-device', 'isa-debug-exit,iobase=0x501,iosize=1']


def run_pair(kind, elf, first_cmdline, second_cmdline):
    """On a fresh vde_switch: start the first guest, wait until it is ready,
    run the second to its end; the stdout of (second, first)."""
    with tempfile.TemporaryDirectory(prefix='vmm-vde-pair-') as tmp:
        sw = os.path.join(tmp, 'sw')
        switch = subprocess.Popen(['vde_switch', '-s', sw], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                if os.path.exists(os.path.join(sw, 'ctl')):
                    break
                time.sleep(0.01)
            first = subprocess.Popen(guest_cmd(kind, elf, sw, '52:54:00:12:34:57', first_cmdline),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
            lines = []
            for line in first.stdout:
                lines.append(line)
                if b'waiting for datagrams' in line:
                    break
            second = subprocess.run(
                guest_cmd(kind, elf, sw, '52:54:00:12:34:56', second_cmdline),
                stdin=subprocess.PIPE, capture_output=True, timeout=300)
            try:
                rest, _ = first.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                first.kill()
                rest, _ = first.communicate()
            lines.append(rest)
        finally:
            switch.terminate()
            switch.wait()
    return (second.stdout.decode(errors='replace'),
            b''.join(lines).decode(errors='replace'))


def pair(kind, elf, pings):
    """RTTs in TSC ticks of one pair of `kind` guests, or an error string."""
    out, _ = run_pair(kind, elf, 'mode=respond ip=%s2 port=7777 count=3' % NET,
                      'mode=static ip=%s3 peer=%s2 port=7777 pings=%d' % (NET, NET, pings))
    ticks = [int(t) for t in re.findall(r'ping \S+: reply \d+ \((\d+) tsc ticks\)', out)]
    if len(ticks) != pings:
        return '%d of %d pings answered' % (len(ticks), pings)
    return ticks


def rate(kind, elf, frames, small, mhz):
    """(frames/s arrived, loss) of one pair of `kind` guests, or an error."""
    phase = 'rtt=0 n=0 small=%d' % frames if small else 'rtt=0 n=%d small=0' % frames
    _, sink = run_pair(kind, elf, 'mode=sink ip=%s2 port=7777 n=%d idle=2000' % (NET, frames),
                       'mode=bench ip=%s3 peer=%s2 port=7777 %s' % (NET, NET, phase))
    m = re.search(r'SINK got=(\d+) tsc=(\d+)', sink)
    if not m or int(m.group(1)) < 2:
        return 'the receiving guest counted nothing'
    got, ticks = int(m.group(1)), int(m.group(2))
    return (got - 1) / (ticks / mhz / 1e6), 1 - got / frames


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--pings', type=int, default=200)
    ap.add_argument('--frames', type=int, default=5000)
    opts = ap.parse_args()
    elf = os.path.join(GUESTS, 'net.elf')
    mhz = tsc_mhz()
    print('VM-to-VM ping round trip on one vde_switch, %d pings, TSC %.0f MHz' % (opts.pings,
                                                                                 mhz or 0))
    print('%-6s %10s %10s %10s' % ('pair', 'min us', 'median us', 'p90 us'))
    for kind in ('vmm', 'qemu'):
        if kind == 'qemu' and not shutil.which('qemu-system-x86_64'):
            print('%-6s skipped: no qemu-system-x86_64' % kind)
            continue
        r = pair(kind, elf, opts.pings)
        if isinstance(r, str):
            print('%-6s failed: %s' % (kind, r))
            continue
        us = sorted(t / mhz for t in r)
        print('%-6s %10.0f %10.0f %10.0f' % (kind, us[0], statistics.median(us),
                                             us[int(len(us) * 0.9)]))
    print('VM-to-VM frames on one vde_switch, %d sent as fast as the sender can' % opts.frames)
    print('%-6s %14s %8s %14s %8s' % ('pair', '1514B frames/s', 'lost', '64B frames/s', 'lost'))
    for kind in ('vmm', 'qemu'):
        if kind == 'qemu' and not shutil.which('qemu-system-x86_64'):
            continue
        cells = []
        for small in (False, True):
            r = rate(kind, elf, opts.frames, small, mhz)
            cells += ['failed', r] if isinstance(r, str) else ['%.0f' % r[0], '%.1f%%' % (100 * r[1])]
        print('%-6s %14s %8s %14s %8s' % tuple([kind] + cells))
    return 0


if __name__ == '__main__':
    sys.exit(main())
