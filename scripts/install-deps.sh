#!/usr/bin/env bash
# Installs every Debian 12 package zipml needs to build, test and run its main job.
# Run as root, or as a user with sudo.
set -euo pipefail

packages=(
  # build
  build-essential meson ninja-build pkg-config cmake git
  # the header-only library's dependencies
  libboost-dev xtensor-dev libxsimd-dev xtl-dev zlib1g-dev
  # tests and programs
  doctest-dev libcli11-dev libfmt-dev nlohmann-json3-dev
  # fuzzing (scripts/fuzz.sh): clang++ with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
  # the RTL engine: simulation and synthesis
  verilator yosys
  # PYNQ board programs (cross/, scripts/cross-test.sh): cross compilers, qemu to run their
  # tests, and the board architectures' zlib and fmt (the armhf and arm64 architectures below)
  g++-arm-linux-gnueabihf g++-aarch64-linux-gnu qemu-user-static
  zlib1g-dev:armhf libfmt-dev:armhf zlib1g-dev:arm64 libfmt-dev:arm64
  # the main job's data: Fashion-MNIST in /usr/share/datasets/fashion-mnist
  dataset-fashion-mnist
  # plots (optional at run time, used by --plot and its test)
  gnuplot-nox
  # interop tests: LIBSVM's svm-scale, numpy and scikit-learn (zero-based svmlight files)
  libsvm-tools python3-numpy python3-sklearn
)

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps.sh: run as root, or install sudo" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" dpkg --add-architecture armhf
"${sudo[@]}" dpkg --add-architecture arm64
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y "${packages[@]}"
