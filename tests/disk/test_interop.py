#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vmm-img against qemu-img: the two must agree on the same images.

Usage: test_interop.py PATH-TO-vmm-img   (meson: suite 'disk')

- images qemu-img makes (v3, v2 compat=0.10, 4K and 2M clusters, with a
  backing file) read back through vmm-img convert exactly as through
  qemu-img convert;
- images vmm-img writes pass `qemu-img check` and read back identically
  through qemu-img convert;
- vmm-img check agrees with qemu-img check on leaked clusters and on a
  refcount that is too low.
Skipped (exit 77, with the reason printed) when qemu-img is not installed.
"""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_vmm_img as tvi  # noqa: E402  (shared helpers; sets tvi.VMM_IMG)

HAVE_QEMU_IO = shutil.which('qemu-io') is not None


def qemu(*args, check=0):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=300)
    if check is not None and p.returncode != check:
        raise AssertionError(f"{' '.join(args)}: rc {p.returncode}, want {check}\n"
                             f'{p.stdout}{p.stderr}')
    return p.returncode, p.stdout, p.stderr


def qemu_write(path, *cmds, fmt='qcow2'):
    """Guest-style writes into an image through qemu-io (QEMU's own driver)."""
    args = ['qemu-io', '-f', fmt]
    for c in cmds:
        args += ['-c', c]
    qemu(*args, path)


class Interop(tvi.ImgTest):
    def same_through_both(self, image):
        """vmm-img convert and qemu-img convert give identical raw bytes."""
        mine, theirs = self.p('mine.raw'), self.p('theirs.raw')
        tvi.run('convert', '-O', 'raw', image, mine, check=0)
        qemu('qemu-img', 'convert', '-O', 'raw', image, theirs)
        self.assertEqual(os.path.getsize(mine), os.path.getsize(theirs))
        self.assertTrue(tvi.read(mine) == tvi.read(theirs), f'{image}: contents differ')
        os.unlink(mine)
        os.unlink(theirs)

    @unittest.skipUnless(HAVE_QEMU_IO, 'qemu-io not installed')
    def test_qemu_made_images_read_identically(self):
        for name, opts in (('v3', []), ('v2', ['-o', 'compat=0.10']),
                           ('c4k', ['-o', 'cluster_size=4096']),
                           ('c2m', ['-o', 'cluster_size=2M'])):
            with self.subTest(name):
                img = self.p(name + '.qcow2')
                qemu('qemu-img', 'create', '-q', '-f', 'qcow2', *opts, img, '64M')
                qemu_write(img, 'write -P 0x11 0 1M', 'write -P 0x22 5M 12k',
                           'write -P 0x33 63M 1M', 'write -z 0 64k')
                self.assertEqual(tvi.run('check', img)[0], 0)
                info = json.loads(tvi.run('info', '--output=json', img, check=0)[1])
                qinfo = json.loads(qemu('qemu-img', 'info', '--output=json', img)[1])
                self.assertEqual(info['virtual-size'], qinfo['virtual-size'])
                self.assertEqual(info['cluster-size'], qinfo['cluster-size'])
                self.same_through_both(img)

    @unittest.skipUnless(HAVE_QEMU_IO, 'qemu-io not installed')
    def test_qemu_made_backing_chain(self):
        base, ov = self.p('base.qcow2'), self.p('ov.qcow2')
        qemu('qemu-img', 'create', '-q', '-f', 'qcow2', base, '32M')
        qemu_write(base, 'write -P 0xaa 0 4M', 'write -P 0xbb 20M 100k')
        qemu('qemu-img', 'create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', ov)
        # Partial clusters over base data, and a write past the base's data.
        qemu_write(ov, 'write -P 0xcc 1M 4k', 'write -P 0xdd 30M 64k', 'write -z 2M 64k')
        chain = json.loads(tvi.run('info', '--output=json', '--backing-chain', ov, check=0)[1])
        self.assertEqual(len(chain), 2)
        self.same_through_both(ov)

    def test_vmm_written_images_pass_qemu_check(self):
        src = self.p('src.raw')
        tvi.write_random_raw(src, 48 << 20, 7, chunks=20)
        for name, opts in (('d', []), ('c4k', ['-o', 'cluster_size=4096']),
                           ('c2m', ['-o', 'cluster_size=2M'])):
            with self.subTest(name):
                img, back = self.p(name + '.qcow2'), self.p(name + '.raw')
                tvi.run('convert', '-O', 'qcow2', *opts, src, img, check=0)
                rc, out, err = qemu('qemu-img', 'check', img, check=None)
                self.assertEqual(rc, 0, out + err)
                qemu('qemu-img', 'convert', '-O', 'raw', img, back)
                self.assertTrue(tvi.read(src) == tvi.read(back), f'{name}: contents differ')
                qemu('qemu-img', 'compare', '-q', src, img)

    @unittest.skipUnless(HAVE_QEMU_IO, 'qemu-io not installed')
    def test_vmm_overlay_over_qemu_base(self):
        base, ov = self.p('base.qcow2'), self.p('ov.qcow2')
        qemu('qemu-img', 'create', '-q', '-f', 'qcow2', base, '16M')
        qemu_write(base, 'write -P 0x42 0 2M')
        tvi.run('create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', ov, check=0)
        qinfo = json.loads(qemu('qemu-img', 'info', '--output=json', ov)[1])
        self.assertEqual(qinfo['backing-filename'], 'base.qcow2')
        self.assertEqual(qinfo['virtual-size'], 16 << 20)
        qemu('qemu-img', 'check', ov)
        qemu_write(ov, 'write -P 0x43 1M 8k')
        self.same_through_both(ov)

    def check_both(self, img):
        """(qemu rc, vmm rc, qemu json, vmm json) for one image."""
        qrc, qout, _ = qemu('qemu-img', 'check', '--output=json', img, check=None)
        vrc, vout, _ = tvi.run('check', '--output=json', img)
        return qrc, vrc, json.loads(qout), json.loads(vout)

    def test_check_agrees_on_leaks(self):
        img = self.p('leaky.qcow2')
        qemu('qemu-img', 'create', '-q', '-f', 'qcow2', img, '64M')
        if HAVE_QEMU_IO:
            qemu_write(img, 'write -P 1 0 1M')
        # Leaked clusters inside the file, where qemu-img looks for them.
        tvi.add_leaks(img, 3)
        qrc, vrc, q, v = self.check_both(img)
        self.assertEqual((qrc, vrc), (3, 3))
        self.assertEqual(q.get('leaks', 0), 3)
        self.assertEqual(v['leaks'], q.get('leaks', 0))
        self.assertEqual(v['corruptions'], q.get('corruptions', 0))
        self.assertEqual(v['allocated-clusters'], q['allocated-clusters'])
        self.assertEqual(v['image-end-offset'], q['image-end-offset'])
        # Repaired by vmm-img, qemu-img finds it clean.
        tvi.run('check', '-r', 'leaks', img, check=0)
        qemu('qemu-img', 'check', img)

    def test_check_agrees_on_corruption(self):
        img = self.p('bad.qcow2')
        qemu('qemu-img', 'create', '-q', '-f', 'qcow2', img, '64M')
        lay = tvi.qcow2_layout(img)
        tvi.set_refcount(img, lay['rt'] >> lay['cbits'], 0)  # refcount table looks free
        qrc, vrc, q, v = self.check_both(img)
        self.assertEqual((qrc, vrc), (2, 2))
        self.assertGreaterEqual(v['corruptions'], 1)
        tvi.run('check', '-r', 'all', img, check=0)
        qemu('qemu-img', 'check', img)


def main():
    if len(sys.argv) < 2:
        print(f'usage: {sys.argv[0]} PATH-TO-vmm-img', file=sys.stderr)
        return 2
    if shutil.which('qemu-img') is None:
        print('SKIP: qemu-img is not installed (apt-get install qemu-utils)')
        return 77
    tvi.VMM_IMG = os.path.abspath(sys.argv[1])
    prog = unittest.main(argv=[sys.argv[0], '-v', *sys.argv[2:]], exit=False)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == '__main__':
    sys.exit(main())
