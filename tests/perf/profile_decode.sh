#!/usr/bin/env bash
# Per-kernel GPU time of one greedy generation on the GPU machine with Nsight Compute (one metric,
# gpu__time_duration, so every kernel runs once, without replays), then a per-step summary
# (ncu_decode_summary.py). Run after tests/perf/device_bench.sh has written the model.
# Usage: profile_decode.sh HEARTH_CLI MODEL_DIR   (writes $OUT/ncu-decode.csv and prints the summary)
set -uo pipefail
cli=$1
model=$2
out=${OUT:-/tmp/hearth-profile}
mkdir -p "$out"
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
[ -n "$ncu" ] || { echo "no ncu on this machine"; exit 2; }
# 100 prompt tokens: one prefill step, then 6 decode steps. The load's warm-up (a 128-token prefill
# and a decode step) and the request's prefill take ~1000 launches at the 7B shape; the first 700
# are skipped and 1600 profiled, which keeps ncu's per-kernel cost within a minute or two.
ids=$(python3 -c "print(','.join(str(17 + 31 * i % 150000) for i in range(100)))")
"$ncu" --clock-control none --metrics gpu__time_duration.sum --csv --print-units base --launch-skip 700 --launch-count 1600 \
  --log-file "$out/ncu-decode.csv" \
  "$cli" run "$model" --backend cuda --prompt-ids "$ids" --greedy -n 7 > "$out/profile-run.txt" 2>&1
rc=$?
echo "ncu rc=$rc"
tail -n 3 "$out/profile-run.txt"
python3 "$(dirname "$0")/ncu_decode_summary.py" "$out/ncu-decode.csv" --steps 4
