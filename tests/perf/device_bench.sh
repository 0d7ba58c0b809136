#!/usr/bin/env bash
# The speed runs of issues #5 and #6 on the GPU machine, in one call: the kernel microbenchmark,
# a Qwen2.5-7B-shaped random model written there (make_random_qwen2.py, ~15 GB), `hearth-cli bench
# --load` cold and warm, and `hearth-cli bench` (generation) on the CUDA backend, each with its
# own time limit so one hang does not lose the rest. Every result lands in $OUT as it is made.
# Usage (on the GPU machine, from the repository root):
#   bash tests/perf/device_bench.sh device-carry/gpu-tests.tar.xz     # made by tests/gpu/stage_for_device.sh
# HEARTH_BENCH=kernels,load,generate,baseline,untuned,profile picks parts (default: all six;
# baseline: the generation bench again with programmatic dependent launch off and the previous
# attention kernels (HEARTH_PDL=0 HEARTH_DECODE_ATTN=simt HEARTH_PREFILL_ATTN=wmma), at the rows
# they change, to show what they give; untuned: the
# generation bench again with --no-gemm-tune, every GEMM on cuBLAS's default, to show what the
# load-time GEMM tuning gives; profile: per-kernel decode time with Nsight Compute,
# tests/perf/profile_decode.sh); HEARTH_BENCH_MODEL=DIR uses an
# existing model folder instead of writing one; HEARTH_LOAD_RUNS (default 2) sets bench --load
# --runs. Exit status: 0 when every part ran, 1 otherwise.
set -uo pipefail
src=${1:-device-carry/gpu-tests.tar.xz}
parts=${HEARTH_BENCH:-kernels,load,generate,baseline,untuned,profile}
out=${OUT:-/tmp/hearth-bench-out}
mkdir -p "$out"
if [ -f "$src" ]; then
  dir=/tmp/hearth-gpu-tests/gpu-tests
  if [ ! -x "$dir/bin/hearth-cli" ]; then
    rm -rf /tmp/hearth-gpu-tests && mkdir -p /tmp/hearth-gpu-tests
    xz -dc "$src" | tar -C /tmp/hearth-gpu-tests -xf - || { echo "cannot unpack $src"; exit 2; }
  fi
else
  dir=$src
fi
export LD_LIBRARY_PATH="$dir/libs:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export HOME=/tmp/hearth-bench-home XDG_CACHE_HOME=/tmp/hearth-bench-home/.cache XDG_DATA_HOME=/tmp/hearth-bench-home/.local/share
mkdir -p "$HOME"
card=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr ' ' '-' | tr -cd 'A-Za-z0-9-')
stamp="$(date +%Y-%m-%d)-${card:-unknown-card}"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv 2>&1 | tee "$out/device.txt"
failed=0
want() { case ",$parts," in *",$1,"*) return 0 ;; esac; return 1; }
# step FILE LIMIT_S COMMAND...: runs it with a limit, stdout to $out/FILE, stderr added to
# $out/stderr.log (the device tool returns few files), the tails on the terminal.
# HEARTH_DEADLINE (epoch seconds, set by tests/gpu/device_session.sh) cuts each limit to what is
# left, and skips a part that would get under 30 s.
step() {
  local name=$1 limit=$2
  shift 2
  if [ -n "${HEARTH_DEADLINE:-}" ]; then
    local left=$(( HEARTH_DEADLINE - $(date +%s) - 10 ))
    [ "$left" -lt "$limit" ] && limit=$left
    if [ "$limit" -lt 30 ]; then
      echo "==== $name: skipped, ${left} s left before the deadline"
      failed=1
      return 1
    fi
  fi
  local t0
  t0=$(date +%s)
  echo "==== $name: $*"
  echo "==== $name" >> "$out/stderr.log"
  timeout "$limit" "$@" > "$out/$name" 2> >(tee -a "$out/stderr.log" | tail -n 5 >&2)
  local rc=$?
  tail -n 40 "$out/$name"
  echo "==== $name: rc=$rc in $(( $(date +%s) - t0 )) s"
  [ $rc -ne 0 ] && failed=1
  return $rc
}

if want kernels; then
  if [ -x "$dir/bin/gpu_kernel_bench" ]; then
    step kernels.txt 120 "$dir/bin/gpu_kernel_bench"
  else
    echo "no gpu_kernel_bench in $dir/bin: skipped"
  fi
fi

model=${HEARTH_BENCH_MODEL:-/tmp/qwen2.5-7b-random}
if { want load || want generate || want baseline || want untuned || want profile; } && [ ! -f "$model/config.json" ]; then
  step make-model.txt 240 python3 tests/perf/make_random_qwen2.py "$model" tests/fixtures/tokenizers/qwen3 --shape qwen2.5-7b \
    || { echo "no model: stopping"; exit 1; }
fi
# Generation first: with little time left, the engine's speed is the figure most wanted.
if want generate; then
  step "generate-$stamp.json" 420 "$dir/bin/hearth-cli" bench --model "$model" --backend cuda --json --compare-llamacpp-h100
fi
if want load; then
  step "load-$stamp.json" 300 "$dir/bin/hearth-cli" bench --load --model "$model" --drop-caches --runs "${HEARTH_LOAD_RUNS:-2}" --json
fi
if want baseline; then
  step "generate-baseline-$stamp.json" 300 env HEARTH_PDL=0 HEARTH_DECODE_ATTN=simt HEARTH_PREFILL_ATTN=wmma \
    "$dir/bin/hearth-cli" bench --model "$model" --backend cuda --json \
    --prompt-lengths 512,8192 --streams 1,32 --long-contexts 32768
fi
if want untuned; then
  step "generate-untuned-$stamp.json" 300 "$dir/bin/hearth-cli" bench --model "$model" --backend cuda --json --no-gemm-tune \
    --prompt-lengths 128,512,2048 --streams 1,16,32,64 --long-contexts 8192
fi
if want profile; then
  step profile.txt 150 bash tests/perf/profile_decode.sh "$dir/bin/hearth-cli" "$model"
fi
exit $failed
