#!/usr/bin/env bash
# Print every benchmark number. Build first: scripts/build.sh
set -euo pipefail
cd "$(dirname "$0")"
python3 startup.py
python3 startup_jail.py
python3 memory.py
python3 exit_roundtrip.py
python3 sandbox.py
python3 disk_backend.py
python3 disk_formats.py --no-convert
python3 disk_convert.py
python3 virtio_net_pps.py
python3 guest_blk_iops.py
python3 guest_net.py
"${VMM_BUILD:-../build}/bench/vde_pps" tx
"${VMM_BUILD:-../build}/bench/vde_pps" rx
python3 vde_pair.py
python3 qmp_latency.py
python3 snapshot.py
