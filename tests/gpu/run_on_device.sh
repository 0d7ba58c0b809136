#!/usr/bin/env bash
# Runs Hearth's GPU tests on the GPU machine: every tst_gpu_* (kernels) and tst_cuda_* (the CUDA
# backend on the reference models) executable (the ctest "gpu" label set; run directly because
# the build folder's ctest files hold absolute paths of the development machine), then each again
# under compute-sanitizer memcheck, and prints a summary.
# Usage (on the GPU machine, from the repository root):
#   bash tests/gpu/run_on_device.sh device-carry/gpu-tests.tar.xz   # made by stage_for_device.sh
#   bash tests/gpu/run_on_device.sh DIR                              # DIR with bin/ and libs/
# HEARTH_GPU_MODE=tests, =memcheck or =races runs one part only (when all do not fit one device
# call); races runs compute-sanitizer racecheck and synccheck on the kernels that share memory
# between warps (attention, norm, sampling, GEMV), only the test functions named below.
# HEARTH_GPU_ONLY limits any mode to the executables it names.
# Logs go to /tmp/hearth-gpu-logs-<mode>; when $OUT is set (the device tool, which returns at most 8
# files) the summary and one tarball of all logs are copied there. Exit status: 0 when every test
# passed and memcheck found no error, 1 on any failure, 3 when the tests skipped (no device).
set -uo pipefail
src=${1:-device-carry/gpu-tests.tar.xz}
if [ -f "$src" ]; then
  dest=/tmp/hearth-gpu-tests
  rm -rf "$dest" && mkdir -p "$dest"
  xz -dc "$src" | tar -C "$dest" -xf - || { echo "cannot unpack $src"; exit 2; }
  dir=$dest/gpu-tests
else
  dir=$src
fi
mode=${HEARTH_GPU_MODE:-all}
logs=/tmp/hearth-gpu-logs-$mode
rm -rf "$logs" && mkdir -p "$logs"
export LD_LIBRARY_PATH="$dir/libs:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export QTEST_FUNCTION_TIMEOUT=600000 QT_QPA_PLATFORM=offscreen
export HOME=/tmp/hearth-gpu-home XDG_CACHE_HOME=/tmp/hearth-gpu-home/.cache
mkdir -p "$HOME"
# The backend tests read fixtures (tokenizer, golden.json) from this checkout, not from the
# development machine's path compiled into them.
if [ -d "$PWD/tests/fixtures" ]; then
  export HEARTH_TEST_FIXTURES_DIR="$PWD/tests/fixtures"
fi
# The time limit for one run: `base` seconds, cut to what is left before HEARTH_DEADLINE (epoch
# seconds, set by device_session.sh); under 20 s left, the run is skipped and counts as failed.
limitFor() {
  local limit=$1
  if [ -n "${HEARTH_DEADLINE:-}" ]; then
    local left=$(( HEARTH_DEADLINE - $(date +%s) - 5 ))
    [ "$left" -lt "$limit" ] && limit=$left
  fi
  echo "$limit"
}
# Under memcheck the backend suite runs only the functions that cover every step shape (prefill
# chunks, decode, LoRA, mixed batches, bad plans); the full suite would not fit the time limit.
memcheckArgs() {
  case "$1" in
    tst_cuda_backend) echo "matchesCpuBackend:fp16 badPlanIsAnError" ;;
  esac
}
# Shared-memory hazards, per executable: the functions racecheck/synccheck run (slow tools).
raceArgs() {
  case "$1" in
    tst_gpu_paged_attention) echo "decodeSplit prefill" ;;
    tst_gpu_decode_attention) echo "longContexts unalignedCache" ;;
    tst_gpu_norm) echo "plain perHead fused" ;;
    tst_gpu_sampling) echo "sample" ;;
    tst_gpu_gemv) echo "gemv" ;;
  esac
}
# HEARTH_GPU_ONLY="tst_a tst_b": run only these executables (e.g. memcheck of the suites a change
# touched, when a device call has little time left).
picked() {
  [ -z "${HEARTH_GPU_ONLY:-}" ] && return 0
  case " $HEARTH_GPU_ONLY " in *" $1 "*) return 0 ;; esac
  return 1
}
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/device: /'
summary=()
failed=0
skipped=0
shopt -s nullglob
exes=("$dir"/bin/tst_gpu_* "$dir"/bin/tst_cuda_*)
if [ ${#exes[@]} -eq 0 ]; then
  echo "no GPU test executables in $dir/bin" | tee "$logs/summary.txt"
  [ -n "${OUT:-}" ] && cp "$logs/summary.txt" "$OUT/summary-$mode.txt"
  exit 2
fi
for exe in "$dir"/bin/tst_gpu_* "$dir"/bin/tst_cuda_*; do
  [ "$mode" = memcheck ] || [ "$mode" = races ] && break
  name=$(basename "$exe")
  picked "$name" || continue
  startMs=$(date +%s%3N)
  limit=$(limitFor 300)
  if [ "$limit" -lt 20 ]; then
    summary+=("$(printf '%-26s %-12s' "$name" "NOT RUN(time)")")
    failed=1
    continue
  fi
  timeout "$limit" "$exe" > "$logs/$name.log" 2>&1
  rc=$?
  ms=$(( $(date +%s%3N) - startMs ))
  totals=$(grep -E '^Totals:' "$logs/$name.log" | tail -1)
  if grep -q 'initTestCase() no CUDA device' "$logs/$name.log"; then
    verdict=SKIPPED
    skipped=1
  elif [ $rc -eq 0 ]; then
    verdict=PASS
  else
    verdict="FAIL(rc=$rc)"
    failed=1
    grep -E '^(FAIL!|   Loc:)' "$logs/$name.log" | head -20
  fi
  summary+=("$(printf '%-26s %-12s %6d ms  %s' "$name" "$verdict" "$ms" "$totals")")
done

for exe in "$dir"/bin/tst_gpu_* "$dir"/bin/tst_cuda_*; do
  [ "$mode" = tests ] || [ "$mode" = races ] && break
  name=$(basename "$exe")
  picked "$name" || continue
  if [ ! -x "$sanitizer" ]; then
    summary+=("$(printf '%-26s memcheck: compute-sanitizer not found' "$name")")
    failed=1
    continue
  fi
  limit=$(limitFor 540)
  if [ "$limit" -lt 20 ]; then
    summary+=("$(printf '%-26s memcheck %-12s' "$name" "NOT RUN(time)")")
    failed=1
    continue
  fi
  timeout "$limit" "$sanitizer" --tool memcheck --error-exitcode 86 --print-limit 20 "$exe" $(memcheckArgs "$name") > "$logs/$name.memcheck.log" 2>&1
  rc=$?
  errors=$(grep -E '^========= ERROR SUMMARY' "$logs/$name.memcheck.log" | tail -1)
  if [ $rc -eq 0 ]; then
    verdict=clean
  elif grep -q 'terminated before first instrumented API call' "$logs/$name.memcheck.log" &&
       grep -qE '^Totals: [0-9]+ passed, 0 failed' "$logs/$name.memcheck.log"; then
    # tst_gpu_launch_checks tests argument checks only and never calls CUDA: nothing to check.
    verdict="n/a(no CUDA calls)"
  else
    verdict="FAIL(rc=$rc)"
    failed=1
    grep -E '^=========  ?(Invalid|Program hit|Address|at )' "$logs/$name.memcheck.log" | head -10
  fi
  summary+=("$(printf '%-26s memcheck %-12s %s' "$name" "$verdict" "$errors")")
done

for exe in "$dir"/bin/tst_gpu_*; do
  [ "$mode" = tests ] || [ "$mode" = memcheck ] && break
  [ -x "$sanitizer" ] || break
  name=$(basename "$exe")
  picked "$name" || continue
  args=$(raceArgs "$name")
  [ -n "$args" ] || continue
  for tool in racecheck synccheck; do
    limit=$(limitFor 240)
    if [ "$limit" -lt 20 ]; then
      summary+=("$(printf '%-26s %-9s %-12s' "$name" "$tool" "NOT RUN(time)")")
      failed=1
      continue
    fi
    timeout "$limit" "$sanitizer" --tool "$tool" --error-exitcode 86 --print-limit 20 "$exe" $args > "$logs/$name.$tool.log" 2>&1
    rc=$?
    errors=$(grep -E '^========= (ERROR|RACECHECK) SUMMARY' "$logs/$name.$tool.log" | tail -1)
    if [ $rc -eq 0 ]; then
      verdict=clean
    elif [ $rc -eq 124 ]; then
      verdict="TIMEOUT(${limit}s)"
      failed=1
    else
      verdict="FAIL(rc=$rc)"
      failed=1
      grep -E '^=========  ?(Error|Race|Barrier|Invalid|at )' "$logs/$name.$tool.log" | head -10
    fi
    summary+=("$(printf '%-26s %-9s %-12s %s' "$name" "$tool" "$verdict" "$errors")")
  done
done

{
  echo "==== summary ===="
  printf '%s\n' "${summary[@]}"
  if [ $failed -ne 0 ]; then
    echo "SOME GPU CHECKS FAILED (mode $mode; logs in $logs)"
  elif [ $skipped -ne 0 ]; then
    echo "GPU TESTS SKIPPED: no usable CUDA device"
  else
    echo "ALL GPU CHECKS PASSED (mode $mode)"
  fi
} | tee "$logs/summary.txt"
if [ -n "${OUT:-}" ]; then
  cp "$logs/summary.txt" "$OUT/summary-$mode.txt"
  tar -C "$logs" -czf "$OUT/gpu-test-logs-$mode.tar.gz" .
fi
[ $failed -ne 0 ] && exit 1
[ $skipped -ne 0 ] && exit 3
exit 0
