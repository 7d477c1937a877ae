# SPDX-License-Identifier: MIT
"""The skeleton the per-feature guest test scripts (test_qmp.py,
snapshot_test.py, jail_test.py) share: --list for meson, the skip without
/dev/kvm, one fresh temporary directory per case, and the exit status
(0 passed, 1 a case failed, 77 every case skipped or no /dev/kvm).

A case runs as call(case, opts, tmp) (by default case(opts, tmp)); it fails
by raising Fail (or one of `errors`), skips by raising Skip."""
import argparse
import os
import subprocess
import sys
import tempfile
import time

SKIP = 77


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def kvm_unavailable():
    """Why /dev/kvm cannot be opened, or None."""
    try:
        os.close(os.open('/dev/kvm', os.O_RDWR))
    except OSError as e:
        return str(e)
    return None


def main(doc, cases, prefix, call=lambda case, opts, tmp: case(opts, tmp), options=(),
         errors=()):
    """Parse --vmm, --guest-dir, --list, `options` and the case names, then
    run the cases (all of them when none is named)."""
    ap = argparse.ArgumentParser(description=doc,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ('--vmm', '--guest-dir') + tuple(options):
        ap.add_argument(name)
    ap.add_argument('--list', action='store_true')
    ap.add_argument('cases', nargs='*')
    opts = ap.parse_args()
    if opts.list:
        print('\n'.join(cases))
        return 0
    why = kvm_unavailable()
    if why:
        print('SKIP: /dev/kvm not available (%s)' % why)
        return SKIP
    failed = skipped = 0
    names = opts.cases or list(cases)
    for name in names:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            t = time.monotonic()
            try:
                call(cases[name], opts, tmp)
                print('PASS: %s (%.2f s)' % (name, time.monotonic() - t))
            except Skip as e:
                skipped += 1
                print('SKIP: %s (%s)' % (name, e))
            except (Fail, subprocess.TimeoutExpired) + tuple(errors) as e:
                failed += 1
                print('FAIL: %s: %s: %s' % (name, type(e).__name__, e))
        sys.stdout.flush()
    if failed:
        return 1
    return SKIP if skipped == len(names) else 0
