# SPDX-License-Identifier: MIT
"""The VDE cases of run_guest_tests.py: networks of several vmm guests
without root (issue 11), on a switch each case starts in its own temp dir.

- internal network: two net guests on one `vde_switch`; one answers
  (mode=respond), the other pings it, exchanges UDP with it and finds that
  nothing answers for an address outside the network.
- NAT network: `vde_plug switch://DIR slirp://` (a switch with libslirp's
  NAT and DHCP on it, Debian's libvdeplug-slirp); two guests get distinct
  leases from the one DHCP server, reach each other, and reach a UDP echo
  server on the host's 127.0.0.1 through the NAT.
- interop: a QEMU microvm guest (the same net guest booted through its PVH
  entry) answers a vmm guest on one `vde_switch` (`-netdev vde`), and over
  QEMU's own `-netdev stream` on a unix socket (our guest the client).
- the errors: no switch, an unknown vdeplug scheme.

Traffic stays on the switch, or goes to 127.0.0.1 through slirp.
cases(rt) takes the runner module, for its Case and helpers.
"""
import os
import shutil
import signal
import subprocess
import threading
import time

NET = '192.168.50.'
PORT = 7777
MAC_A = '52:54:00:12:34:57'  # the partner guest
MAC_B = '52:54:00:12:34:58'  # the case's own guest on the NAT network


def wait_for_socket(ctx, rt, proc, sw, what):
    """The switch's control socket appears, or the case cannot run."""
    for _ in range(300):
        if os.path.exists(os.path.join(sw, 'ctl')):
            return
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors='replace').strip()
            raise rt.CaseSkip('%s exited at once (%s): %s' % (what, proc.returncode, err))
        time.sleep(0.01)
    raise rt.CaseError('%s made no control socket in %s' % (what, sw))


def start_daemon(ctx, rt, cmd, sw):
    """A switch (vde_switch, vde_plug) in the foreground, stopped by the
    case's cleanups. stdin is a pipe kept open: vde_switch reads commands
    from it and would exit at its end."""
    if not shutil.which(cmd[0]):
        raise rt.CaseSkip('needs %s (scripts/install-deps.sh)' % cmd[0])
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)

    def stop():
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    ctx.cleanups.append(stop)
    wait_for_socket(ctx, rt, proc, sw, cmd[0])


class Partner:
    """The other guest: a second vmm run in the background, its console
    collected line by line; ready() waits for a line."""

    def __init__(self, ctx, rt, net, cmdline, cmd=None, status=0):
        if cmd is None:
            cmd = [ctx.vmm, '--kernel', os.path.join(ctx.guest_dir, 'net.elf'), '--timeout',
                   '60', '--net', net, '--cmdline', cmdline]
        self.want_status = status
        print('$ (partner) ' + ' '.join(cmd), flush=True)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()
        ctx.cleanups.append(self.stop)
        ctx.state['partner'] = self

    def read(self):
        for raw in iter(self.proc.stdout.readline, b''):
            with self.cond:
                self.lines.append(raw.decode(errors='replace').rstrip('\r\n'))
                self.cond.notify_all()

    def ready(self, rt, what, timeout=30):
        end = time.monotonic() + timeout
        with self.cond:
            while not any(what in l for l in self.lines):
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self.reader.is_alive():
                    raise rt.CaseError('the partner guest never said %r:\n%s'
                                       % (what, '\n'.join(self.lines)))
                self.cond.wait(min(left, 0.2))

    def stop(self):
        """Let it finish (it exits after its echoes), else kill it."""
        try:
            self.status = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.status = self.proc.wait()
        self.reader.join(timeout=5)
        print('--- partner console (status %s) ---\n%s' % (self.status, '\n'.join(self.lines)),
              flush=True)

    def verdict(self, passed):
        if self.status != self.want_status:
            return 'the partner guest ended with status %s' % self.status
        if not any(passed in l for l in self.lines):
            return 'the partner guest never said %r' % passed
        return None


RESPOND = 'mode=respond ip=%s2 port=%d count=3' % (NET, PORT)


def vde_link(ctx, rt):
    """A vde_switch of the case's own; both guests plug into it."""
    sw = os.path.join(ctx.tmpdir, 'sw')
    start_daemon(ctx, rt, ['vde_switch', '-s', sw], sw)
    return sw, 'vde,sock=' + sw


def pair_case(rt, name, start_partner, absent, link=vde_link):
    """Two guests on one link (a vde_switch unless `link` says otherwise:
    link(ctx, rt) -> (what the partner is given, the --net of our guest)):
    the partner (start_partner(ctx, where) -> Partner) answers, the case's
    own vmm guest pings it and exchanges UDP with it; with `absent`,
    nothing may answer for an address outside."""

    def prepare(case, ctx):
        where, net = link(ctx, rt)
        start_partner(ctx, where).ready(rt, 'waiting for datagrams')
        ctx.cmdline = ('mode=static ip=%s3 peer=%s2 port=%d' % (NET, NET, PORT) +
                       (' absent=%s9' % NET if absent else ''))
        return ['--net', net]

    def check(case, run):
        return run.ctx.state['partner'].verdict('mode=respond passed: 3 datagrams echoed')

    return rt.Case(name, 'net', 0, prepare=prepare, check=check,
                   expect=['net0: ARP: %s2 is at %s' % (NET, MAC_A),
                           'ping %s2: reply 3' % NET, 'UDP echo 2: 1472 bytes back'] +
                   (['nothing answers for %s9' % NET] if absent else []) +
                   ['mode=static passed'])


def internal_case(rt):
    return pair_case(rt, 'vde-internal', lambda ctx, sw: Partner(
        ctx, rt, 'vde,sock=%s,mac=%s' % (sw, MAC_A), RESPOND), absent=True)


def nat_case(rt):
    def prepare(case, ctx):
        sw = os.path.join(ctx.tmpdir, 'nat')
        # v4 only: the guests speak IPv4, and slirp's IPv6 router
        # advertisements would only be counted as dropped
        start_daemon(ctx, rt, ['vde_plug', 'switch://' + sw, 'slirp:///v4'], sw)
        echo = rt.UdpEcho()
        ctx.cleanups.append(echo.close)
        ctx.state['echo'] = echo
        # A asks first and gets the first lease; it then answers B
        p = Partner(ctx, rt, 'vde,sock=%s,mac=%s' % (sw, MAC_A),
                    'mode=fwd port=%d count=1 ip=10.0.2.15 mac0=%s' % (PORT, MAC_A))
        p.ready(rt, 'waiting for datagrams')
        ctx.cmdline = ('mode=user port=%d ip=10.0.2.16 mac0=%s peer2=10.0.2.15 port2=%d'
                       % (echo.port, MAC_B, PORT))
        return ['--net', 'vde,sock=%s,mac=%s' % (sw, MAC_B)]

    def check(case, run):
        return (rt.seen_echoes(run.ctx.state['echo'].seen) or
                run.ctx.state['partner'].verdict('mode=fwd passed: 1 datagrams echoed'))

    return rt.Case('vde-nat', 'net', 0, prepare=prepare, check=check,
                   expect=['net0: DHCP: ack: ip 10.0.2.16 mask 255.255.255.0 router 10.0.2.2',
                           'ping 10.0.2.2: reply 3', 'UDP echo 2: 1472 bytes back',
                           'ping 10.0.2.15: reply 3', 'reached the other guest 10.0.2.15',
                           'mode=user passed'])


def qemu_partner(rt, netdev):
    """A QEMU guest as the partner. QEMU's microvm runs the net guest through
    its PVH entry (tests/guests/lib/start.S); its virtio-mmio windows are
    QEMU's, and QEMU's isa-debug-exit turns the guest's status 0 into exit
    status 1. netdev(where) is QEMU's -netdev for the link."""

    def start_qemu(ctx, where):
        qemu = shutil.which('qemu-system-x86_64')
        if not qemu:
            raise rt.CaseSkip('needs qemu-system-x86_64 (scripts/install-deps.sh)')
        cmd = [qemu, '-M', 'microvm,acpi=on', '-accel', 'kvm', '-m', '64M', '-nographic',
               '-no-reboot', '-kernel', os.path.join(ctx.guest_dir, 'net.elf'),
               '-append', RESPOND + ' mmio=0xfeb00000 mmio_stride=0x200 mmio_slots=24',
               '-global', 'virtio-mmio.force-legacy=false',
               '-netdev', netdev(where),
               '-device', 'virtio-net-device,netdev=n0,mac=' + MAC_A,
               '-device', 'isa-debug-exit,iobase=0x501,iosize=1']
        return Partner(ctx, rt, None, None, cmd=cmd, status=1)

    return start_qemu


def qemu_case(rt):
    return pair_case(rt, 'vde-qemu-interop', qemu_partner(rt, lambda sw: 'vde,id=n0,sock=' + sw),
                     absent=False)


def stream_link(ctx, rt):
    """QEMU's -netdev stream listens on a unix socket (it accepts the
    connection once its guest runs); our guest is the client."""
    path = os.path.join(ctx.tmpdir, 'stream.sock')
    return path, 'stream,server=off,addr.type=unix,addr.path=' + path


def qemu_stream_case(rt):
    """A QEMU guest and a vmm guest joined by QEMU's own stream netdev
    (4-byte big-endian length before each frame) on a unix socket."""
    netdev = lambda path: 'stream,id=n0,server=on,addr.type=unix,addr.path=' + path
    return pair_case(rt, 'stream-qemu-interop', qemu_partner(rt, netdev), absent=False,
                     link=stream_link)


def error_case(rt, name, sock, words):
    """A bad sock=: one line on stderr naming the problem, exit 1, no guest."""

    def prepare(case, ctx):
        ctx.cmdline = 'mode=user port=9'
        return ['--net', 'vde,sock=' + sock.format(tmp=ctx.tmpdir)]

    def check(case, run):
        lines = [l for l in rt.text(run.stderr).splitlines() if l.strip()]
        if len(lines) != 1:
            return 'stderr has %d lines, expected one error line' % len(lines)
        if words not in lines[0]:
            return 'the error does not say %r: %r' % (words, lines[0])
        if run.stdout:
            return 'the guest ran (%d console bytes)' % len(run.stdout)
        return None

    return rt.Case(name, 'net', 1, prepare=prepare, check=check)


def cases(rt):
    return [
        internal_case(rt),
        nat_case(rt),
        qemu_case(rt),
        qemu_stream_case(rt),
        error_case(rt, 'vde-no-switch', '{tmp}/none', 'no VDE switch at'),
        error_case(rt, 'vde-bad-scheme', 'nosuch://x', 'unknown vdeplug URL scheme'),
    ]
