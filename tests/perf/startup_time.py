#!/usr/bin/env python3
"""Desktop app start-up time: process start to the window's first paint.

Runs the built `hearth` N times with HEARTH_STARTUP_PROBE=1 (the app prints
`startup_ms=... main_to_shown_ms=... exec_to_main_ms=...` on its first paint and quits), under
`xvfb-run -a` (a real X server) and with QT_QPA_PLATFORM=offscreen, and prints the median and p90.
Each mode gets its own fresh profile (HOME and XDG_* in a temporary folder): the first run creates
the settings and the conversation database, the later runs find them, as a user's launches do.
No model is preloaded (a fresh profile has no last used model), so this is the window alone.

    python3 tests/perf/startup_time.py --hearth build/<dir>/bin/hearth -n 20

Standard library only.
"""
import argparse
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

LINE = re.compile(r"startup_ms=([\d.]+) main_to_shown_ms=([\d.]+) exec_to_main_ms=([-\d.]+)")


def run_once(command, env, timeout_s):
    """One launch; returns (startup_ms, main_to_shown_ms, exec_to_main_ms) or raises RuntimeError."""
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s)
    match = LINE.search(done.stderr)
    if not match:
        raise RuntimeError(f"no startup line (exit {done.returncode}); stderr:\n{done.stderr[-2000:]}")
    return tuple(float(x) for x in match.groups())


def p90(values):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def measure(mode, hearth, runs, warmup, timeout_s):
    profile = tempfile.mkdtemp(prefix=f"hearth-startup-{mode}-")
    try:
        env = dict(os.environ)
        env.update({
            "HEARTH_STARTUP_PROBE": "1",
            "HOME": profile,
            "XDG_CONFIG_HOME": os.path.join(profile, ".config"),
            "XDG_DATA_HOME": os.path.join(profile, ".local", "share"),
            "XDG_CACHE_HOME": os.path.join(profile, ".cache"),
        })
        if mode == "offscreen":
            env["QT_QPA_PLATFORM"] = "offscreen"
            command = [hearth]
        else:
            env.pop("QT_QPA_PLATFORM", None)
            command = ["xvfb-run", "-a", "-s", "-screen 0 1920x1080x24", hearth]
        samples = []
        for i in range(warmup + runs):
            result = run_once(command, env, timeout_s)
            if i >= warmup:
                samples.append(result)
        return samples
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hearth", required=True, help="the built hearth executable")
    parser.add_argument("-n", "--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2, help="launches not counted (page cache, profile)")
    parser.add_argument("--mode", choices=["xvfb", "offscreen", "both"], default="both")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per launch")
    args = parser.parse_args()

    hearth = os.path.abspath(args.hearth)
    if not os.access(hearth, os.X_OK):
        sys.exit(f"startup_time: {hearth} is not an executable")
    modes = ["xvfb", "offscreen"] if args.mode == "both" else [args.mode]
    if "xvfb" in modes and shutil.which("xvfb-run") is None:
        sys.exit("startup_time: xvfb-run not found (Debian: xvfb xauth; packaging/install-deps.sh installs them)")

    load_before = os.getloadavg()
    print(f"hearth: {hearth}")
    print(f"cpus: {os.cpu_count()}, load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}")
    for mode in modes:
        try:
            samples = measure(mode, hearth, args.runs, args.warmup, args.timeout)
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            sys.exit(f"startup_time: {mode}: {error}")
        columns = list(zip(*samples))
        print(f"{mode}: {len(samples)} launches (+{args.warmup} warm-up)")
        for name, values in zip(("startup_ms", "main_to_shown_ms", "exec_to_main_ms"), columns):
            print(f"  {name:17s} median {statistics.median(values):7.1f}  p90 {p90(values):7.1f}"
                  f"  min {min(values):7.1f}  max {max(values):7.1f}")
    load_after = os.getloadavg()
    print(f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")


if __name__ == "__main__":
    main()
