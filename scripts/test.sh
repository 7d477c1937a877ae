#!/usr/bin/env bash
# Quick start 2: install what is needed, build, and run every test:
#   1. unit tests (cmocka), test-guest boot tests, CLI/console tests (build/)
#   2. the same again with AddressSanitizer + UBSan       (build-asan/)
#   3. the libFuzzer targets, a short run each                (build-fuzz/)
#   4. the Linux boot tests (kernel built once, cached in ~/.cache/vmm)
#   4b. the kernel's KUnit tests through kunit.py on vmm (kernel cached too)
#   5. the layer rule over #include lines, and the clang-format check
# Prints one closing line "tests: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
# The guest images are cached in ${VMM_CACHE:-$HOME/.cache/vmm}; CI may run
# with HOME unset.
export HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}

passed=0; failed=0; skipped=0
fail_names=()

# Add the results of one `meson test` run (its JSON log) to the totals.
count_meson() {
  local log=$1/meson-logs/testlog.json
  [ -f "$log" ] || { failed=$((failed + 1)); fail_names+=("meson test in $1 (no log)"); return; }
  local result name
  while read -r result name; do
    case "$result" in
      OK|EXPECTEDFAIL) passed=$((passed + 1)) ;;
      SKIP) skipped=$((skipped + 1)) ;;
      *) failed=$((failed + 1)); fail_names+=("$name") ;;
    esac
  done < <(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    j = json.loads(l)
    print(j["result"], j["name"])' "$log")
}

step() { echo; echo "=== $*"; }

step "install dependencies"
./scripts/install-deps.sh || exit 1

step "build (warnings are errors)"
./scripts/build.sh build || exit 1

step "unit tests and test-guest boot tests"
meson test -C build --no-suite linux --no-suite kunit --print-errorlogs --num-processes 2
count_meson build

step "unit, guest and CLI tests again with vmm built with AddressSanitizer + UBSan"
if [ ! -f build-asan/build.ninja ]; then
  meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug >/dev/null || exit 1
fi
ninja -C build-asan || exit 1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --suite unit --suite guests --suite cli --print-errorlogs --num-processes 2
count_meson build-asan

step "fuzz targets (clang libFuzzer + ASan/UBSan), ${FUZZ_SECONDS:-20} s each"
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang meson setup build-fuzz -Dfuzz=true -Dfuzz_seconds="${FUZZ_SECONDS:-20}" \
    -Db_sanitize=address,undefined -Db_lundef=false -Dtests=disabled >/dev/null || exit 1
else
  meson configure build-fuzz -Dfuzz_seconds="${FUZZ_SECONDS:-20}" || exit 1
fi
# Only the fuzz targets and what they link (not the whole tree) are built with clang here.
# the targets: the fuzz_*.c files with an LLVMFuzzerTestOneInput (fuzz_disk.c is a helper)
fuzz_targets=$(cd tests/fuzz && grep -l LLVMFuzzerTestOneInput fuzz_*.c 2>/dev/null |
  sed 's|^\(.*\)\.c$|tests/fuzz/\1|')
if [ -n "$fuzz_targets" ]; then
  # shellcheck disable=SC2086
  ninja -C build-fuzz $fuzz_targets || exit 1
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-fuzz --no-rebuild --suite fuzz --print-errorlogs --num-processes 2
  count_meson build-fuzz
fi

step "Linux guest: build (cached) and boot"
if ./guest-images/build-all.sh; then
  meson test -C build --suite linux --print-errorlogs
  count_meson build # a skip (no /dev/kvm) counts as skipped, not passed
else
  failed=$((failed + 1)); fail_names+=("guest image build")
fi

step "KUnit: kunit.py runs lib/kunit on vmm (kernel built once, cached)"
meson test -C build --suite kunit --print-errorlogs
count_meson build

step "layer rule (#include lines)"
if ./scripts/check-layers.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); fail_names+=("layer rule"); fi

step "clang-format"
if ./scripts/check-format.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); fail_names+=("clang-format"); fi

echo
for n in "${fail_names[@]}"; do echo "FAILED: $n"; done
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
