#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""VHD (qemu-img's vpc) and VHDX: our driver against qemu-img.

Usage: test_vhd_interop.py PATH-TO-vmm-img PATH-TO-disk_stress  (meson: suite 'disk')

- images qemu-img makes (every subformat, written by qemu-io) read back
  through vmm-img exactly as through qemu-img;
- images vmm-img makes (create, convert) pass `qemu-img check` (VHDX; qemu
  cannot check VHD) and `qemu-img compare` against the source;
- guest-style writes through our driver (disk_stress: many requests in
  flight) verify, and qemu-img reads them back identically;
- differencing VHD: unwritten sectors read from the parent;
- VHDX log replay: an image left with a log entry to replay reads as the
  replayed image when opened read-only (the file untouched), and is
  replayed onto the file and its log emptied when opened read-write;
- hostile images: one line naming the file, never a crash.
Skipped (exit 77, with the reason printed) without qemu-img/qemu-io.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_vmm_img as tvi  # noqa: E402
from test_interop import qemu, qemu_write  # noqa: E402

STRESS = None
MiB = 1 << 20


def crc32c(data, crc=0):
    table = crc32c.table
    crc ^= 0xffffffff
    for b in data:
        crc = table[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc ^ 0xffffffff


crc32c.table = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ (0x82f63b78 if _c & 1 else 0)
    crc32c.table.append(_c)


def stress(img, *args):
    p = subprocess.run([STRESS, 'run', img, *args], capture_output=True, text=True,
                       timeout=300)
    if p.returncode:
        raise AssertionError(f'disk_stress run {img}: {p.stderr}')
    return p.stdout


def patch(path, off, data):
    with open(path, 'r+b') as f:
        f.seek(off)
        f.write(data)


def vpc_data_offsets(path):
    """The file offsets of the data of a dynamic VHD's allocated blocks."""
    with open(path, 'rb') as f:
        f.seek(16)
        dyn = struct.unpack('>Q', f.read(8))[0]
        f.seek(dyn + 16)
        table = struct.unpack('>Q', f.read(8))[0]
        entries, block = struct.unpack('>II', f.read(12)[4:12])
        f.seek(table)
        bat = struct.unpack(f'>{entries}I', f.read(entries * 4))
    bitmap = (block // 512 // 8 + 511) & ~511
    return [e * 512 + bitmap for e in bat if e != 0xffffffff]


class Vhd(tvi.ImgTest):
    def assert_vpc_aligned(self, img):
        """Blocks we allocate keep their data on 4 KiB boundaries (vhd.c)."""
        offs = vpc_data_offsets(img)
        self.assertTrue(offs, img)
        self.assertEqual([o for o in offs if o % 4096], [], img)

    def same_through_both(self, image, fmt):
        mine, theirs = self.p('mine.raw'), self.p('theirs.raw')
        tvi.run('convert', '-f', fmt, '-O', 'raw', image, mine, check=0)
        qemu('qemu-img', 'convert', '-f', fmt, '-O', 'raw', image, theirs)
        self.assertEqual(os.path.getsize(mine), os.path.getsize(theirs))
        self.assertTrue(tvi.read(mine) == tvi.read(theirs), f'{image}: contents differ')
        os.unlink(mine)
        os.unlink(theirs)

    def test_qemu_made_read_identically(self):
        for fmt, opts in (('vpc', 'subformat=dynamic'), ('vpc', 'subformat=fixed'),
                          ('vpc', 'force_size=on'), ('vhdx', 'subformat=dynamic'),
                          ('vhdx', 'subformat=fixed'), ('vhdx', 'block_size=1M,log_size=2M')):
            with self.subTest(fmt=fmt, opts=opts):
                img = self.p('q.' + fmt)
                qemu('qemu-img', 'create', '-q', '-f', fmt, '-o', opts, img, '40M')
                qemu_write(img, 'write -P 0x11 0 1M', 'write -P 0x22 5M 12k',
                           'write -P 0x33 39M 1M', 'write -z 0 64k', fmt=fmt)
                # a fixed VHD has no footer at 0: like qemu-img, we cannot probe it
                self.assertEqual(tvi.run('check', '-f', fmt, img)[0], 0)
                mine = json.loads(tvi.run('info', '-f', fmt, '--output=json', img,
                                          check=0)[1])
                theirs = json.loads(qemu('qemu-img', 'info', '-f', fmt, '--output=json',
                                         img)[1])
                for key in ('virtual-size', 'cluster-size'):
                    self.assertEqual(mine.get(key), theirs.get(key), key)
                self.same_through_both(img, fmt)
                os.unlink(img)

    def test_ours_pass_qemu(self):
        src = self.p('src.raw')
        tvi.write_random_raw(src, 48 * MiB, seed=7)
        for fmt, opts in (('vpc', 'subformat=dynamic'), ('vpc', 'subformat=fixed'),
                          ('vpc', 'force_size=on'), ('vhdx', 'subformat=dynamic'),
                          ('vhdx', 'subformat=fixed'), ('vhdx', 'block_size=2M,log_size=3M')):
            with self.subTest(fmt=fmt, opts=opts):
                img = self.p(opts.replace('=', '-').replace(',', '-') + '.' + fmt)
                tvi.run('convert', '-O', fmt, '-o', opts, src, img, check=0)
                if fmt == 'vhdx':
                    qemu('qemu-img', 'check', img)
                if opts == 'subformat=dynamic' and fmt == 'vpc':
                    self.assert_vpc_aligned(img)
                qinfo = qemu('qemu-img', 'info', '-f', fmt, img)[1]
                self.assertIn('file format: ' + fmt, qinfo)
                # CHS rounding may grow a vpc image; compare the source's part
                qemu('qemu-img', 'compare', '-f', 'raw', '-F', fmt, src, img)
                os.unlink(img)

    def test_vpc_size_rule(self):
        """current_size vs CHS: the virtual sizes qemu-img shows."""
        for opts in ('subformat=dynamic', 'force_size=on', 'subformat=fixed'):
            with self.subTest(opts):
                img = self.p('s.vhd')
                tvi.run('create', '-q', '-f', 'vpc', '-o', opts, img, '100M', check=0)
                mine = tvi.run('info', '-f', 'vpc', '--output=json', img, check=0)[1]
                theirs = qemu('qemu-img', 'info', '-f', 'vpc', '--output=json', img)[1]
                self.assertEqual(json.loads(mine)['virtual-size'],
                                 json.loads(theirs)['virtual-size'])
                os.unlink(img)

    def test_guest_writes_read_back_by_qemu(self):
        # (disk_stress probes: a fixed VHD, which cannot be probed, is
        # written through our driver by vmm-img convert in test_ours_pass_qemu)
        for fmt, opts in (('vpc', 'subformat=dynamic'), ('vhdx', 'subformat=fixed'),
                          ('vhdx', 'subformat=dynamic'), ('vhdx', 'block_size=1M')):
            with self.subTest(fmt=fmt, opts=opts):
                img, log = self.p('g.' + fmt), self.p('g.log')
                tvi.run('create', '-q', '-f', fmt, '-o', opts, img, '32M', check=0)
                with open(log, 'w') as f:
                    f.write(stress(img, '--ops', '1500', '--seed', '11',
                                   '--cluster-size', str(MiB)))
                p = subprocess.run([STRESS, 'verify', img, log], capture_output=True,
                                   text=True)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                if fmt == 'vhdx':
                    qemu('qemu-img', 'check', img)
                else:
                    self.assert_vpc_aligned(img)
                self.same_through_both(img, fmt)
                os.unlink(img)

    def test_vpc_our_blocks_in_qemu_image(self):
        """Blocks we add to a qemu-made VHD (whose data is off 4 KiB) are
        aligned, and qemu-img reads old and new identically to us."""
        img = self.p('qa.vhd')
        qemu('qemu-img', 'create', '-q', '-f', 'vpc', img, '16M')
        qemu_write(img, 'write -P 0x41 0 3M', fmt='vpc')
        before = vpc_data_offsets(img)
        self.assertTrue(all(o % 4096 for o in before), before)
        stress(img, '--ops', '300', '--seed', '5', '--cluster-size', str(MiB))
        after = vpc_data_offsets(img)
        self.assertGreater(len(after), len(before))
        self.assertEqual([o for o in after if o not in before and o % 4096], [])
        self.assertEqual(tvi.run('check', img)[0], 0)
        self.same_through_both(img, 'vpc')

    def test_vpc_differencing(self):
        parent, child = self.p('p.vhd'), self.p('c.vhd')
        qemu('qemu-img', 'create', '-q', '-f', 'vpc', parent, '16M')
        qemu_write(parent, 'write -P 0x61 0 5M', 'write -P 0x62 9M 3M', fmt='vpc')
        praw = self.p('p.raw')
        qemu('qemu-img', 'convert', '-O', 'raw', parent, praw)
        tvi.run('create', '-q', '-f', 'vpc', '-b', 'p.vhd', '-F', 'vpc', child, check=0)
        out = tvi.run('info', child, check=0)[1]
        self.assertIn('differencing', out)
        craw = self.p('c.raw')
        tvi.run('convert', '-O', 'raw', child, craw, check=0)
        self.assertTrue(tvi.read(craw) == tvi.read(praw))
        log = self.p('c.log')
        with open(log, 'w') as f:
            f.write(stress(child, '--ops', '800', '--seed', '3', '--cluster-size', str(MiB)))
        p = subprocess.run([STRESS, 'verify', child, log, '--backing', praw],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(tvi.run('check', child)[0], 0)
        self.assert_vpc_aligned(child)
        # The parent is found by its relative locator from another directory
        # too, and a parent that is not the recorded one (UUID) is refused.
        os.rename(parent, self.p('p2.vhd'))
        qemu('qemu-img', 'create', '-q', '-f', 'vpc', parent, '16M')
        self.assert_one_error(['info', child], 'UUID')

    def test_vpc_hostile(self):
        img = self.p('h.vhd')
        tvi.run('create', '-q', '-f', 'vpc', img, '16M', check=0)
        good = tvi.read(img)
        patch(img, 1536, struct.pack('>I', 0x00ffffff))  # BAT[0] far past EOF
        self.assert_one_error(['info', img], 'past the end')
        vrc, out, _ = tvi.run('check', img)
        self.assertEqual(vrc, 2, out)
        patch(img, 1536, struct.pack('>I', 2))  # BAT[0] over the header
        self.assert_one_error(['info', img], 'overlaps')
        with open(img, 'wb') as f:
            f.write(good)
        # a block allocated (file grown, footer moved) but never entered in
        # the BAT, as a writer killed in between leaves it: a leak, repaired
        patch(img, len(good) - 512 + (2 * MiB + 512), good[-512:])
        self.assertEqual(tvi.run('check', img)[0], 3)
        rc, out, _ = tvi.run('check', '-r', 'leaks', img)
        self.assertEqual(rc, 0, out)
        self.assertTrue(tvi.read(img) == good, 'repair did not restore the image')
        patch(img, 100, b'\x01')  # footer copy at 0: checksum
        self.assert_one_error(['info', img], 'checksum')
        with open(img, 'wb') as f:
            f.write(good[:700])  # truncated inside the dynamic header
        self.assert_one_error(['info', '-f', 'vpc', img], 'h.vhd')
        with open(img, 'wb') as f:
            f.write(good[:100])
        self.assert_one_error(['info', '-f', 'vpc', img], 'h.vhd')

    def test_vhdx_hostile(self):
        img = self.p('h.vhdx')
        tvi.run('create', '-q', '-f', 'vhdx', '-o', 'block_size=1M', img, '16M', check=0)
        good = tvi.read(img)
        patch(img, 2 * MiB, struct.pack('<Q', (4096 << 20) | 6))  # BAT[0] past EOF
        self.assert_one_error(['info', img], 'past the end')
        self.assertEqual(tvi.run('check', img)[0], 2)
        patch(img, 2 * MiB, struct.pack('<Q', (1 << 20) | 6))  # BAT[0] on the log
        self.assert_one_error(['info', img], 'overlaps')
        with open(img, 'wb') as f:
            f.write(good)
        patch(img, 64 << 10, b'xxxx')
        patch(img, 128 << 10, b'xxxx')
        self.assert_one_error(['info', img], 'header')
        with open(img, 'wb') as f:
            f.write(good[:MiB])
        self.assert_one_error(['info', img], 'h.vhdx')


class VhdxLog(tvi.ImgTest):
    """A log entry (spec 2.3.1) left in the image, as a crash would leave it."""

    def make_dirty(self):
        img = self.p('d.vhdx')
        qemu('qemu-img', 'create', '-q', '-f', 'vhdx', '-o', 'block_size=1M', img, '16M')
        qemu_write(img, 'write -P 0x77 3M 64k', fmt='vhdx')
        size = os.path.getsize(img)
        blk = (size + MiB - 1) // MiB * MiB
        with open(img, 'r+b') as f:
            f.truncate(blk + MiB)  # the block, allocated before its log entry
            hdrs = []
            for off in (64 << 10, 128 << 10):
                f.seek(off)
                hdrs.append(bytearray(f.read(4096)))
            f.seek(2 * MiB)
            bat = bytearray(f.read(4096))
        cur = max(range(2), key=lambda i: struct.unpack_from('<Q', hdrs[i], 8)[0])
        h = hdrs[cur]
        log_off, = struct.unpack_from('<Q', h, 72)
        guid = uuid.uuid4().bytes
        struct.pack_into('<Q', bat, 0, blk | 6)  # BAT[0]: block at blk, present
        data = bytes([0xa5]) * 4096
        seq = 7
        entry = bytearray(3 * 4096)
        struct.pack_into('<4sIIIQII16sQQ', entry, 0, b'loge', 0, len(entry), 0, seq, 2, 0,
                         guid, size, blk + MiB)
        for i, (off, sector) in enumerate(((2 * MiB, bat), (blk, data))):
            d = 64 + 32 * i
            struct.pack_into('<4s4s8sQQ', entry, d, b'desc', bytes(sector[4092:4096]),
                             bytes(sector[0:8]), off, seq)
            s = 4096 * (1 + i)
            struct.pack_into('<4sI', entry, s, b'data', seq >> 32)
            entry[s + 8:s + 4092] = sector[8:4092]
            struct.pack_into('<I', entry, s + 4092, seq & 0xffffffff)
        struct.pack_into('<I', entry, 4, crc32c(bytes(entry)))
        patch(img, log_off, bytes(entry))
        h[48:64] = guid
        struct.pack_into('<Q', h, 8, struct.unpack_from('<Q', h, 8)[0] + 2)
        struct.pack_into('<I', h, 4, 0)
        struct.pack_into('<I', h, 4, crc32c(bytes(h)))
        patch(img, (64 << 10) * (cur + 1), bytes(h))
        return img

    def test_read_only_open_shows_replayed_data(self):
        img = self.make_dirty()
        before = tvi.read(img)
        out = self.p('ro.raw')
        tvi.run('convert', '-O', 'raw', img, out, check=0)
        got = tvi.read(out)
        self.assertEqual(got[:4096], bytes([0xa5]) * 4096)
        self.assertEqual(got[4096:MiB], bytes(MiB - 4096))
        self.assertEqual(got[3 * MiB:3 * MiB + 65536], bytes([0x77]) * 65536)
        self.assertTrue(tvi.read(img) == before, 'a read-only open changed the file')
        self.assertIn('log replayed: true', tvi.run('info', img, check=0)[1])
        # qemu-img's own replay gives the same disk.
        q = self.p('q.vhdx')
        shutil.copy(img, q)
        qemu('qemu-img', 'check', '-r', 'all', q)
        theirs = self.p('theirs.raw')
        qemu('qemu-img', 'convert', '-O', 'raw', q, theirs)
        self.assertTrue(tvi.read(theirs) == got)

    def test_read_write_open_replays_onto_the_file(self):
        img = self.make_dirty()
        stress(img, '--ops', '1', '--seed', '1', '--zero-pct', '0', '--discard-pct', '0',
               '--max-size', '512')
        with open(img, 'rb') as f:
            hdr = []
            for off in (64 << 10, 128 << 10):
                f.seek(off)
                hdr.append(f.read(80))
        for h in hdr:
            self.assertEqual(h[48:64], bytes(16), 'log GUID not cleared')
        rc, out, err = qemu('qemu-img', 'check', img, check=None)
        self.assertEqual(rc, 0, out + err)
        self.assertIn('log replayed: false', tvi.run('info', img, check=0)[1])

    def test_truncated_after_log(self):
        img = self.make_dirty()
        # the entry says the file was larger than it is now
        with open(img, 'r+b') as f:
            f.truncate(2 * MiB + 4096 * 4)
        self.assert_one_error(['info', img], 'd.vhdx')


def main():
    global STRESS
    if len(sys.argv) < 3:
        print(f'usage: {sys.argv[0]} PATH-TO-vmm-img PATH-TO-disk_stress', file=sys.stderr)
        return 2
    if shutil.which('qemu-img') is None or shutil.which('qemu-io') is None:
        print('SKIP: qemu-img/qemu-io are not installed (apt-get install qemu-utils)')
        return 77
    tvi.VMM_IMG = os.path.abspath(sys.argv[1])
    STRESS = os.path.abspath(sys.argv[2])
    prog = unittest.main(argv=[sys.argv[0], '-v', *sys.argv[3:]], exit=False)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == '__main__':
    sys.exit(main())
