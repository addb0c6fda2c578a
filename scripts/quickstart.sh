#!/usr/bin/env bash
# The README's first command: install the packages, build zipml-train, train the main job
# (a 10-class L2-SVM on Fashion-MNIST at float32, q8, q4, q2 and q1).
#
# Only zipml-train and what it links (its backends' translation units and the Verilated
# engines of --backend verilator) are built here, so the first result comes sooner; the
# README's test command (`meson test -C build`) builds the tests when it runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if [ ! -f build/build.ninja ]; then
  meson setup build
fi
meson compile -C build zipml-train
./build/examples/zipml-train "$@"
