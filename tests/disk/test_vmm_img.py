#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vmm-img, command by command: what each does and how each fails.

Usage: test_vmm_img.py PATH-TO-vmm-img   (meson: suite 'disk')

Every failure must be exactly one line on stderr that names the file, with
a non-zero exit status, and must leave no half-made output behind.
"""
import json
import os
import pty
import random
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

VMM_IMG = None  # set from argv in main


def run(*args, cwd=None, check=None):
    """Run vmm-img; returns (rc, stdout, stderr)."""
    p = subprocess.run([VMM_IMG, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if check is not None and p.returncode != check:
        raise AssertionError(f"vmm-img {' '.join(args)}: rc {p.returncode}, want {check}\n"
                             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p.returncode, p.stdout, p.stderr


# --- a minimal, independent qcow2 editor (qcow2.txt header offsets) ---------

def qcow2_layout(path):
    with open(path, 'rb') as f:
        h = f.read(104)
    version = struct.unpack('>I', h[4:8])[0]
    return {
        'cbits': struct.unpack('>I', h[20:24])[0],
        'l1_size': struct.unpack('>I', h[36:40])[0],
        'l1': struct.unpack('>Q', h[40:48])[0],
        'rt': struct.unpack('>Q', h[48:56])[0],
        'order': struct.unpack('>I', h[96:100])[0] if version >= 3 else 4,
    }


def set_refcount(path, idx, val):
    """Set host cluster idx's refcount (16-bit refcounts only)."""
    lay = qcow2_layout(path)
    assert lay['order'] == 4, 'test helper handles 16-bit refcounts only'
    per = (1 << lay['cbits']) * 8 // 16
    with open(path, 'r+b') as f:
        f.seek(lay['rt'] + 8 * (idx // per))
        rb = struct.unpack('>Q', f.read(8))[0]
        assert rb, f'no refcount block for cluster {idx}'
        f.seek(rb + 2 * (idx % per))
        f.write(struct.pack('>H', val))


def add_leaks(path, n):
    """Grow the file by n clusters that have refcount 1 and no user."""
    cs = 1 << qcow2_layout(path)['cbits']
    first = (os.path.getsize(path) + cs - 1) // cs
    os.truncate(path, (first + n) * cs)
    for i in range(n):
        set_refcount(path, first + i, 1)
    return first


def write_random_raw(path, size, seed, chunks=12):
    """A sparse raw file with random data in some places, zeros elsewhere."""
    rnd = random.Random(seed)
    written = 512
    with open(path, 'wb') as f:
        f.truncate(size)
        for _ in range(chunks):
            off = rnd.randrange(0, size // 512) * 512
            ln = min(rnd.choice([512, 4096, 65536, 300 * 1024]), size - off)
            f.seek(off)
            f.write(rnd.randbytes(ln))
            written += ln
        f.seek(size - 512)  # the last sector too
        f.write(b'\xee' * 512)
    return written, chunks + 1


def read(path):
    with open(path, 'rb') as f:
        return f.read()


class ImgTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='vmm-img-test.')

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def p(self, name):
        return os.path.join(self.dir, name)

    def assert_one_error(self, args, must_name, rc_want=1):
        rc, out, err = run(*args, cwd=self.dir)
        self.assertEqual(rc, rc_want, f'{args}: {err}')
        lines = err.strip('\n').split('\n')
        self.assertEqual(len(lines), 1, f'{args}: stderr is not one line: {err!r}')
        self.assertIn(must_name, lines[0], f'{args}: error does not name {must_name}')
        self.assertNotIn('Sanitizer', err)
        return lines[0]


class TestGeneral(ImgTest):
    def test_version_and_help(self):
        rc, out, _ = run('--version', check=0)
        self.assertRegex(out, r'^vmm-img version \d+\.\d+')
        rc, out, _ = run('--help', check=0)
        for cmd in ('create', 'info', 'check', 'convert'):
            self.assertIn(cmd, out)

    def test_bad_usage(self):
        self.assert_one_error([], 'no command')
        self.assert_one_error(['frobnicate'], 'frobnicate')
        self.assert_one_error(['info'], 'info')
        self.assert_one_error(['check', '-r', 'everything', 'x.qcow2'], 'check')
        self.assert_one_error(['convert', 'only-one-arg'], 'convert')


class TestCreate(ImgTest):
    def test_qcow2_20g_is_sparse(self):
        rc, out, _ = run('create', '-f', 'qcow2', 'disk.qcow2', '20G', cwd=self.dir, check=0)
        self.assertIn("Formatting 'disk.qcow2', fmt=qcow2", out)
        size = os.path.getsize(self.p('disk.qcow2'))
        print(f'20G qcow2 image: {size // 1024} KiB on disk (file size)')
        self.assertLess(size, 1 << 20)
        info = json.loads(run('info', '--output=json', self.p('disk.qcow2'), check=0)[1])
        self.assertEqual(info['virtual-size'], 20 << 30)
        self.assertEqual(info['format'], 'qcow2')
        self.assertEqual(info['cluster-size'], 65536)

    def test_raw_is_sparse(self):
        run('create', '-f', 'raw', self.p('disk.raw'), '1G', check=0)
        st = os.stat(self.p('disk.raw'))
        self.assertEqual(st.st_size, 1 << 30)
        self.assertLess(st.st_blocks * 512, 1 << 20)

    def test_cluster_size_and_quiet(self):
        rc, out, _ = run('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096',
                         self.p('c.qcow2'), '100M', check=0)
        self.assertEqual(out, '')
        info = json.loads(run('info', '--output=json', self.p('c.qcow2'), check=0)[1])
        self.assertEqual(info['cluster-size'], 4096)
        self.assertEqual(info['virtual-size'], 100 << 20)

    def test_overlay(self):
        run('create', '-f', 'qcow2', self.p('base.qcow2'), '64M', check=0)
        os.mkdir(self.p('sub'))
        # Named relative to the overlay, not to the current directory.
        run('create', '-f', 'qcow2', '-b', '../base.qcow2', self.p('sub/ov.qcow2'), check=0)
        info = json.loads(run('info', '--output=json', self.p('sub/ov.qcow2'), check=0)[1])
        self.assertEqual(info['virtual-size'], 64 << 20)  # taken from the base
        self.assertEqual(info['backing-filename'], '../base.qcow2')
        self.assertEqual(info['backing-filename-format'], 'qcow2')
        chain = json.loads(run('info', '--output=json', '--backing-chain',
                               self.p('sub/ov.qcow2'), check=0)[1])
        self.assertEqual([c['format'] for c in chain], ['qcow2', 'qcow2'])
        self.assertEqual(chain[1]['filename'], self.p('sub/../base.qcow2'))
        rc, out, _ = run('info', '--backing-chain', self.p('sub/ov.qcow2'), check=0)
        self.assertEqual(out.count('image: '), 2)
        self.assertIn('backing file: ../base.qcow2', out)
        # A raw base; an explicit size overrides the base's.
        run('create', '-f', 'raw', self.p('base.raw'), '8M', check=0)
        run('create', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', self.p('ov2.qcow2'), '16M',
            check=0)
        info = json.loads(run('info', '--output=json', self.p('ov2.qcow2'), check=0)[1])
        self.assertEqual(info['virtual-size'], 16 << 20)
        self.assertEqual(info['backing-filename-format'], 'raw')
        self.assertEqual(run('check', self.p('ov2.qcow2'))[0], 0)

    def test_several_o(self):
        """Several -o add up, a backing_file= in the first one included (its
        string was once overwritten by the next -o)."""
        run('create', '-f', 'raw', self.p('base.raw'), '8M', check=0)
        run('create', '-q', '-f', 'qcow2', '-o', 'backing_file=base.raw,backing_fmt=raw',
            '-o', 'cluster_size=4096', self.p('a.qcow2'), check=0)
        run('create', '-q', '-f', 'qcow2', '-o', 'backing_file=base.raw', '-o',
            'backing_fmt=raw', self.p('b.qcow2'), check=0)
        for name, cs in (('a.qcow2', 4096), ('b.qcow2', 65536)):
            info = json.loads(run('info', '--output=json', self.p(name), check=0)[1])
            self.assertEqual(info['backing-filename'], 'base.raw', name)
            self.assertEqual(info['backing-filename-format'], 'raw', name)
            self.assertEqual(info['cluster-size'], cs, name)
            self.assertEqual(info['virtual-size'], 8 << 20, name)

    def test_errors(self):
        run('create', '-f', 'qcow2', self.p('exists.qcow2'), '1G', check=0)
        before = read(self.p('exists.qcow2'))
        self.assert_one_error(['create', '-f', 'qcow2', 'exists.qcow2', '2G'], 'exists.qcow2')
        self.assertEqual(read(self.p('exists.qcow2')), before)  # not overwritten
        for size in ('12Q', '1000', '-5', 'G', '99999999999999999999', '16E'):
            self.assert_one_error(['create', '-f', 'qcow2', 'bad.qcow2', size], 'bad.qcow2')
            self.assertFalse(os.path.exists(self.p('bad.qcow2')), size)
        self.assert_one_error(['create', '-f', 'qcow2', 'nosize.qcow2'], 'nosize.qcow2')
        self.assert_one_error(['create', '-f', 'bochs', 'x.img', '1G'], 'bochs')
        self.assert_one_error(['create', '-f', 'raw', '-b', 'exists.qcow2', 'r.raw'], 'r.raw')
        self.assert_one_error(['create', '-f', 'qcow2', '-b', 'missing.qcow2', 'ov.qcow2'],
                              'missing.qcow2')
        self.assert_one_error(['create', '-f', 'qcow2', '-o', 'cluster_size=3000', 'c.qcow2',
                               '1G'], 'cluster_size')
        self.assert_one_error(['create', '-f', 'raw', 'nodir/x.raw', '1G'], 'nodir/x.raw')
        for name in ('ov.qcow2', 'c.qcow2', 'r.raw'):
            self.assertFalse(os.path.exists(self.p(name)), name)


class TestInfo(ImgTest):
    def test_raw(self):
        run('create', '-f', 'raw', self.p('d.raw'), '10M', check=0)
        rc, out, _ = run('info', self.p('d.raw'), check=0)
        self.assertIn('file format: raw', out)
        self.assertIn('virtual size: 10 MiB (10485760 bytes)', out)
        info = json.loads(run('info', '--output=json', self.p('d.raw'), check=0)[1])
        self.assertEqual((info['format'], info['virtual-size']), ('raw', 10 << 20))

    def test_format_source(self):
        """info says whether the format was probed or given (-f)."""
        run('create', '-f', 'qcow2', self.p('d.qcow2'), '1M', check=0)
        self.assertIn('format source: probed', run('info', self.p('d.qcow2'), check=0)[1])
        self.assertIn('format source: given',
                      run('info', '-f', 'qcow2', self.p('d.qcow2'), check=0)[1])
        info = json.loads(run('info', '--output=json', self.p('d.qcow2'), check=0)[1])
        self.assertIs(info['format-probed'], True)
        info = json.loads(run('info', '-f', 'qcow2', '--output=json', self.p('d.qcow2'),
                              check=0)[1])
        self.assertIs(info['format-probed'], False)
        self.assertEqual(info['format-specific']['data']['refcount-bits'], 16)

    def test_human_qcow2(self):
        run('create', '-f', 'qcow2', self.p('d.qcow2'), '20G', check=0)
        rc, out, _ = run('info', self.p('d.qcow2'), check=0)
        for want in ('file format: qcow2', 'virtual size: 20 GiB (21474836480 bytes)',
                     'disk size: ', 'cluster_size: 65536', 'compat: 1.1'):
            self.assertIn(want, out)

    def test_fifo_is_refused_not_waited_for(self):
        os.mkfifo(self.p('fifo'))
        for cmd in (['info', 'fifo'], ['check', 'fifo'], ['convert', 'fifo', 'out.raw']):
            self.assert_one_error(cmd, 'fifo', rc_want=1)

    def test_errors(self):
        self.assert_one_error(['info', 'missing.qcow2'], 'missing.qcow2')
        with open(self.p('junk.qcow2'), 'wb') as f:
            f.write(b'QFI\xfb' + random.Random(1).randbytes(5000))
        self.assert_one_error(['info', 'junk.qcow2'], 'junk.qcow2')
        with open(self.p('short.qcow2'), 'wb') as f:
            f.write(b'QFI\xfb\x00\x00\x00\x03')
        self.assert_one_error(['info', 'short.qcow2'], 'short.qcow2')
        run('create', '-f', 'raw', self.p('r.raw'), '1M', check=0)
        self.assert_one_error(['info', '-f', 'qcow2', 'r.raw'], 'r.raw')
        # A backing chain that loops ends in an error, not a hang.
        run('create', '-f', 'qcow2', self.p('a.qcow2'), '1M', check=0)
        run('create', '-f', 'qcow2', '-b', 'a.qcow2', self.p('b.qcow2'), check=0)
        os.rename(self.p('b.qcow2'), self.p('a.qcow2'))  # a -> a
        self.assert_one_error(['info', '--backing-chain', 'a.qcow2'], 'a.qcow2')


class TestCheck(ImgTest):
    def test_clean(self):
        run('create', '-f', 'qcow2', self.p('d.qcow2'), '1G', check=0)
        rc, out, _ = run('check', self.p('d.qcow2'), check=0)
        self.assertIn('No errors were found on the image.', out)
        self.assertIn('0/16384 = 0.00% allocated', out)
        res = json.loads(run('check', '--output=json', self.p('d.qcow2'), check=0)[1])
        self.assertEqual((res['corruptions'], res['leaks'], res['total-clusters']),
                         (0, 0, 16384))

    def test_leaks_and_repair(self):
        path = self.p('d.qcow2')
        run('create', '-f', 'qcow2', path, '1G', check=0)
        add_leaks(path, 3)
        rc, out, _ = run('check', path, check=3)
        self.assertIn('3 leaked clusters were found on the image.', out)
        self.assertEqual(out.count('Leaked cluster'), 3)
        res = json.loads(run('check', '--output=json', path, check=3)[1])
        self.assertEqual((res['leaks'], res['corruptions']), (3, 0))
        rc, out, _ = run('check', '-r', 'leaks', path, check=0)
        self.assertIn('3 leaked clusters', out)
        self.assertIn('Double checking the fixed image now', out)
        run('check', path, check=0)

    def test_corruption_and_repair(self):
        path = self.p('d.qcow2')
        run('create', '-f', 'qcow2', path, '1G', check=0)
        lay = qcow2_layout(path)
        set_refcount(path, lay['l1'] >> lay['cbits'], 0)  # the L1 table looks free
        rc, out, _ = run('check', path, check=2)
        self.assertIn('1 errors were found on the image.', out)
        run('check', '-r', 'leaks', path, check=2)  # leaves corruptions alone
        rc, out, _ = run('check', '-r', 'all', path, check=0)
        self.assertIn('1 corruptions', out)
        run('check', path, check=0)

    def test_unrepairable(self):
        path = self.p('d.qcow2')
        run('create', '-f', 'qcow2', path, '1G', check=0)
        lay = qcow2_layout(path)
        with open(path, 'r+b') as f:  # an L2 table far past the end of the file
            f.seek(lay['l1'])
            f.write(struct.pack('>Q', (1 << 40) | (1 << 63)))
        before = read(path)
        rc, out, _ = run('check', '-r', 'all', path, check=2)
        self.assertIn('Not repairing', out)
        self.assertEqual(read(path), before)

    def test_errors(self):
        self.assert_one_error(['check', 'missing.qcow2'], 'missing.qcow2')
        with open(self.p('junk.qcow2'), 'wb') as f:
            f.write(b'QFI\xfb' + bytes(100))
        self.assert_one_error(['check', 'junk.qcow2'], 'junk.qcow2')
        run('create', '-f', 'raw', self.p('r.raw'), '1M', check=0)
        self.assert_one_error(['check', 'r.raw'], 'r.raw', rc_want=63)


class TestConvert(ImgTest):
    def roundtrip(self, size, seed, cluster, *qcow2_opts):
        src, mid, back = self.p('src.raw'), self.p('mid.qcow2'), self.p('back.raw')
        data, runs = write_random_raw(src, size, seed)
        run('convert', '-O', 'qcow2', *qcow2_opts, src, mid, check=0)
        run('convert', '-O', 'raw', mid, back, check=0)
        self.assertEqual(read(src), read(back))
        self.assertEqual(run('check', mid)[0], 0)
        # Zeros were not written: each output holds the data, rounded out to
        # whole clusters (4K blocks for raw), plus 1 MiB of metadata.
        self.assertLess(os.path.getsize(mid), data + runs * 2 * cluster + (1 << 20))
        self.assertLess(os.stat(back).st_blocks * 512, data + runs * 2 * 4096 + (1 << 20))
        for f in (src, mid, back):
            os.unlink(f)

    def test_roundtrip_default_clusters(self):
        self.roundtrip(64 << 20, 1, 65536)

    def test_roundtrip_small_clusters(self):
        self.roundtrip(24 << 20, 2, 4096, '-o', 'cluster_size=4096')

    def test_raw_to_raw_and_auto_probe(self):
        write_random_raw(self.p('a.raw'), 8 << 20, 3)
        run('convert', self.p('a.raw'), self.p('b.raw'), check=0)  # -O raw is the default
        self.assertEqual(read(self.p('a.raw')), read(self.p('b.raw')))

    def test_overlay_reads_through_backing(self):
        write_random_raw(self.p('data.raw'), 16 << 20, 4)
        run('convert', '-O', 'qcow2', self.p('data.raw'), self.p('base.qcow2'), check=0)
        run('create', '-f', 'qcow2', '-b', 'base.qcow2', self.p('ov.qcow2'), check=0)
        run('convert', '-O', 'raw', self.p('ov.qcow2'), self.p('out.raw'), check=0)
        self.assertEqual(read(self.p('data.raw')), read(self.p('out.raw')))

    def test_every_format_dense_and_sparse(self):
        # More data than the copy keeps in flight (8 chunks of 2 MiB), then
        # holes, then data again: every format out and back in again.
        src = self.p('src.raw')
        rnd = random.Random(5)
        with open(src, 'wb') as f:
            f.truncate(64 << 20)
            f.write(rnd.randbytes(20 << 20))
            f.seek(40 << 20)
            f.write(rnd.randbytes(3 << 20))
        for fmt in ('qcow2', 'qed', 'vdi', 'vpc', 'vhdx', 'vmdk'):
            with self.subTest(fmt=fmt):
                mid, back = self.p('mid.' + fmt), self.p('back.raw')
                run('convert', '-O', fmt, src, mid, check=0)
                run('convert', '-O', 'raw', mid, back, check=0)
                self.assertEqual(read(src)[:64 << 20], read(back)[:64 << 20])
                # the holes stayed holes (rounded to blocks of up to 2 MiB)
                self.assertLess(os.stat(mid).st_blocks * 512, (23 + 8) << 20)
                self.assertLess(os.stat(back).st_blocks * 512, (23 + 1) << 20)
                os.unlink(mid)
                os.unlink(back)

    def test_compressed_partial_last_cluster(self):
        # -c compresses on worker threads; the disk's last cluster is short
        # (5 MiB + 512: its tail is padding) and a cluster that does not
        # shrink (random bytes) is stored as it is.
        src, mid, back = self.p('src.raw'), self.p('c.qcow2'), self.p('back.raw')
        rnd = random.Random(7)
        with open(src, 'wb') as f:
            f.write(b'compressible text ' * ((5 << 20) // 18) + bytes(512 + (5 << 20) % 18))
            f.seek(1 << 20)
            f.write(rnd.randbytes(64 << 10))
        self.assertEqual(os.path.getsize(src), (5 << 20) + 512)
        run('convert', '-c', '-O', 'qcow2', src, mid, check=0)
        run('convert', '-O', 'raw', mid, back, check=0)
        self.assertEqual(read(src), read(back))
        self.assertEqual(run('check', mid)[0], 0)
        self.assertLess(os.path.getsize(mid), 1 << 20)

    def test_bad_table_entry_mid_copy(self):
        # An L2 entry past the end of the file, found by the copy after some
        # data went out: one line naming the image, nothing left behind.
        src = self.p('src.raw')
        with open(src, 'wb') as f:
            f.write(random.Random(6).randbytes(8 << 20))
        run('convert', '-O', 'qcow2', src, self.p('bad.qcow2'), check=0)
        lay = qcow2_layout(self.p('bad.qcow2'))
        with open(self.p('bad.qcow2'), 'r+b') as f:
            f.seek(lay['l1'])
            l2 = struct.unpack('>Q', f.read(8))[0] & 0x00fffffffffffe00
            f.seek(l2 + 8 * 100)  # guest cluster 100: 6.25 MiB in
            f.write(struct.pack('>Q', (1 << 63) | (1 << 40)))
        line = self.assert_one_error(['convert', 'bad.qcow2', 'out.raw'], 'bad.qcow2')
        self.assertNotIn('\n', line)
        self.assertFalse(os.path.exists(self.p('out.raw')))

    def test_errors(self):
        run('create', '-f', 'raw', self.p('a.raw'), '1M', check=0)
        run('create', '-f', 'raw', self.p('b.raw'), '1M', check=0)
        self.assert_one_error(['convert', 'a.raw', 'b.raw'], 'b.raw')
        self.assert_one_error(['convert', 'missing.qcow2', 'out.raw'], 'missing.qcow2')
        self.assertFalse(os.path.exists(self.p('out.raw')))
        self.assert_one_error(['convert', '-O', 'bochs', 'a.raw', 'out.img'], 'bochs')
        with open(self.p('junk.qcow2'), 'wb') as f:
            f.write(b'QFI\xfb' + bytes(100))
        self.assert_one_error(['convert', 'junk.qcow2', 'out.raw'], 'junk.qcow2')
        self.assertFalse(os.path.exists(self.p('out.raw')))
        self.assert_one_error(['convert', '-f', 'qcow2', 'a.raw', 'out.raw'], 'a.raw')


def run_on_pty(args):
    """Run vmm-img with stderr on a pseudo-terminal; returns (rc, tty output)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([VMM_IMG, *args], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        r, _, _ = select.select([master], [], [], 60)
        if not r:
            break
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return p.wait(timeout=60), b''.join(chunks).decode(errors='replace')


class TestProgress(ImgTest):
    def test_bar_on_a_terminal_only(self):
        write_random_raw(self.p('big.raw'), 128 << 20, 5)
        rc, tty = run_on_pty(['convert', '-O', 'raw', self.p('big.raw'), self.p('o1.raw')])
        self.assertEqual(rc, 0)
        self.assertIn('100.0%', tty)
        self.assertIn('[', tty)
        self.assertTrue(tty.endswith('\n'), repr(tty[-20:]))
        self.assertLessEqual(tty.count('\r'), 40)  # redrawn at most ~10 times a second
        # Piped: no bar unless -p asks for one.
        rc, out, err = run('convert', '-O', 'raw', self.p('big.raw'), self.p('o2.raw'), check=0)
        self.assertEqual(err, '')
        rc, out, err = run('convert', '-p', '-O', 'raw', self.p('big.raw'), self.p('o3.raw'),
                           check=0)
        self.assertIn('100.0%', err)
        # Small images finish too fast for a bar even on a terminal.
        write_random_raw(self.p('small.raw'), 1 << 20, 6)
        rc, tty = run_on_pty(['convert', self.p('small.raw'), self.p('o4.raw')])
        self.assertEqual((rc, tty), (0, ''))

    def test_check_progress(self):
        run('create', '-f', 'qcow2', self.p('d.qcow2'), '1G', check=0)
        rc, out, err = run('check', '-p', self.p('d.qcow2'), check=0)
        self.assertIn('100.0%', err)
        rc, out, err = run('check', self.p('d.qcow2'), check=0)
        self.assertEqual(err, '')


class TestCompare(ImgTest):
    def test_identical_and_mismatch(self):
        """Exit 0/1 and qemu-img's lines; the same verdict as qemu-img compare."""
        size = 3 << 20
        write_random_raw(self.p('a.raw'), size, 7)
        run('convert', '-O', 'qcow2', '-o', 'cluster_size=4096', self.p('a.raw'),
            self.p('a.qcow2'), check=0)
        rc, out, _ = run('compare', self.p('a.raw'), self.p('a.qcow2'))
        self.assertEqual((rc, out.strip()), (0, 'Images are identical.'))
        data = bytearray(read(self.p('a.raw')))
        data[1234567] ^= 0x40
        with open(self.p('b.raw'), 'wb') as f:
            f.write(data)
        rc, out, _ = run('compare', self.p('a.qcow2'), self.p('b.raw'))
        self.assertEqual((rc, out.strip()), (1, 'Content mismatch at offset 1234567!'))
        if shutil.which('qemu-img'):
            for other, want in (('a.raw', 0), ('b.raw', 1)):
                q = subprocess.run(['qemu-img', 'compare', self.p('a.qcow2'), self.p(other)],
                                   capture_output=True, text=True)
                self.assertEqual(q.returncode, want, q.stdout + q.stderr)

    def test_sizes(self):
        """A larger image matches if its extra part is zeros; -s makes sizes count."""
        write_random_raw(self.p('a.raw'), 1 << 20, 3)
        with open(self.p('a.raw'), 'rb') as f, open(self.p('big.raw'), 'wb') as g:
            g.write(f.read())
            g.truncate(2 << 20)
        self.assertEqual(run('compare', self.p('a.raw'), self.p('big.raw'))[0], 0)
        self.assertEqual(run('compare', '-s', self.p('a.raw'), self.p('big.raw'))[0], 1)
        with open(self.p('big.raw'), 'r+b') as g:
            g.seek((2 << 20) - 512)
            g.write(b'x')
        rc, out, _ = run('compare', self.p('big.raw'), self.p('a.raw'))
        self.assertEqual((rc, out.strip()), (1, f'Content mismatch at offset {(2 << 20) - 512}!'))

    def test_errors(self):
        run('create', '-f', 'raw', self.p('r.raw'), '1M', check=0)
        self.assert_one_error(['compare', 'r.raw', 'missing.raw'], 'missing.raw', rc_want=2)
        self.assert_one_error(['compare', '-F', 'qcow2', 'r.raw', 'r.raw'], 'r.raw',
                              rc_want=2)
        self.assert_one_error(['compare', 'r.raw'], 'two image files', rc_want=2)


def main():
    global VMM_IMG
    if len(sys.argv) < 2:
        print(f'usage: {sys.argv[0]} PATH-TO-vmm-img', file=sys.stderr)
        return 2
    VMM_IMG = os.path.abspath(sys.argv[1])
    prog = unittest.main(argv=[sys.argv[0], '-v', *sys.argv[2:]], exit=False)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == '__main__':
    sys.exit(main())
