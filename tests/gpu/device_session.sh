#!/usr/bin/env bash
# The whole GPU agenda of issues #5 and #6 in ONE device call, for sessions whose device time is
# short (15 minutes in all, the machine's start included): the GPU tests first (speed numbers from
# a backend that fails them would mislead), then the speed runs (tests/perf/device_bench.sh), then
# memcheck with whatever time is left, all under one deadline so the call ends by itself and every
# result comes back. At most 8 files come back from $OUT, so the parts write into a work folder
# and this script returns: summary.txt (everything in one page), the bench JSON files, and one
# tarball of all logs.
# Usage (tool call; build and stage first as tests/gpu/README.md says, with hearth-cli and
# gpu_kernel_bench in the same tarball):
#   run(command="bash tests/gpu/device_session.sh device-carry/gpu-tests.tar.xz",
#       carry=["device-carry"], timeout_s=600)
# HEARTH_DEVICE_BUDGET_S (default 540) is the time the script gives itself; HEARTH_BENCH picks
# bench parts as in device_bench.sh; HEARTH_MEMCHECK_ONLY limits memcheck to the suites named;
# HEARTH_PROFILE=0 skips the closing Nsight Compute profile; HEARTH_TESTS_ONLY limits the tests
# to the suites named and HEARTH_BENCH_RESERVE_S is the time they leave to the rest (default 300).
set -uo pipefail
src=${1:-device-carry/gpu-tests.tar.xz}
budget=${HEARTH_DEVICE_BUDGET_S:-540}
export HEARTH_DEADLINE=$(( $(date +%s) + budget ))
final=${OUT:-/tmp/hearth-device-session}
work=/tmp/hearth-device-session-work
rm -rf "$work" && mkdir -p "$work" "$final"
export OUT=$work

# 1. Correctness: every tst_gpu_* and tst_cuda_* (or those HEARTH_TESTS_ONLY names), memcheck
#    left for the end. Capped so the speed runs keep HEARTH_BENCH_RESERVE_S (default 300 s).
HEARTH_GPU_ONLY=${HEARTH_TESTS_ONLY:-} HEARTH_DEADLINE=$(( HEARTH_DEADLINE - ${HEARTH_BENCH_RESERVE_S:-300} )) \
  HEARTH_GPU_MODE=tests bash tests/gpu/run_on_device.sh "$src"
testsRc=$?

# 2. Speed, also after a failing test: with one device call per session a failure must not cost
#    the figures too (the summary puts the test verdict first, and speed from a backend that
#    failed a test is reported as such); with no device at all nothing runs.
if [ $testsRc -eq 0 ] || [ $testsRc -eq 1 ]; then
  parts=${HEARTH_BENCH:-kernels,load,generate,baseline,untuned}
else
  parts=
fi
benchRc=0
if [ -n "$parts" ]; then
  HEARTH_BENCH=$parts bash tests/perf/device_bench.sh "$src"
  benchRc=$?
fi

# 3. memcheck with the time left (each run is cut to the deadline or not started);
#    HEARTH_MEMCHECK_ONLY="tst_a tst_b" limits it to the suites a change touched.
memRc=0
if [ $testsRc -ne 3 ]; then
  HEARTH_GPU_ONLY=${HEARTH_MEMCHECK_ONLY:-} HEARTH_GPU_MODE=memcheck bash tests/gpu/run_on_device.sh "$src"
  memRc=$?
fi

# 4. The per-kernel decode profile (Nsight Compute) with what is left: informative, not a check.
if [ $testsRc -ne 3 ] && [ "${HEARTH_PROFILE:-1}" = 1 ]; then
  HEARTH_BENCH=profile bash tests/perf/device_bench.sh "$src"
fi

{
  echo "device session: tests rc=$testsRc (0 pass, 1 fail, 3 no device), bench ($parts) rc=$benchRc, memcheck rc=$memRc"
  cat "$work"/device.txt "$work"/summary-tests.txt "$work"/summary-memcheck.txt 2>/dev/null
  for f in "$work"/kernels.txt "$work"/profile.txt; do [ -f "$f" ] && { echo "==== $(basename "$f")"; tail -n 40 "$f"; }; done
  # The benches' progress lines carry each figure as it was measured, also from a run cut short.
  [ -f "$work/stderr.log" ] && { echo "==== bench progress (stderr)"; tail -n 80 "$work/stderr.log"; }
} > "$final/summary.txt"
cp "$work"/load-*.json "$work"/generate-*.json "$final/" 2>/dev/null
tar -C "$work" -czf "$final/device-session-logs.tar.gz" .
cat "$final/summary.txt"
[ $testsRc -eq 0 ] && [ $benchRc -eq 0 ] && [ $memRc -eq 0 ]
