#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""VDI (dynamic and static), vmm-img against qemu-img.

Usage: test_interop_vdi.py PATH-TO-vmm-img   (meson: suite 'disk')

- images qemu-img makes (dynamic and static=on), after qemu-io writes, read
  back through vmm-img exactly as through qemu-img; vmm-img check is clean;
- images vmm-img makes (convert to dynamic and static) pass `qemu-img
  check`, compare equal, and QEMU reads what is written into them;
- a discarded block (0xfffffffe) reads as zeros through both;
- vmm-img check agrees with qemu-img check on a wrong allocated count.
Skipped (exit 77) when qemu-img is not installed.
"""
import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_common as ic  # noqa: E402
from interop_common import qemu, qemu_write, tvi  # noqa: E402


class Vdi(ic.FormatInterop):
    fmt = 'vdi'

    @unittest.skipUnless(ic.HAVE_QEMU_IO, 'qemu-io not installed')
    def test_qemu_made_read_identically(self):
        for name, opts in (('dyn', []), ('static', ['-o', 'static=on'])):
            with self.subTest(name):
                img = self.p(name + '.vdi')
                qemu('qemu-img', 'create', '-q', '-f', 'vdi', *opts, img, '24M')
                qemu_write(img, 'write -P 0x11 0 1M', 'write -P 0x22 5M 12k',
                           'write -P 0x33 23M 1M', 'write -z 7M 64k', fmt='vdi')
                self.assertEqual(tvi.run('check', img)[0], 0)
                self.same_through_both(img)
                info = tvi.run('info', img, check=0)[1]
                self.assertIn('dynamic' if name == 'dyn' else 'static', info)

    @unittest.skipUnless(ic.HAVE_QEMU_IO, 'qemu-io not installed')
    def test_vmm_made_pass_qemu_check(self):
        src = self.p('src.raw')
        tvi.write_random_raw(src, 40 << 20, 9, chunks=20)
        for name, opts in (('dyn', []), ('static', ['-o', 'static=on'])):
            with self.subTest(name):
                img = self.p(name + '.vdi')
                self.vmm_made_passes(src, img, *opts)
                qemu_write(img, 'write -P 0x44 2M 8k', fmt='vdi')
                self.same_through_both(img)

    @unittest.skipUnless(ic.HAVE_QEMU_IO, 'qemu-io not installed')
    def test_discarded_block(self):
        img = self.p('d.vdi')
        qemu('qemu-img', 'create', '-q', '-f', 'vdi', img, '4M')
        qemu_write(img, 'write -P 0x55 0 2M', fmt='vdi')
        with open(img, 'r+b') as f:
            f.seek(0x200 + 4)
            f.write(struct.pack('<I', 0xfffffffe))
            f.seek(0x184)
            f.write(struct.pack('<I', 1))
        self.same_through_both(img)
        qemu('qemu-io', '-f', 'vdi', '-c', 'read -P 0 1M 1M', img)

    def test_check_agrees(self):
        img = self.p('c.vdi')
        tvi.run('create', '-q', '-f', 'vdi', '-o', 'static=on', img, '8M', check=0)
        with open(img, 'r+b') as f:
            f.seek(0x184)
            f.write(struct.pack('<I', 5))
        qrc, vrc, q, v = self.check_both(img)
        self.assertEqual((qrc, vrc), (2, 2))
        self.assertEqual(v['corruptions'], q['corruptions'])
        self.assert_one_error(('create', '-f', 'vdi', '-o', 'cluster_size=4k',
                               self.p('x.vdi'), '1M'), 'cluster_size')


if __name__ == '__main__':
    sys.exit(ic.main())
