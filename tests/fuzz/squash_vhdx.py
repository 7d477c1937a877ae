#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Squash a VHDX image into a fuzz_vhdx input: its 4 KiB pages at the
places fuzz_vhdx.c's page_at[] lists, concatenated.

usage: squash_vhdx.py IMAGE.vhdx OUT
"""
import sys

MiB = 1 << 20
PAGE_AT = [0, 64 << 10, 128 << 10, 192 << 10, 256 << 10, MiB, MiB + 4096, MiB + 8192,
           2 * MiB, 3 * MiB, 3 * MiB + 65536, 4 * MiB]

with open(sys.argv[1], 'rb') as f, open(sys.argv[2], 'wb') as out:
    for off in PAGE_AT:
        f.seek(off)
        out.write(f.read(4096).ljust(4096, b'\0'))
