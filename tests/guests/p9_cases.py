# SPDX-License-Identifier: MIT
"""The virtio-9p cases of run_guest_tests.py (--share, issue 14): the p9
guest (tests/guests/p9.c, its own 9P2000.L client) against a directory the
case prepares in its temp dir:

    TMP/outside-file       next to the share: the guest must never reach it
    TMP/share/hello.txt    read by the guest
    TMP/share/to-delete    removed by the guest (mode=rw)
    TMP/share/evil -> TMP  a symlink planted by the host, out of the share

- p9-rw: the guest reads, creates, writes, renames and removes files and
  tries the escapes; afterwards the host finds newdir/renamed.txt with the
  guest's text, to-delete gone, and nothing new outside the share.
- p9-ro: the same share with ,readonly: every change is refused, the files
  are as they were.
cases(rt) takes the runner module, for its Case and helpers.
"""
import os

HELLO = 'hello from the host\n'


def make_share(ctx):
    share = os.path.join(ctx.tmpdir, 'share')
    os.makedirs(share)
    with open(os.path.join(ctx.tmpdir, 'outside-file'), 'w') as f:
        f.write('outside\n')
    with open(os.path.join(share, 'hello.txt'), 'w') as f:
        f.write(HELLO)
    with open(os.path.join(share, 'to-delete'), 'w') as f:
        f.write('x\n')
    os.symlink(ctx.tmpdir, os.path.join(share, 'evil'))
    ctx.state['share'] = share
    ctx.state['outside'] = sorted(os.listdir(ctx.tmpdir))
    return share


def outside_unchanged(ctx):
    now = sorted(os.listdir(ctx.tmpdir))
    if now != ctx.state['outside']:
        return 'the directory around the share changed: %s -> %s' % (ctx.state['outside'], now)
    return None


def check_rw(case, run):
    share = run.ctx.state['share']
    got = os.path.join(share, 'newdir', 'renamed.txt')
    if not os.path.isfile(got):
        return 'newdir/renamed.txt is not in the share'
    with open(got) as f:
        text = f.read()
    if text != 'written by the guest\n':
        return 'newdir/renamed.txt holds %r' % text
    if os.path.exists(os.path.join(share, 'to-delete')):
        return 'to-delete is still there'
    if os.path.exists(os.path.join(share, 'guest.txt')):
        return 'guest.txt was not renamed'
    return outside_unchanged(run.ctx)


def check_ro(case, run):
    share = run.ctx.state['share']
    if sorted(os.listdir(share)) != ['evil', 'hello.txt', 'to-delete']:
        return 'the readonly share changed: %s' % sorted(os.listdir(share))
    return outside_unchanged(run.ctx)


def cases(rt):
    def prepare(opts):
        def fn(case, ctx):
            return ['--share', make_share(ctx) + ',tag=hostshare' + opts]
        return fn

    return [
        rt.Case('p9-rw', 'p9', 0, cmdline='mode=rw tag=hostshare', prepare=prepare(''),
                check=check_rw,
                expect=["mount tag 'hostshare'", 'read hello.txt (20 bytes)',
                        'created, wrote, renamed and removed files',
                        'outside-file via .. refused', 'open the planted symlink refused',
                        'walk through the planted symlink stopped at it',
                        'rename across the boundary refused',
                        'create across the boundary refused', 'mode=rw passed']),
        rt.Case('p9-ro', 'p9', 0, cmdline='mode=ro tag=hostshare', prepare=prepare(',readonly'),
                check=check_ro,
                expect=['create on a readonly share refused', 'open for writing refused',
                        'mode=ro passed']),
        # The guest checks the tag: a different one is status 32 (PS_TAG).
        rt.Case('p9-wrong-tag', 'p9', 32, cmdline='mode=rw tag=other', prepare=prepare(''),
                expect=["mount tag 'hostshare'"]),
    ]
