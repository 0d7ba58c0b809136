#!/usr/bin/env bash
# Copied unchanged (apart from this line) from the project's shared device tools (../shared/device/bundle-libs.sh), because ../shared does not travel to the GPU machine.
# Copy the shared libraries that BINARY needs, other than glibc, libstdc++ and CUDA's own, into DIR,
# so a binary built on the development machine runs on the GPU machine (which has CUDA 13 but not
# Debian's -dev libraries). Usage: bundle-libs.sh DIR BINARY...
# Then carry DIR with the binary and run there with: LD_LIBRARY_PATH=DIR:/usr/local/cuda/lib64 ./BINARY
set -euo pipefail
dir=$1; shift
mkdir -p "$dir"
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|libstdc\+\+|libgcc_s|libcuda\.so|libcublas|libcublasLt|libcudart|libnvidia)'
for bin in "$@"; do
  ldd "$bin" | awk '$3 ~ /^\// {print $1, $3}' | while read -r name path; do
    [[ $name =~ $skip ]] && continue
    cp -Lu "$path" "$dir/$name"
  done
done
du -sh "$dir"
