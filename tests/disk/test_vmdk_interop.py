#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""VMDK, vmm-img against qemu-img, both ways, every subformat.

Usage: test_vmdk_interop.py PATH-TO-vmm-img   (meson: suite 'disk')

- images qemu-img makes (every subformat, streamOptimized included) and
  then writes into with qemu-io read back identically through vmm-img;
- images vmm-img makes and writes pass `qemu-img check` and `qemu-img
  compare` against their source, and qemu-io can write into them;
- streamOptimized images vmm-img creates and converts to (compressed
  grains with markers, a footer) pass `qemu-img check`, compare equal and
  read back through qemu-img convert;
- damaged images (truncated, a directory or grain past the end, a missing
  extent, an absurd or endless descriptor, a delta disk) fail with one line
  naming the file; `vmm-img check` finds the damage qemu-img check finds.
Skipped (exit 77, with the reason printed) when qemu-img is not installed.
"""
import os
import random
import shutil
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_vmm_img as tvi  # noqa: E402  (shared helpers; sets tvi.VMM_IMG)
from test_interop import qemu, qemu_write, HAVE_QEMU_IO  # noqa: E402

SUBFORMATS = ('monolithicSparse', 'monolithicFlat', 'twoGbMaxExtentSparse',
              'twoGbMaxExtentFlat')
SIZE = 24 << 20


class VmdkInterop(tvi.ImgTest):
    def source(self, seed=1):
        src = self.p(f'src{seed}.raw')
        tvi.write_random_raw(src, SIZE, seed)
        return src

    def compare(self, a, b):
        """Both tools say the two images hold the same bytes."""
        rc, out, err = tvi.run('compare', a, b)
        self.assertEqual(rc, 0, f'vmm-img compare {a} {b}: {out}{err}')
        qemu('qemu-img', 'compare', a, b)

    def test_qemu_made_read_identically(self):
        src = self.source()
        for sub in SUBFORMATS + ('streamOptimized',):
            img = self.p(f'q-{sub}.vmdk')
            qemu('qemu-img', 'convert', '-O', 'vmdk', '-o', f'subformat={sub}', src, img)
            self.compare(src, img)
            info = tvi.run('info', '--output=json', img, check=0)[1]
            self.assertIn(f'"subformat": "{sub}"', info)

    @unittest.skipUnless(HAVE_QEMU_IO, 'qemu-io not installed')
    def test_qemu_io_writes_read_identically(self):
        for sub in SUBFORMATS:
            img = self.p(f'w-{sub}.vmdk')
            qemu('qemu-img', 'create', '-q', '-f', 'vmdk', '-o', f'subformat={sub}', img, '24M')
            qemu_write(img, 'write -P 0x5a 1M 300k', 'write -P 0x11 20M 64k',
                       'write -P 0x77 0 512', fmt='vmdk')
            mine, theirs = self.p('mine.raw'), self.p('theirs.raw')
            tvi.run('convert', '-O', 'raw', img, mine, check=0)
            qemu('qemu-img', 'convert', '-O', 'raw', img, theirs)
            self.assertEqual(tvi.read(mine), tvi.read(theirs), sub)
            os.unlink(mine)
            os.unlink(theirs)

    def test_vmm_made_pass_qemu_check(self):
        src = self.source(2)
        for sub in SUBFORMATS:
            img = self.p(f'v-{sub}.vmdk')
            tvi.run('convert', '-O', 'vmdk', '-o', f'subformat={sub}', src, img, check=0)
            qemu('qemu-img', 'check', img)
            tvi.run('check', img, check=0)
            self.compare(src, img)
            if HAVE_QEMU_IO:  # and QEMU can go on writing into ours
                qemu_write(img, 'write -P 0x33 5M 128k', fmt='vmdk')
                qemu('qemu-img', 'check', img)
                self.assertEqual(tvi.run('compare', src, img)[0], 1)

    def test_create_options(self):
        img = self.p('c.vmdk')
        rc, out, _ = tvi.run('create', '-f', 'vmdk', '-o',
                             'adapter_type=lsilogic,hwversion=6,zeroed_grain=on', img, '1G',
                             check=0)
        self.assertIn("fmt=vmdk", out)
        _, qout, _ = qemu('qemu-img', 'info', img)
        self.assertIn('virtual size: 1 GiB', qout)
        qemu('qemu-img', 'check', img)
        with open(img, 'rb') as f:
            f.seek(512)
            desc = f.read(10240).split(b'\0')[0].decode()
        self.assertIn('ddb.adapterType = "lsilogic"', desc)
        self.assertIn('ddb.virtualHWVersion = "6"', desc)
        self.assert_one_error(['create', '-f', 'vmdk', '-o', 'subformat=streamy',
                               'so.vmdk', '1G'], 'so.vmdk')
        self.assert_one_error(['create', '-f', 'vmdk', '-o', 'bogus=1', 'b.vmdk', '1G'],
                              'bogus')
        self.assertFalse(os.path.exists(self.p('so.vmdk')))

    def test_stream_optimized(self):
        opt = ['-O', 'vmdk', '-o', 'subformat=streamOptimized']
        # empty: what qemu-img creates, as qemu-img sees it
        mine, theirs = self.p('e.vmdk'), self.p('qe.vmdk')
        tvi.run('create', '-q', '-f', 'vmdk', '-o', 'subformat=streamOptimized', mine, '1G',
                check=0)
        qemu('qemu-img', 'create', '-q', '-f', 'vmdk', '-o', 'subformat=streamOptimized',
             theirs, '1G')
        qemu('qemu-img', 'check', mine)
        _, out, _ = qemu('qemu-img', 'info', mine)
        self.assertIn('create type: streamOptimized', out)
        self.assertIn('compressed: true', out)
        self.compare(mine, theirs)
        # data: random and zero runs, a last grain only partly inside the
        # disk, compressible grains (they must come out smaller)
        for seed, size in ((3, SIZE), (4, SIZE + 20 * 1024)):
            src = self.p(f's{seed}.raw')
            tvi.write_random_raw(src, size, seed)
            with open(src, 'r+b') as f:
                f.seek(3 << 20)
                f.write(b'compressible' * 100000)
            img, back = self.p(f's{seed}.vmdk'), self.p(f's{seed}.back')
            tvi.run('convert', *opt, src, img, check=0)
            qemu('qemu-img', 'check', img)
            tvi.run('check', img, check=0)
            self.compare(src, img)
            qemu('qemu-img', 'convert', '-O', 'raw', img, back)
            self.assertEqual(tvi.read(back), tvi.read(src))
            # and the same bytes as qemu-img's own stream of that source
            qimg = self.p(f'q{seed}.vmdk')
            qemu('qemu-img', 'convert', *opt, src, qimg)
            self.compare(img, qimg)
            self.assertLess(os.path.getsize(img), os.path.getsize(qimg) + 65536)
            self.assertLess(os.path.getsize(img), size // 4)
            # a second conversion through it: vmdk stream -> qcow2
            q2 = self.p(f's{seed}.qcow2')
            tvi.run('convert', '-O', 'qcow2', img, q2, check=0)
            self.compare(src, q2)
        # the output exists already: refused, untouched
        self.assert_one_error(['convert', *opt, src, img], img)

    def damaged(self, name, edit):
        """A fresh monolithicSparse image with `edit(path, header)` applied."""
        img = self.p(name)
        tvi.run('create', '-q', '-f', 'vmdk', img, '8M', check=0)
        with open(img, 'rb') as f:
            hdr = f.read(512)
        edit(img, hdr)
        return img

    def test_damaged_images(self):
        def put(path, off, data):
            with open(path, 'r+b') as f:
                f.seek(off)
                f.write(data)

        gd = lambda h: struct.unpack('<Q', h[56:64])[0]  # noqa: E731
        cases = [
            ('trunc.vmdk', lambda p, h: os.truncate(p, 300), 'truncated'),
            ('gd.vmdk', lambda p, h: put(p, 56, struct.pack('<Q', 1 << 40)), 'directory'),
            ('grain.vmdk', lambda p, h: put(p, 20, struct.pack('<Q', 12345)), 'grain size'),
            ('cap.vmdk', lambda p, h: put(p, 12, struct.pack('<Q', 1 << 60)), 'capacity'),
            ('desc.vmdk', lambda p, h: put(p, 36, struct.pack('<Q', 1 << 30)), 'descriptor'),
        ]
        for name, edit, why in cases:
            img = self.damaged(name, edit)
            line = self.assert_one_error(['info', name], name)
            self.assertIn(why, line)
        # a grain table entry past the end: reads fail, both checks complain
        def bad_gte(p, h):
            with open(p, 'rb') as f:
                f.seek(gd(h) * 512)
                gt = struct.unpack('<I', f.read(4))[0]
            put(p, gt * 512 + 4, struct.pack('<I', 0x7fffff00))
        img = self.damaged('gte.vmdk', bad_gte)
        self.assertNotEqual(qemu('qemu-img', 'check', img, check=None)[0], 0)
        rc, out, _ = tvi.run('check', img)
        self.assertEqual(rc, 2, out)
        self.assertIn('past the end', out)
        rc, _, err = tvi.run('convert', '-O', 'raw', img, self.p('x.raw'))
        self.assertEqual(rc, 1)
        self.assertIn('past the end', err)  # the driver's warning says why the read failed
        self.assertFalse(os.path.exists(self.p('x.raw')))
        # descriptor files: a missing extent, a delta disk, an endless descriptor
        tvi.run('create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicFlat',
                self.p('f.vmdk'), '8M', check=0)
        os.unlink(self.p('f-flat.vmdk'))
        self.assertIn('f-flat.vmdk', self.assert_one_error(['info', 'f.vmdk'], 'f.vmdk'))
        with open(self.p('delta.vmdk'), 'w') as f:
            f.write('version=1\nparentFileNameHint="/etc/shadow"\nRW 16 FLAT "x" 0\n')
        self.assertIn('delta', self.assert_one_error(['info', 'delta.vmdk'], 'delta.vmdk'))
        with open(self.p('long.vmdk'), 'w') as f:
            f.write('version=1\n' + '#' * (2 << 20) + '\n')
        self.assertIn('longer', self.assert_one_error(['info', 'long.vmdk'], 'long.vmdk'))
        with open(self.p('dev.vmdk'), 'w') as f:
            f.write('version=1\nRW 16 FLAT "/dev/null" 0\n')
        self.assertIn('not a regular file',
                      self.assert_one_error(['info', 'dev.vmdk'], 'dev.vmdk'))

    def test_extents_resolve_next_to_the_descriptor(self):
        """A relative extent name is relative to the descriptor's folder,
        not to the current directory (QEMU's rule)."""
        os.mkdir(self.p('sub'))
        src = self.source(3)
        img = self.p('sub/d.vmdk')
        qemu('qemu-img', 'convert', '-O', 'vmdk', '-o', 'subformat=monolithicFlat', src, img)
        rc, out, err = tvi.run('compare', src, 'sub/d.vmdk', cwd=self.dir)
        self.assertEqual(rc, 0, err)


def main():
    if len(sys.argv) < 2:
        print(f'usage: {sys.argv[0]} PATH-TO-vmm-img', file=sys.stderr)
        return 2
    if shutil.which('qemu-img') is None:
        print('SKIP: qemu-img is not installed (apt-get install qemu-utils)')
        return 77
    tvi.VMM_IMG = os.path.abspath(sys.argv[1])
    random.seed(1)
    prog = unittest.main(argv=[sys.argv[0], '-v', *sys.argv[2:]], exit=False)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == '__main__':
    sys.exit(main())
