#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compressed qcow2 (zlib and zstd), vmm-img against qemu-img.

Usage: test_interop_compressed.py PATH-TO-vmm-img   (meson: suite 'disk')

- images `qemu-img convert -c` makes (zlib and compression_type=zstd, 4K,
  64K and 2M clusters), and such images after qemu-io wrote into them, read
  back through vmm-img exactly as through qemu-img; vmm-img check agrees;
- images `vmm-img convert -c` makes pass `qemu-img check`, compare equal to
  the source, are as small as qemu-img's, and say their compression type.
Skipped (exit 77) when qemu-img is not installed.
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_common as ic  # noqa: E402
from interop_common import qemu, qemu_write, tvi  # noqa: E402

CASES = (('zlib-64k', 'zlib', '64k'), ('zstd-64k', 'zstd', '64k'), ('zlib-4k', 'zlib', '4k'),
         ('zstd-2m', 'zstd', '2M'))


class Compressed(ic.FormatInterop):
    fmt = 'qcow2'

    def src(self):
        src = self.p('src.raw')
        if not os.path.exists(src):
            ic.text_raw(src, 24 << 20, 5)
        return src

    def test_qemu_made_read_identically(self):
        for name, ctype, cs in CASES:
            with self.subTest(name):
                img = self.p(name + '.qcow2')
                qemu('qemu-img', 'convert', '-c', '-O', 'qcow2', '-o',
                     f'compression_type={ctype},cluster_size={cs}', self.src(), img)
                self.same_through_both(img)
                qrc, vrc, q, v = self.check_both(img)
                self.assertEqual((qrc, vrc), (0, 0))
                self.assertEqual(v['allocated-clusters'], q['allocated-clusters'])
                self.assertGreater(q.get('compressed-clusters', 0), 0)
                info = json.loads(tvi.run('info', '--output=json', img, check=0)[1])
                self.assertEqual(info['format-specific']['data']['compression-type'], ctype)

    @unittest.skipUnless(ic.HAVE_QEMU_IO, 'qemu-io not installed')
    def test_qemu_writes_into_compressed(self):
        for name, ctype, cs in CASES[:2]:
            with self.subTest(name):
                img = self.p(name + '.qcow2')
                qemu('qemu-img', 'convert', '-c', '-O', 'qcow2', '-o',
                     f'compression_type={ctype},cluster_size={cs}', self.src(), img)
                qemu_write(img, 'write -P 0x11 4k 4k', 'write -P 0x22 1M 100k',
                           'write -z 3M 64k')
                self.same_through_both(img)
                self.assertEqual(tvi.run('check', img)[0], 0)

    def test_vmm_made_pass_qemu_check(self):
        for name, ctype, cs in CASES:
            with self.subTest(name):
                img = self.p('v-' + name + '.qcow2')
                info = self.vmm_made_passes(self.src(), img, '-c', '-o',
                                            f'compression_type={ctype},cluster_size={cs}')
                self.assertEqual(info['format-specific']['data']['compression-type'], ctype)
                _, out, _ = qemu('qemu-img', 'check', '--output=json', img)
                self.assertGreater(json.loads(out).get('compressed-clusters', 0), 0)
                # as small as qemu-img's (within a few clusters)
                theirs = self.p('q-' + name + '.qcow2')
                qemu('qemu-img', 'convert', '-c', '-O', 'qcow2', '-o',
                     f'compression_type={ctype},cluster_size={cs}', self.src(), theirs)
                slack = 4 * tvi_cluster(cs)
                self.assertLessEqual(os.path.getsize(img), os.path.getsize(theirs) + slack)

    def test_errors(self):
        self.assert_one_error(('convert', '-c', '-O', 'raw', self.src(), self.p('x.raw')), '-c')
        self.assert_one_error(('convert', '-c', '-O', 'qcow2', '-o', 'compression_type=lz4',
                               self.src(), self.p('x.qcow2')), 'compression_type')


def tvi_cluster(cs):
    return int(cs[:-1]) << (10 if cs[-1] == 'k' else 20)


if __name__ == '__main__':
    sys.exit(ic.main())
