#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (address + undefined sanitizers) and runs each one
# for a bounded time on a copy of its seed corpus. Fails if any target crashes, leaks, times
# out on one input or exceeds the memory limit. Warnings are the main build's business (-Werror
# there); this build only hunts crashes.
# Usage: run_fuzzers.sh SOURCE_DIR BUILD_DIR CLANGXX SECONDS_PER_TARGET
set -euo pipefail
src=$1 build=$2 clangxx=$3 seconds=$4
clangc=${clangxx/clang++/clang}

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Fuzz \
    -DCMAKE_CXX_COMPILER="$clangxx" -DCMAKE_C_COMPILER="$clangc" \
    -DHEARTH_FUZZ=ON -DHEARTH_WERROR=OFF -DHEARTH_BUILD_TESTS=OFF -DHEARTH_BUILD_GUI=OFF -DHEARTH_CUDA=OFF \
    -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
fi
targets=$(cd "$src/tests/fuzz/targets" && ls fuzz_*.cpp 2>/dev/null | sed 's/\.cpp$//')
if [ -z "$targets" ]; then
  echo "no fuzz targets"; exit 1
fi
# shellcheck disable=SC2086
cmake --build "$build" --target $targets

failed=0
for t in $targets; do
  work=$(mktemp -d)
  seeds="$src/tests/fuzz/corpus/${t#fuzz_}"
  [ -d "$seeds" ] && cp -r "$seeds/." "$work/"
  echo "== $t: ${seconds}s over $(ls "$work" | wc -l) seeds"
  if ! (cd "$work" && "$build/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 "$work" > "$work.log" 2>&1); then
    echo "FAILED: $t"; tail -n 60 "$work.log"; failed=1
  else
    grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$work.log" | tail -n 2 || true
  fi
  rm -rf "$work" "$work.log"
done
exit $failed
