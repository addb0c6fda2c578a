#!/usr/bin/env bash
# The README's first command: install the packages, build zipml, train the main job
# (a 10-class L2-SVM on Fashion-MNIST at float32, q8, q4, q2 and q1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if [ ! -f build/build.ninja ]; then
  meson setup build
fi
meson compile -C build
./build/examples/zipml-train "$@"
