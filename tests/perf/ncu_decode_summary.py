#!/usr/bin/env python3
"""Per-kernel GPU time of Hearth's decode steps from an Nsight Compute CSV (profile_decode.sh).

Reads `ncu --csv --metrics gpu__time_duration.sum` output (one row per kernel launch, in launch
order), splits the launches into forward steps at each embedding gather (the first kernel of every
step), keeps the steps with a single-row shape (decode: no prefill GEMMs, i.e. no cuBLAS kernel),
and prints, averaged over the last `--steps` of them, each kernel's (name and grid) count and microseconds per step
and the step's total. The wall time per token from the bench, minus this total, is host overhead
and the gaps between kernels (ncu serialises launches, so gaps are not in its figures).

Usage: ncu_decode_summary.py NCU.csv [--steps N]"""
import argparse
import collections
import csv
import re
import sys


def short(name):
    """A kernel's name without template arguments and parameters, e.g. 'decodeKernel'."""
    plain = name.replace("(anonymous namespace)", "anon")
    m = re.search(r"::(\w+)\s*[<(]", plain) or re.search(r"^(?:void\s+)?(\w+)", plain)
    return m.group(1) if m else name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--steps", type=int, default=3)
    a = ap.parse_args()
    rows = []
    with open(a.csv, newline="") as f:
        lines = [l for l in f if l.startswith('"')]  # ncu prints its own notes before the table
    for r in csv.DictReader(lines):
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        value = float(r["Metric Value"].replace(",", ""))
        unit = r.get("Metric Unit", "ns")
        us = value / 1e3 if unit in ("ns", "nsecond") else value * 1e3 if unit in ("ms", "msecond") else value
        rows.append((r["Kernel Name"], us, r.get("Grid Size", "")))
    if not rows:
        sys.exit("no gpu__time_duration rows in " + a.csv)
    steps, cur = [], []
    for name, us, grid in rows:
        if short(name) == "embeddingKernel" and cur:
            steps.append(cur)
            cur = []
        cur.append((name, us, grid))
    steps.append(cur)
    decode = [s for s in steps if s and short(s[0][0]) == "embeddingKernel"
              and not any(re.search(r"gemm|cutlass|sm90|xmma|Kernel_.*tensorop", n, re.I) for n, _, _ in s)]
    print(f"{len(rows)} kernel launches, {len(steps)} steps, {len(decode)} decode steps")
    if not decode:
        sys.exit(1)
    last = decode[-a.steps:]
    per = collections.OrderedDict()
    for s in last:
        for name, us, grid in s:
            k = short(name) + " " + grid.replace(" ", "")  # the grid tells the projections apart
            c, t = per.get(k, (0, 0.0))
            per[k] = (c + 1, t + us)
    total = sum(t for _, t in per.values()) / len(last)
    print(f"average over the last {len(last)} decode steps: {total:.1f} us of kernel time per step "
          f"({sum(c for c, _ in per.values()) / len(last):.0f} kernels)")
    for k, (c, t) in sorted(per.items(), key=lambda kv: -kv[1][1]):
        print(f"  {k:<44} {c / len(last):6.0f} per step {t / len(last):9.1f} us  {100 * t / len(last) / total:5.1f}%")


if __name__ == "__main__":
    main()
