#!/usr/bin/env bash
# Run every benchmark against two builds of vmm, one after the other, so a
# change is measured against the tree it started from in the same run on the
# same machine (the anchor beside the figure). Each script runs ROUNDS times
# per build, alternating old/new so drift of the machine hits both alike.
#
#   git worktree add /tmp/vmm-old <commit> && /tmp/vmm-old/scripts/build.sh
#   bench/compare.sh /tmp/vmm-old/build build [ROUNDS]
#
# The scripts are this tree's; the C helpers they run (bench/*.c, linked with
# the device code) come from each build. Set BENCHES to pick scripts
# (default: all of run-all.sh's).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OLD_BUILD NEW_BUILD [ROUNDS]" >&2; exit 2; }
old=$(realpath "$1"); new=$(realpath "$2"); rounds=${3:-2}
cd "$(dirname "$0")"
for b in "$old" "$new"; do
  [ -x "$b/vmm" ] || { echo "compare: $b/vmm missing: build it first" >&2; exit 1; }
done
benches=${BENCHES:-"startup.py memory.py exit_roundtrip.py disk_backend.py virtio_net_pps.py guest_blk_iops.py guest_net.py"}
for script in $benches; do
  echo "=== $script"
  for ((r = 1; r <= rounds; r++)); do
    for side in old new; do
      dir=$old; [ "$side" = new ] && dir=$new
      echo "--- $side (round $r): $dir"
      VMM_BUILD=$dir python3 "$script" 2>&1 || echo "($script failed with status $? on $side)"
    done
  done
done
