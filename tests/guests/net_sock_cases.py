# SPDX-License-Identifier: MIT
"""The socket backends' guest cases for run_guest_tests.py: two or three vmm
guests over --net stream / dgram (and a multicast hub in a private network
namespace), a stream client riding out its server's restart, passt as a
stream server, and the one-line errors. cases(runner) returns them, built
with the runner's Case and helpers (runner is run_guest_tests' module)."""

import os
import shutil
import socket
import sys
import time

rt = None  # run_guest_tests, set by cases()

# ---- guest to guest: stream, dgram and a multicast hub ----
#
# The case's vmm is one guest (mode=static: ping and UDP echoes); its peers
# are more vmm processes started by a shell that then execs the case's vmm,
# so that all share a network namespace where one is needed (multicast, in
# an `unshare -rn` of the case's own, whose loopback gets multicast on).
# Unix sockets live in the case's temp dir; TCP and UDP use 127.0.0.1.

PEER_SH = r"""
set -e
if [ "$NETNS" = 1 ]; then ip link set lo up multicast on; fi
set +e
i=0
while [ $i -lt $NPEERS ]; do
    eval "net=\$PEER_NET_$i cmd=\$PEER_CMD_$i"
    ( "$VMM" --kernel "$GUEST" --timeout "$PEER_TIMEOUT" --net "$net" --cmdline "$cmd" \
        </dev/null >"$TMP/peer$i.out" 2>&1; echo $? >"$TMP/peer$i.rc" ) &
    i=$((i + 1))
    sleep 0.3
done
exec "$@"
"""

PEER_IP = '10.3.0.'
PEER_PORT = 7000


def peer_result(run, i):
    """(exit status, console and stderr) of peer i, once it has ended (up to
    10 s more); (None, why) if it left no trace. The output is printed."""
    base = os.path.join(run.ctx.tmpdir, 'peer%d' % i)
    deadline = time.monotonic() + 10
    while not os.path.exists(base + '.rc') and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        with open(base + '.out') as f:
            out = f.read()
        with open(base + '.rc') as f:
            rc = f.read().strip()
    except OSError as e:
        return None, str(e)
    print('--- peer %d (status %s) ---\n%s' % (i, rc, out), end='')
    return rc, out


def peers_case(name, answer_net, client_nets, netns=False, same_mac=False):
    """One guest answers (mode=respond, MAC ..:56, 10.3.0.1); the clients
    (mode=static, MACs ..:57.., 10.3.0.2..) each ping it and have three
    datagrams echoed; the last client is the case's own vmm. Nets are
    format strings with {tmp} and {port} filled in. With same_mac every
    guest keeps the default MAC: the exchange still works (the guests'
    driver does not mind), and the case's vmm must warn of the clash."""
    nclients = len(client_nets)

    def mac(n):
        return '52:54:00:12:34:%02x' % (0x56 + (0 if same_mac else n))

    def prepare(case, ctx):
        if netns and not shutil.which('unshare'):
            raise rt.CaseSkip('needs unshare (util-linux) for a private network namespace')
        port = rt.free_port(socket.SOCK_STREAM)
        fill = dict(tmp=ctx.tmpdir, port=port, port2=rt.free_port())
        env = dict(NPEERS=str(nclients), VMM=os.path.abspath(ctx.vmm),
                   GUEST=os.path.join(ctx.guest_dir, 'net.elf'), TMP=ctx.tmpdir,
                   PEER_TIMEOUT=str(rt.VMM_TIMEOUT), NETNS='1' if netns else '0')
        peers = [(answer_net, 'mode=respond ip=%s1 port=%d count=%d' %
                  (PEER_IP, PEER_PORT, 3 * nclients))]
        for i, net in enumerate(client_nets[:-1], 1):
            peers.append((net + ',mac=' + mac(i), 'mode=static ip=%s%d peer=%s1 port=%d mac0=%s'
                          % (PEER_IP, i + 1, PEER_IP, PEER_PORT, mac(i))))
        for i, (net, cmd) in enumerate(peers):
            env['PEER_NET_%d' % i] = net.format(**fill)
            env['PEER_CMD_%d' % i] = cmd
            print('peer %d: --net %s --cmdline "%s"' % (i, env['PEER_NET_%d' % i], cmd))
        os.environ.update(env)
        ctx.cleanups.append(lambda: [os.environ.pop(k, None) for k in env])
        script = os.path.join(ctx.tmpdir, 'peers.sh')
        with open(script, 'w') as f:
            f.write(PEER_SH)
        ctx.prefix = (['unshare', '-rn'] if netns else []) + ['sh', script]
        ctx.state['npeers'] = len(peers)
        ctx.cmdline = 'mode=static ip=%s%d peer=%s1 port=%d mac0=%s' % (
            PEER_IP, nclients + 1, PEER_IP, PEER_PORT, mac(nclients))
        return ['--net', client_nets[-1].format(**fill) + ',mac=' + mac(nclients)]

    def check(case, run):
        errors = []
        clash = "frames from this NIC's own MAC 52:54:00:12:34:56" in rt.text(run.stderr)
        if clash != same_mac:
            errors.append('the vmm %s a MAC clash' % ('did not report' if same_mac else
                                                       'reported'))
        for i in range(run.ctx.state['npeers']):
            rc, out = peer_result(run, i)
            if rc is None:
                errors.append('peer %d: %s' % (i, out))
                continue
            want = 'mode=respond passed' if i == 0 else 'mode=static passed'
            if rc != '0' or want not in out:
                errors.append('peer %d ended with status %s without %r' % (i, rc, want))
            if i == 0 and 'datagrams echoed' in out and \
                    '%d datagrams echoed' % (3 * nclients) not in out:
                errors.append('the answering guest did not echo %d datagrams' % (3 * nclients))
        return '; '.join(errors) or None

    return rt.Case(name, 'net', 0, prepare=prepare, check=check,
                expect=['ARP: %s1 is at %s' % (PEER_IP, mac(0)), 'ping %s1: reply 3' % PEER_IP,
                        'UDP echo 2: 1472 bytes back', 'mode=static passed'])


# A stream server that goes away and comes back: the client (the case's
# vmm, reconnect=1) says once that its peer went, keeps running, reconnects
# and does a second round with the new server.
RECONNECT_SH = r"""
( "$VMM" --kernel "$GUEST" --timeout 60 --net "$SERVER_NET" --cmdline "$SERVER_CMD" \
      </dev/null >"$TMP/peer0.out" 2>&1; echo $? >"$TMP/peer0.rc"
  sleep 1
  "$VMM" --kernel "$GUEST" --timeout 60 --net "$SERVER_NET" --cmdline "$SERVER_CMD" \
      </dev/null >"$TMP/peer1.out" 2>&1; echo $? >"$TMP/peer1.rc" ) &
sleep 0.3
exec "$@"
"""


def reconnect_case(name):
    def prepare(case, ctx):
        script = os.path.join(ctx.tmpdir, 'reconnect.sh')
        with open(script, 'w') as f:
            f.write(RECONNECT_SH)
        sock = os.path.join(ctx.tmpdir, 'net.sock')
        env = dict(VMM=os.path.abspath(ctx.vmm), GUEST=os.path.join(ctx.guest_dir, 'net.elf'),
                   TMP=ctx.tmpdir, SERVER_NET='stream,server=on,addr.path=' + sock,
                   SERVER_CMD='mode=respond ip=%s1 port=%d count=3' % (PEER_IP, PEER_PORT))
        os.environ.update(env)
        ctx.cleanups.append(lambda: [os.environ.pop(k, None) for k in env])
        ctx.prefix = ['sh', script]
        ctx.cmdline = 'mode=static ip=%s2 peer=%s1 port=%d rounds=2 gap=1500 mac0=%s' % (
            PEER_IP, PEER_IP, PEER_PORT, '52:54:00:12:34:57')
        return ['-v', '--net', 'stream,addr.path=%s,reconnect=1,mac=52:54:00:12:34:57' % sock]

    def check(case, run):
        # -v: "peer connected" too. Once per outage: the failed attempts
        # while the server is down say nothing; the second server may be
        # seen going at the end as well.
        seq = [('went' if 'the peer went away' in l else 'connected')
               for l in rt.text(run.stderr).splitlines()
               if 'the peer went away' in l or 'peer connected' in l]
        if seq[:3] != ['connected', 'went', 'connected'] or seq[3:] not in ([], ['went']):
            return 'the client\'s connection events were %s, expected connected, went ' \
                'away (once), connected' % seq
        for i in range(2):
            rc, out = peer_result(run, i)
            if rc is None:
                return 'server %d: %s' % (i, out)
            if rc != '0':
                return 'server %d ended with status %s' % (i, rc)
        return None

    return rt.Case(name, 'net', 0, prepare=prepare, check=check,
                expect=['round 2: looking for the peer again', 'mode=static passed'])


# Interop with QEMU's own netdev code (qemu-system-x86): QEMU runs no guest
# (-M none), only its netdevs on one hub, relaying frames between a vmm
# guest on one of QEMU's socket backends and a vmm guest on another. (A
# QEMU guest is out of reach: the test guests have no PVH note, and their
# driver probes vmm's virtio-mmio map.) The answering guest starts before
# QEMU when QEMU connects to it, else after.
QEMU_SH = r"""
set -e
if [ "$NETNS" = 1 ]; then ip link set lo up multicast on; fi
set +e
answer() {
    "$VMM" --kernel "$GUEST" --timeout 60 --net "$ANSWER_NET" --cmdline "$ANSWER_CMD" \
        </dev/null >"$TMP/peer0.out" 2>&1; echo $? >"$TMP/peer0.rc"
}
if [ "$ANSWER_FIRST" = 1 ]; then answer & sleep 0.3; fi
qemu-system-x86_64 -M none -nodefaults -display none -monitor none -serial none \
    $QEMU_NETDEVS >"$TMP/qemu.log" 2>&1 &
qemu=$!
sleep 0.5
if [ "$ANSWER_FIRST" != 1 ]; then answer & sleep 0.3; fi
"$@"
rc=$?
kill $qemu 2>/dev/null
exit $rc
"""


def qemu_case(name, answer_net, qemu_netdevs, client_net, answer_first=False, netns=False):
    """The answering guest on answer_net, the case's vmm on client_net, and
    QEMU's netdevs (joined by hub 0) between them; {tmp} and {port} are
    filled in."""

    def prepare(case, ctx):
        if not shutil.which('qemu-system-x86_64'):
            raise rt.CaseSkip('qemu-system-x86_64 is not installed')
        if netns and not shutil.which('unshare'):
            raise rt.CaseSkip('needs unshare (util-linux) for a private network namespace')
        fill = dict(tmp=ctx.tmpdir, port=rt.free_port(socket.SOCK_STREAM))
        netdevs = []
        for i, nd in enumerate(qemu_netdevs):
            netdevs += ['-netdev', nd.format(**fill) + ',id=n%d' % i,
                        '-netdev', 'hubport,id=h%d,hubid=0,netdev=n%d' % (i, i)]
        script = os.path.join(ctx.tmpdir, 'qemu.sh')
        with open(script, 'w') as f:
            f.write(QEMU_SH)
        env = dict(VMM=os.path.abspath(ctx.vmm), GUEST=os.path.join(ctx.guest_dir, 'net.elf'),
                   TMP=ctx.tmpdir, NETNS='1' if netns else '0',
                   ANSWER_FIRST='1' if answer_first else '0', QEMU_NETDEVS=' '.join(netdevs),
                   ANSWER_NET=answer_net.format(**fill),
                   ANSWER_CMD='mode=respond ip=%s1 port=%d' % (PEER_IP, PEER_PORT))
        print('qemu: %s' % env['QEMU_NETDEVS'])
        print('peer 0: --net %s' % env['ANSWER_NET'])
        os.environ.update(env)
        ctx.cleanups.append(lambda: [os.environ.pop(k, None) for k in env])
        ctx.prefix = (['unshare', '-rn'] if netns else []) + ['sh', script]
        ctx.cmdline = 'mode=static ip=%s2 peer=%s1 port=%d mac0=52:54:00:12:34:57' % (
            PEER_IP, PEER_IP, PEER_PORT)
        return ['--net', client_net.format(**fill) + ',mac=52:54:00:12:34:57']

    def check(case, run):
        rc, out = peer_result(run, 0)
        try:
            with open(os.path.join(run.ctx.tmpdir, 'qemu.log')) as f:
                print('--- qemu ---\n' + f.read(), end='')
        except OSError:
            pass
        if rc != '0' or 'mode=respond passed' not in out:
            return 'the answering guest ended with status %s: %s' % (rc, out[-200:])
        return None

    return rt.Case(name, 'net', 0, prepare=prepare, check=check,
                   expect=['ARP: %s1 is at 52:54:00:12:34:56' % PEER_IP,
                           'ping %s1: reply 3' % PEER_IP, 'UDP echo 2: 1472 bytes back',
                           'mode=static passed'])


def sock_error_case(name, net, words, status=1):
    """A socket backend that cannot work: one line on stderr naming the
    cause, a non-zero exit, and no guest."""

    def prepare(case, ctx):
        ctx.cmdline = 'mode=user port=9'
        return ['--net', net.format(tmp=ctx.tmpdir, port=rt.free_port(socket.SOCK_STREAM))]

    def check(case, run):
        lines = [l for l in rt.text(run.stderr).splitlines() if l.strip()]
        if len(lines) != 1:
            return 'stderr has %d lines, expected one error line' % len(lines)
        missing = [w for w in words if w not in lines[0]]
        if missing:
            return 'the error line lacks %s: %r' % (missing, lines[0])
        if run.stdout:
            return 'the guest ran (%d console bytes)' % len(run.stdout)
        return None

    return rt.Case(name, 'net', status, prepare=prepare, check=check, kill_after=30)


# passt (Debian's `passt`) speaks the stream protocol as a server: user-mode
# networking in a process of its own. It runs in a namespace of the case's
# own, on a bridge with an address and a default route for it to copy (the
# guest's DHCP lease), and maps the gateway to the namespace's loopback,
# where a UDP echo server listens. passt 2023-03 answers no ping there, so
# the guest sends none.
PASST_SH = r"""
set -e
ip link set lo up
ip link add vmmpasst0 type bridge
ip addr add 192.168.99.2/24 dev vmmpasst0
ip link set vmmpasst0 up
ip route add default via 192.168.99.1
"$PYTHON" -c "$ECHO_PY" 127.0.0.1 "$PORT" >"$TMP/echo.log" &
echo_pid=$!
passt -f -q -1 -D 192.168.99.53 -s "$TMP/passt.sock" >"$TMP/passt.log" 2>&1 &
i=0
while [ ! -S "$TMP/passt.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
set +e
"$@"
rc=$?
kill $echo_pid 2>/dev/null
exit $rc
"""


def passt_case(name):
    def prepare(case, ctx):
        if not shutil.which('passt'):
            raise rt.CaseSkip('passt is not installed')
        if not shutil.which('unshare'):
            raise rt.CaseSkip('needs unshare (util-linux) for a private network namespace')
        script = os.path.join(ctx.tmpdir, 'passt.sh')
        with open(script, 'w') as f:
            f.write(PASST_SH)
        echo_py = rt.NS_ECHO.replace("print('ready', flush=True)\n", '')
        env = dict(PYTHON=sys.executable, ECHO_PY=echo_py, PORT=str(PEER_PORT), TMP=ctx.tmpdir)
        os.environ.update(env)
        ctx.cleanups.append(lambda: [os.environ.pop(k, None) for k in env])
        ctx.prefix = ['unshare', '-rn', 'sh', script]
        ctx.cmdline = ('mode=user ip=192.168.99.2 router=192.168.99.1 dns=192.168.99.53 '
                       'pings=0 port=%d' % PEER_PORT)
        return ['--net', 'stream,addr.type=unix,addr.path=%s/passt.sock' % ctx.tmpdir]

    def check(case, run):
        try:
            with open(os.path.join(run.ctx.tmpdir, 'echo.log')) as f:
                got = [l.split()[1] for l in f.read().splitlines() if l.strip()]
        except (OSError, IndexError) as e:
            return 'the echo server\'s log: %s' % e
        want = [str(n) for n in rt.NET_ECHO_SIZES]
        if got != want:
            return 'the echo server behind passt saw %s, expected %s' % (got, want)
        return None

    return rt.Case(name, 'net', 0, prepare=prepare, check=check,
                expect=['DHCP: ack: ip 192.168.99.2 mask 255.255.255.0 router 192.168.99.1',
                        'UDP echo 2: 1472 bytes back from 192.168.99.1', 'mode=user passed'])


def cases(runner):
    """The cases, made with the runner's Case and helpers."""
    global rt
    rt = runner
    return [
        peers_case('net-stream-unix', 'stream,server=on,addr.type=unix,addr.path={tmp}/net.sock',
                   ['stream,addr.type=unix,addr.path={tmp}/net.sock']),
        # two guests with the one default MAC: said once, and nothing breaks
        peers_case('net-stream-mac-clash', 'stream,server=on,addr.path={tmp}/net.sock',
                   ['stream,addr.path={tmp}/net.sock'], same_mac=True),
        peers_case('net-stream-tcp', 'socket,listen=127.0.0.1:{port}',
                   ['stream,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port={port}']),
        peers_case('net-dgram-unix',
                   'dgram,local.type=unix,local.path={tmp}/a.sock,remote.type=unix,'
                   'remote.path={tmp}/b.sock',
                   ['dgram,local.path={tmp}/b.sock,remote.path={tmp}/a.sock']),
        peers_case('net-dgram-udp',
                   'dgram,local.host=127.0.0.1,local.port={port},remote.host=127.0.0.1,'
                   'remote.port={port2}',
                   ['socket,udp=127.0.0.1:{port},localaddr=127.0.0.1:{port2}'], netns=True),
        # a hub of three guests that needs no daemon, only inside a namespace
        peers_case('net-mcast-hub', 'socket,mcast=230.0.0.1:{port},localaddr=127.0.0.1',
                   ['dgram,remote.host=230.0.0.1,remote.port={port},local.host=127.0.0.1',
                    'socket,mcast=230.0.0.1:{port},localaddr=127.0.0.1'], netns=True),
        reconnect_case('net-stream-reconnect'),
        # QEMU's stream server and unix dgram, between a vmm client and a
        # vmm dgram peer
        qemu_case('net-qemu-stream-dgram',
                  'dgram,local.path={tmp}/v.sock,remote.path={tmp}/q-dgram.sock',
                  ['stream,server=on,addr.type=unix,addr.path={tmp}/q.sock',
                   'dgram,local.type=unix,local.path={tmp}/q-dgram.sock,remote.type=unix,'
                   'remote.path={tmp}/v.sock'],
                  'stream,addr.path={tmp}/q.sock'),
        # QEMU's stream client (to a vmm server over TCP) and QEMU's
        # multicast hub (-netdev socket,mcast=), with a vmm member
        qemu_case('net-qemu-mcast', 'socket,listen=127.0.0.1:{port}',
                  ['stream,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port={port}',
                   'socket,mcast=230.0.0.1:{port},localaddr=127.0.0.1'],
                  'dgram,remote.host=230.0.0.1,remote.port={port},local.host=127.0.0.1',
                  answer_first=True, netns=True),
        passt_case('net-passt'),
        sock_error_case('net-stream-refused', 'stream,addr.host=127.0.0.1,addr.port={port}',
                        ['--net stream', 'cannot connect to 127.0.0.1:', 'Connection refused']),
        sock_error_case('net-stream-nosock', 'stream,addr.path={tmp}/none.sock',
                        ['--net stream', 'none.sock', 'No such file']),
        sock_error_case('net-stream-badaddr', 'stream,addr.type=inet,addr.host=300.1.2.3',
                        ['--net stream', '300.1.2.3', 'addr.host'], status=2),
        sock_error_case('net-dgram-nolocal', 'dgram,remote.host=127.0.0.1,remote.port=9',
                        ['--net dgram', 'local'], status=2),
    ]
