#!/usr/bin/env bash
# Installs every Debian 12 package that Hearth's build, tests and app need.
# Idempotent: apt-get skips what is already installed. Run as root or with sudo.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang libclang-rt-14-dev
  # Qt 6 Widgets app and Qt Test
  qt6-base-dev qt6-base-dev-tools libgl-dev libqt6opengl6-dev qt6-l10n-tools qt6-tools-dev-tools
  # Qt's own strings (file dialogs, context menus) in Simplified Chinese
  qt6-translations-l10n
  # core libraries
  nlohmann-json3-dev libsentencepiece-dev sentencepiece libcpp-httplib-dev libpcre2-dev
  libutf8proc-dev libsqlite3-dev libcurl4-openssl-dev libcli11-dev libxxhash-dev libssl-dev
  # GUI tests and a font that renders Chinese
  xvfb xauth fonts-noto-cjk
  # black-box server tests and the load test (standard library only)
  python3
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}"

if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  echo "install-deps: CUDA toolkit found; the CUDA backend will be built."
else
  echo "install-deps: no CUDA toolkit found; Hearth builds with the CPU backend only."
  echo "              Install NVIDIA's CUDA toolkit (12.x or 13.x) to build the GPU backend."
fi
