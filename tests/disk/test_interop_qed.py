#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""QED, vmm-img against qemu-img.

Usage: test_interop_qed.py PATH-TO-vmm-img   (meson: suite 'disk')

- images qemu-img makes (default, 4K clusters, table_size=16, over a raw
  and over a QED backing file), after qemu-io writes (zero clusters
  included), read back through vmm-img exactly as through qemu-img, and
  vmm-img check finds them clean;
- images vmm-img makes (convert, and create -b) pass `qemu-img check`,
  compare equal, and QEMU reads what is written into them;
- vmm-img check agrees with qemu-img check on a leaked cluster and on an
  entry pointing past the end of the file.
Skipped (exit 77) when qemu-img is not installed.
"""
import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_common as ic  # noqa: E402
from interop_common import qemu, qemu_write, tvi  # noqa: E402


class Qed(ic.FormatInterop):
    fmt = 'qed'

    @unittest.skipUnless(ic.HAVE_QEMU_IO, 'qemu-io not installed')
    def test_qemu_made_read_identically(self):
        for name, opts in (('d', []), ('c4k', ['-o', 'cluster_size=4096']),
                           ('t16', ['-o', 'table_size=16'])):
            with self.subTest(name):
                img = self.p(name + '.qed')
                qemu('qemu-img', 'create', '-q', '-f', 'qed', *opts, img, '64M')
                qemu_write(img, 'write -P 0x11 0 1M', 'write -P 0x22 5M 12k',
                           'write -P 0x33 63M 1M', 'write -z 0 64k', fmt='qed')
                self.assertEqual(tvi.run('check', img)[0], 0)
                self.same_through_both(img)

    @unittest.skipUnless(ic.HAVE_QEMU_IO, 'qemu-io not installed')
    def test_qemu_made_backing(self):
        base, ov, ov2 = self.p('base.raw'), self.p('ov.qed'), self.p('ov2.qed')
        tvi.write_random_raw(base, 16 << 20, 3)
        qemu('qemu-img', 'create', '-q', '-f', 'qed', '-b', 'base.raw', '-F', 'raw', ov)
        qemu_write(ov, 'write -P 0xcc 1M 4k', 'write -P 0xdd 10M 64k', fmt='qed')
        self.same_through_both(ov)
        qemu('qemu-img', 'create', '-q', '-f', 'qed', '-b', 'ov.qed', '-F', 'qed', ov2)
        qemu_write(ov2, 'write -P 0xee 1M 512', fmt='qed')
        # QED records no format for a QED backing file: probing may only
        # find raw or a format naming no files, and QED names files.
        rc, _, err = tvi.run('convert', '-O', 'raw', ov2, self.p('x.raw'))
        self.assertEqual(rc, 1)
        self.assertIn('refusing to probe', err)

    @unittest.skipUnless(ic.HAVE_QEMU_IO, 'qemu-io not installed')
    def test_vmm_made_pass_qemu_check(self):
        src = self.p('src.raw')
        tvi.write_random_raw(src, 40 << 20, 7, chunks=20)
        for name, opts in (('d', []), ('c4k', ['-o', 'cluster_size=4k']),
                           ('t2', ['-o', 'table_size=2'])):
            with self.subTest(name):
                img = self.p(name + '.qed')
                self.vmm_made_passes(src, img, *opts)
                qemu_write(img, 'write -P 0x44 2M 8k', fmt='qed')
                self.same_through_both(img)
        ov = self.p('ov.qed')
        tvi.run('create', '-q', '-f', 'qed', '-b', 'src.raw', '-F', 'raw', ov, check=0)
        qemu('qemu-img', 'check', ov)
        qemu_write(ov, 'write -P 0x45 3M 4k', fmt='qed')
        self.same_through_both(ov)

    def l2_of_first_cluster(self, img):
        with open(img, 'rb') as f:
            hdr = f.read(64)
            l1 = struct.unpack_from('<Q', hdr, 40)[0]
            f.seek(l1)
            return struct.unpack('<Q', f.read(8))[0]

    def test_check_agrees(self):
        img = self.p('c.qed')
        tvi.run('create', '-q', '-f', 'qed', img, '16M', check=0)
        qemu('qemu-io', '-f', 'qed', '-c', 'write -P 1 0 64k', img)
        # a leaked cluster: the file grows by one
        os.truncate(img, os.path.getsize(img) + 65536)
        qrc, vrc, q, v = self.check_both(img)
        self.assertEqual((qrc, vrc), (3, 3))
        self.assertEqual((v['leaks'], v['corruptions']), (q['leaks'], q.get('corruptions', 0)))
        # an L2 entry past the end of the file
        l2 = self.l2_of_first_cluster(img)
        with open(img, 'r+b') as f:
            f.seek(l2 + 8)
            f.write(struct.pack('<Q', 1 << 40))
        qrc, vrc, q, v = self.check_both(img)
        self.assertEqual((qrc, vrc), (2, 2))
        self.assertEqual(v['corruptions'], q['corruptions'])
        tvi.run('check', '-r', 'all', img, check=3)  # repaired; the leak stays
        qemu('qemu-img', 'check', img, check=3)


if __name__ == '__main__':
    sys.exit(ic.main())
