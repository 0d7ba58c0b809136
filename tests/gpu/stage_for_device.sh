#!/usr/bin/env bash
# Packs the GPU test executables (tst_gpu_*, tst_cuda_*) of a CUDA build folder, with hearth-cli
# and gpu_kernel_bench when built (for tests/perf/device_bench.sh), the shared
# libraries they need that the GPU machine lacks (Qt, ICU, ...; see bundle-libs.sh) and
# run_on_device.sh into one compressed tarball, small enough to travel with the working tree (the
# tree and what is carried share a 64 MiB limit; ICU's data alone is 30 MB uncompressed).
# Usage: tests/gpu/stage_for_device.sh [BUILD_DIR] [TARBALL]
#   defaults: build/kern and device-carry/gpu-tests.tar.xz (device-carry/ is git-ignored).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build/kern}
tarball=${2:-$root/device-carry/gpu-tests.tar.xz}
shopt -s nullglob
tests=("$build"/bin/tst_gpu_* "$build"/bin/tst_cuda_*)
if [ ${#tests[@]} -eq 0 ]; then
  echo "no tst_gpu_*/tst_cuda_* executables in $build/bin: configure with -DHEARTH_CUDA=ON and build them first" >&2
  exit 1
fi
tools=()
for t in hearth-cli gpu_kernel_bench; do
  [ -x "$build/bin/$t" ] && tools+=("$build/bin/$t")
done
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/gpu-tests/bin"
cp "${tests[@]}" ${tools[@]+"${tools[@]}"} "$stage/gpu-tests/bin/"
cp "$here/run_on_device.sh" "$stage/gpu-tests/"
bash "$here/bundle-libs.sh" "$stage/gpu-tests/libs" "${tests[@]}" ${tools[@]+"${tools[@]}"}
# Symbols are not needed there and the tree plus what is carried must stay under 64 MiB.
strip --strip-unneeded "$stage"/gpu-tests/bin/* "$stage"/gpu-tests/libs/*.so* 2>/dev/null || true
mkdir -p "$(dirname "$tarball")"
tar -C "$stage" -cf - gpu-tests | xz -T2 -6 > "$tarball"
ls -la "$tarball"
