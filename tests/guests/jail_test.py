#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""--jail, --jail-user, the cgroup limits and --cpu-affinity, checked from
outside while the VM runs (a test guest cannot see the host to tell).

    jail_test.py --vmm build/vmm --vmm-img build/vmm-img --guest-dir build/tests/guests CASE
    jail_test.py --list

Exit status: 0 pass, 1 fail, 77 skip (the reason is printed). Cgroups are
made only by the vmm processes started here, below the cgroup this test
runs in; each case checks they are gone afterwards. Nothing here changes a
cgroup it did not create.
"""

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import case_runner
from case_runner import Fail, Skip


class Vmm:
    """A vmm started in the background; output to files in tmp."""

    def __init__(self, t, args, prefix=()):
        self.out = open(os.path.join(t.tmp, 'out'), 'w+b')
        self.err = open(os.path.join(t.tmp, 'err'), 'w+b')
        cmd = list(prefix) + [t.vmm] + args
        print('$ ' + ' '.join(cmd), flush=True)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=self.out,
                                     stderr=self.err, start_new_session=True)
        self.pid = self.proc.pid

    def child(self, timeout=10):
        """The VM process: the supervisor's only child."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                with open('/proc/%d/task/%d/children' % (self.pid, self.pid)) as f:
                    kids = f.read().split()
            except OSError:
                kids = []
            if kids:
                return int(kids[0])
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise Fail('no VM process under the supervisor %d: %s' % (self.pid, self.stderr()))

    def wait(self, timeout=60):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.proc.wait()
            raise Fail('vmm did not exit within %d s' % timeout)

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors='replace')

    def stdout(self):
        self.out.seek(0)
        return self.out.read().decode(errors='replace')


class T:
    def __init__(self, args, tmp):
        self.vmm = os.path.abspath(args.vmm)
        self.vmm_img = os.path.abspath(args.vmm_img)
        self.guests = os.path.abspath(args.guest_dir)
        self.tmp = tmp

    def guest(self, name):
        return os.path.join(self.guests, name + '.elf')


def expect(cond, msg):
    if not cond:
        raise Fail(msg)


def own_cgroup(controller):
    with open('/proc/self/cgroup') as f:
        for line in f:
            _, ctrls, path = line.rstrip('\n').split(':', 2)
            if controller in ctrls.split(','):
                return path
    raise Skip('no %s cgroup for this process' % controller)


def vm_cgroup(controller, pid):
    base = '/sys/fs/cgroup/' + controller
    if not os.path.isdir(base):
        raise Skip('no cgroup v1 %s hierarchy at %s' % (controller, base))
    return base + own_cgroup(controller).rstrip('/') + '/vmm-%d' % pid


def need_root():
    if os.geteuid() != 0:
        raise Skip('needs root (cgroups, namespaces and mknod)')


def read(path):
    with open(path) as f:
        return f.read()


# ------------------------------------------------------------ the cases

def case_jail_boot(t):
    """Guests end with their own statuses under --jail."""
    need_root()
    for guest, status, text in [('hello', 0, 'hello from guest'), ('panic', 4, ''),
                                ('poweroff', 0, '')]:
        v = Vmm(t, ['--kernel', t.guest(guest), '--jail', '--timeout', '60'])
        rc = v.wait()
        expect(rc == status, '%s: status %s, expected %d: %s' % (guest, rc, status,
                                                                  v.stderr()))
        expect(text in v.stdout(), '%s: no "%s" on the console' % (guest, text))


def case_jail_root(t):
    """vmm's root holds only its files; its namespaces are new ones."""
    need_root()
    base = os.path.join(t.tmp, 'base.qcow2')
    top = os.path.join(t.tmp, 'top.qcow2')
    log = os.path.join(t.tmp, 'console.log')
    subprocess.run([t.vmm_img, 'create', '-q', '-f', 'qcow2', base, '1M'], check=True)
    subprocess.run([t.vmm_img, 'create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', top],
                   check=True)
    v = Vmm(t, ['--kernel', t.guest('hang'), '--jail', '--timeout', '60', '--disk', top,
                '--console-log', log])
    child = v.child()
    time.sleep(0.5)  # past the pivot
    root = '/proc/%d/root' % child
    found = set()
    for d, dirs, files in os.walk(root):
        rel = d[len(root):] or '/'
        if rel == '/proc' or rel.startswith('/proc/'):
            dirs[:] = []
            continue
        for n in files:
            found.add(os.path.join(rel, n))
    want = {t.guest('hang'), top, base, log, '/dev/kvm'}
    expect(found == want, 'the jail holds %s, expected %s' % (sorted(found), sorted(want)))
    for ns in ['mnt', 'pid', 'ipc', 'uts', 'net']:
        mine = os.readlink('/proc/self/ns/' + ns)
        theirs = os.readlink('/proc/%d/ns/%s' % (child, ns))
        expect(mine != theirs, 'the VM shares the %s namespace (%s)' % (ns, mine))
    nspid = [l for l in read('/proc/%d/status' % child).splitlines() if l.startswith('NSpid')]
    expect(nspid and nspid[0].split()[-1] == '1', 'the VM is not PID 1: %s' % nspid)
    mounts = read('/proc/%d/mountinfo' % child)
    kernel_line = [l for l in mounts.splitlines() if ' %s ' % t.guest('hang') in l]
    expect(kernel_line and ' ro,' in kernel_line[0], 'the kernel is not bound read-only: %s'
           % kernel_line)
    # SIGTERM to the supervisor reaches the VM (PID 1 of its namespace)
    v.proc.send_signal(signal.SIGTERM)
    rc = v.wait()
    expect(rc == 128 + signal.SIGTERM, 'status %s after SIGTERM, expected 143: %s'
           % (rc, v.stderr()))


def readable_copy(t, name):
    """The guest where user 65534 can read it (the build tree may not be)."""
    os.chmod(t.tmp, 0o755)
    dst = os.path.join(t.tmp, name + '.elf')
    shutil.copyfile(t.guest(name), dst)
    os.chmod(dst, 0o644)
    return dst


def case_jail_vmdk(t):
    """A VMDK whose descriptor names its extents: the extents are in the
    jail too (writable, as the disk is), with cache=none as well."""
    need_root()
    for sub in ('monolithicFlat', 'twoGbMaxExtentSparse'):
        img = os.path.join(t.tmp, sub + '.vmdk')
        subprocess.run([t.vmm_img, 'create', '-q', '-f', 'vmdk', '-o', 'subformat=' + sub, img,
                        '16M'], check=True)
        for cache in ('writeback', 'none'):
            v = Vmm(t, ['--kernel', t.guest('blk'), '--jail', '--timeout', '60', '--disk',
                        '%s,format=vmdk,cache=%s' % (img, cache),
                        '--cmdline', 'mode=rw sectors=32768'])
            rc = v.wait()
            expect(rc == 0 and 'mode=rw passed' in v.stdout(),
                   '%s cache=%s: status %s: %s%s' % (sub, cache, rc, v.stdout()[-400:],
                                                     v.stderr()))


def case_jail_user(t):
    """--jail-user drops to the user; /dev/kvm still works (its own node)."""
    need_root()
    kernel = readable_copy(t, 'hang')
    v = Vmm(t, ['--kernel', kernel, '--jail', '--jail-user', '65534:65534', '--timeout', '60'])
    child = v.child()
    deadline = time.monotonic() + 10
    while 'hang: spinning' not in v.stdout() and time.monotonic() < deadline:
        expect(v.proc.poll() is None, 'vmm exited %s: %s' % (v.proc.returncode, v.stderr()))
        time.sleep(0.05)
    expect('hang: spinning' in v.stdout(), 'the guest did not start: ' + v.stderr())
    status = read('/proc/%d/status' % child)
    uid = [l.split()[1:] for l in status.splitlines() if l.startswith('Uid:')][0]
    gid = [l.split()[1:] for l in status.splitlines() if l.startswith('Gid:')][0]
    expect(uid == ['65534'] * 4 and gid == ['65534'] * 4, 'Uid %s Gid %s' % (uid, gid))
    groups = [l for l in status.splitlines() if l.startswith('Groups:')][0]
    expect(groups.split() == ['Groups:'], 'supplementary groups kept: ' + groups)
    v.proc.send_signal(signal.SIGINT)
    rc = v.wait()
    expect(rc == 128 + signal.SIGINT, 'status %s after SIGINT: %s' % (rc, v.stderr()))


def case_jail_unprivileged(t):
    """A normal user gets the jail through a user namespace."""
    need_root()
    setpriv = shutil.which('setpriv')
    if not setpriv:
        raise Skip('setpriv (util-linux) is not installed')
    kernel = readable_copy(t, 'hello')
    # (under ASan: LeakSanitizer cannot check a parent that stayed in the
    # user namespace's PID namespace, so its leak check is off here)
    prefix = ['env', 'ASAN_OPTIONS=detect_leaks=0:abort_on_error=1',
              setpriv, '--reuid', '65534', '--regid', '65534', '--clear-groups']
    mode = os.stat('/dev/kvm').st_mode
    v = Vmm(t, ['--kernel', kernel, '--jail', '--timeout', '60'], prefix=prefix)
    rc = v.wait()
    if not mode & stat.S_IROTH or not mode & stat.S_IWOTH:
        # The user namespace, the PID namespace, the new root: all made
        # (as the user), and then the host's /dev/kvm refuses the user.
        expect(rc == 1 and 'no permission to open /dev/kvm' in v.stderr(),
               'status %s, expected 1 and the /dev/kvm message: %s' % (rc, v.stderr()))
        raise Skip('the jail was built as uid 65534, but /dev/kvm is %o and root\'s: '
                   'the guest itself cannot run unprivileged on this host'
                   % stat.S_IMODE(mode))
    expect(rc == 0 and 'hello from guest' in v.stdout(),
           'status %s: %s' % (rc, v.stderr()))


def cpu_seconds(pid):
    """CPU time of all of pid's threads so far (schedstat: nanoseconds)."""
    total = 0
    for tid in os.listdir('/proc/%d/task' % pid):
        try:
            total += int(read('/proc/%d/task/%s/schedstat' % (pid, tid)).split()[0])
        except (OSError, ValueError):
            pass
    return total / 1e9


def case_cpu_limit(t):
    """A spinning guest under --cpu-limit 0.5 gets about half a CPU."""
    need_root()
    v = Vmm(t, ['--kernel', t.guest('hang'), '--cpu-limit', '0.5', '--timeout', '60'])
    child = v.child()
    cg = vm_cgroup('cpu', v.pid)
    time.sleep(1)
    expect(read(cg + '/cpu.cfs_quota_us').strip() == '50000',
           'cpu.cfs_quota_us is ' + read(cg + '/cpu.cfs_quota_us'))
    c0, t0 = cpu_seconds(child), time.monotonic()
    time.sleep(4)
    used = (cpu_seconds(child) - c0) / (time.monotonic() - t0)
    throttled = read(cg + '/cpu.stat')
    v.proc.send_signal(signal.SIGTERM)
    v.wait()
    expect(not os.path.exists(cg), 'the cgroup %s is still there' % cg)
    print('vmm used %.2f CPU under --cpu-limit 0.5; %s' % (used, throttled.replace('\n', ' ')))
    expect(used <= 0.65, 'vmm used %.2f CPU under --cpu-limit 0.5' % used)
    if used < 0.35:
        raise Skip('the host is too busy to measure: vmm got only %.2f CPU' % used)


def case_mem_limit(t):
    """A guest touching more than --mem-limit is stopped by its cgroup."""
    need_root()
    v = Vmm(t, ['--kernel', t.guest('memtouch'), '--mem', '512M', '--mem-limit', '128M',
                '--timeout', '60'])
    cg = vm_cgroup('memory', v.pid)
    rc = v.wait()
    err = v.stderr()
    expect(rc == 7, 'status %s, expected 7: %s' % (rc, err))
    expect("the VM exceeded --mem-limit 128M (killed by the cgroup's OOM killer)" in err,
           'no OOM message: ' + err)
    expect('memtouch: touched' not in v.stdout(), 'the guest got to the end')
    expect(not os.path.exists(cg), 'the cgroup %s is still there' % cg)
    # with room enough the same guest ends normally
    v = Vmm(t, ['--kernel', t.guest('memtouch'), '--mem', '128M', '--mem-limit', '512M',
                '--timeout', '60'])
    rc = v.wait()
    expect(rc == 0 and 'memtouch: touched 126 MiB' in v.stdout(),
           'status %s: %s %s' % (rc, v.stdout(), v.stderr()))


def case_io_limit(t):
    """--io-limit throttles the disk's block device; tmpfs is refused."""
    need_root()
    img = os.path.join(t.tmp, 'disk.img')
    with open(img, 'wb') as f:
        f.truncate(1 << 20)
    dev = os.stat(img).st_dev
    if os.major(dev) == 0:
        raise Skip('%s is not on a block device' % t.tmp)
    v = Vmm(t, ['--kernel', t.guest('hang'), '--disk', img, '--io-limit', 'bps=50M,iops=1000',
                '--timeout', '60'])
    v.child()
    cg = vm_cgroup('blkio', v.pid)
    time.sleep(0.5)
    for f, val in [('read_bps_device', 50 << 20), ('write_bps_device', 50 << 20),
                   ('read_iops_device', 1000), ('write_iops_device', 1000)]:
        text = read(cg + '/blkio.throttle.' + f)
        expect(' %d\n' % val in text and ':' in text, '%s: %r' % (f, text))
    v.proc.send_signal(signal.SIGTERM)
    v.wait()
    expect(not os.path.exists(cg), 'the cgroup %s is still there' % cg)
    if os.path.isdir('/dev/shm') and os.major(os.stat('/dev/shm').st_dev) == 0:
        shm = tempfile.NamedTemporaryFile(dir='/dev/shm', prefix='iso-jail-')
        shm.truncate(1 << 20)
        v = Vmm(t, ['--kernel', t.guest('hang'), '--disk', shm.name, '--io-limit', 'bps=1M'])
        rc = v.wait()
        expect(rc == 1 and 'no block device' in v.stderr(), 'status %s: %s'
               % (rc, v.stderr()))


def case_cgroup_v2(t):
    """--cgroup-version 2 where the controllers are all v1: a clear error."""
    need_root()
    v = Vmm(t, ['--kernel', t.guest('hello'), '--cgroup-version', '2', '--mem-limit', '256M'])
    rc = v.wait()
    err = v.stderr()
    if rc == 0:
        raise Skip('this host has a cgroup v2 memory controller for us: ran with it')
    expect(rc == 1 and 'cgroup' in err and '\n' == err[-1] and err.count('\n') == 1,
           'status %s, expected 1 and one line: %r' % (rc, err))


def case_cpu_affinity(t):
    """--cpu-affinity pins each vCPU thread."""
    if os.cpu_count() < 2:
        raise Skip('needs 2 host CPUs')
    v = Vmm(t, ['--kernel', t.guest('hang'), '--cpus', '2', '--cpu-affinity', '0=1,1=0',
                '--timeout', '60'])
    time.sleep(1)
    pins = {}
    for tid in os.listdir('/proc/%d/task' % v.pid):
        s = read('/proc/%d/task/%s/status' % (v.pid, tid))
        name = s.split('\n')[0].split()[1]
        pins[name] = [l.split()[1] for l in s.splitlines()
                      if l.startswith('Cpus_allowed_list')][0]
    v.proc.send_signal(signal.SIGTERM)
    v.wait()
    expect(pins.get('vcpu0') == '1' and pins.get('vcpu1') == '0', 'pinned: %s' % pins)
    v = Vmm(t, ['--kernel', t.guest('hello'), '--cpu-affinity', '0=%d' % (os.cpu_count() + 7)])
    rc = v.wait()
    expect(rc == 1 and 'cannot pin vCPU 0' in v.stderr(), 'status %s: %s' % (rc, v.stderr()))


CASES = {
    'jail-boot': case_jail_boot,
    'jail-root': case_jail_root,
    'jail-vmdk': case_jail_vmdk,
    'jail-user': case_jail_user,
    'jail-unprivileged': case_jail_unprivileged,
    'cpu-limit': case_cpu_limit,
    'mem-limit': case_mem_limit,
    'io-limit': case_io_limit,
    'cgroup-v2': case_cgroup_v2,
    'cpu-affinity': case_cpu_affinity,
}


def main():
    return case_runner.main(__doc__, CASES, 'vmm-jail-', lambda case, opts, tmp: case(T(opts, tmp)),
                            options=['--vmm-img'])


if __name__ == '__main__':
    sys.exit(main())
