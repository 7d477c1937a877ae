# SPDX-License-Identifier: MIT
"""What the per-format interop tests (test_interop_*.py) share: qemu-img
and qemu-io helpers, a test case with both-ways comparisons, and main()."""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_vmm_img as tvi  # noqa: E402  (shared helpers; sets tvi.VMM_IMG)
import test_interop  # noqa: E402
from test_interop import qemu, qemu_write  # noqa: E402,F401

HAVE_QEMU_IO = shutil.which('qemu-io') is not None


def text_raw(path, size, seed):
    """A raw file of compressible text with random and zero stretches."""
    import random
    rnd = random.Random(seed)
    with open(path, 'wb') as f:
        f.truncate(size)
        for off in range(0, size, 256 << 10):
            kind = rnd.randrange(4)
            f.seek(off)
            if kind == 0:
                continue
            if kind == 1:
                f.write(rnd.randbytes(64 << 10))
            else:
                f.write((b'line %d of the image text\n' % off) * ((64 << 10) // 32))


class FormatInterop(tvi.ImgTest):
    fmt = None

    def same_through_both(self, image, fmt=None):
        """vmm-img convert and qemu-img convert give identical raw bytes."""
        mine, theirs = self.p('mine.raw'), self.p('theirs.raw')
        tvi.run('convert', '-f', fmt or self.fmt, '-O', 'raw', image, mine, check=0)
        qemu('qemu-img', 'convert', '-O', 'raw', image, theirs)
        self.assertEqual(os.path.getsize(mine), os.path.getsize(theirs))
        self.assertTrue(tvi.read(mine) == tvi.read(theirs), f'{image}: contents differ')
        os.unlink(mine)
        os.unlink(theirs)

    def vmm_made_passes(self, src, img, *opts):
        """vmm-img convert SRC into IMG: qemu-img check is clean, and it
        compares equal to the source."""
        tvi.run('convert', '-O', self.fmt, *opts, src, img, check=0)
        rc, out, err = qemu('qemu-img', 'check', img, check=None)
        self.assertEqual(rc, 0, out + err)
        qemu('qemu-img', 'compare', '-q', '-F', 'raw', img, src)
        info = json.loads(qemu('qemu-img', 'info', '--output=json', img)[1])
        self.assertEqual(info['format'], self.fmt)
        return info

    # (qemu rc, vmm rc, qemu json, vmm json) for one image
    check_both = test_interop.Interop.check_both


# usage, the skip without qemu-img, then the __main__ module's tests
main = test_interop.main
