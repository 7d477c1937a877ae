#!/usr/bin/env bash
# The layer rule of docs/ARCHITECTURE.md, checked over every #include "..."
# line of the product code: a folder may include only the folders listed for
# it (its own, and the layers below it). vmm/ is the top and may include
# everything; tests/ and bench/ may too. A header named *_priv.h is private
# to its folder.
# Prints each violation as FILE:LINE: INCLUDE (rule) and exits 1 if any.
set -uo pipefail
cd "$(dirname "$0")/.."

# folder -> the include prefixes it may use (besides the system headers)
declare -A allowed=(
  [base]="base/"
  [firmware]="base/ firmware/"
  [arch/x86]="base/ firmware/ arch/x86/"
  [devices]="base/ devices/serial.h devices/platform.h devices/rtc.h devices/ged.h"
  [devices/disk]="base/ devices/disk/"
  [devices/net]="base/ devices/net/"
  [devices/fs]="base/ devices/fs/"
  [devices/virtio]="base/ devices/virtio/ devices/disk/disk.h devices/net/net.h devices/fs/p9_server.h devices/fs/p9_proto.h"
  [tools]="base/ devices/disk/ tools/"
)

bad=0
for dir in "${!allowed[@]}"; do
  # only the files directly in $dir (devices/ has sub-layers of its own)
  while IFS= read -r file; do
    while IFS=: read -r line inc; do
      path=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/' <<<"$inc")
      [[ $path == */* ]] || continue # same-folder include by bare name
      ok=0
      for prefix in ${allowed[$dir]}; do
        [[ $path == "$prefix"* ]] && ok=1
      done
      if [[ $ok -eq 1 && $path == *_priv.h && $path != "$dir/"* ]]; then ok=0; fi
      if [[ $ok -eq 0 ]]; then
        echo "$file:$line: includes \"$path\" (allowed in $dir/: ${allowed[$dir]})"
        bad=1
      fi
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file")
  done < <(find "$dir" -maxdepth 1 -name '*.[ch]' | sort)
done
# No layer below vmm/ may reach up into it, whatever the folder.
while IFS= read -r hit; do
  echo "$hit (only vmm/ may include vmm/)"; bad=1
done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"vmm/' base arch firmware devices tools \
           --include='*.[ch]')
if [[ $bad -eq 0 ]]; then echo "layers: every #include follows the layer rule"; fi
exit $bad
