#!/usr/bin/env bash
# zipml-train --plot draws the precision-convergence trade-off with gnuplot: an SVG and a PNG
# for a classifier (loss and test accuracy) and an SVG for a regression (loss and RMSE), each
# a real picture of the right kind, and a precision schedule's points labelled with their bits; no temporary files are left behind. Skipped (exit 77)
# when gnuplot is not installed. Suite `unit`.
# Usage: test_plot.sh ZIPML_TRAIN
set -uo pipefail
train=$1
if ! command -v gnuplot >/dev/null 2>&1; then
  echo "skip: gnuplot is not installed (sudo apt-get install gnuplot-nox)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"
mkdir "$tmp/tmpdir"
export TMPDIR=$tmp/tmpdir

make_libsvm "$tmp/train.libsvm" 1500 1
make_libsvm "$tmp/test.libsvm" 500 2
args=(--train "$tmp/train.libsvm" --test "$tmp/test.libsvm" --scale columns --step 0.01 --epochs 6
      --precision float32,q4,q2,q1)
expect svg 0 "plot written to .*p.svg" -- "$train" "${args[@]}" --plot "$tmp/p.svg"
check svg-is-svg grep -q '<svg' "$tmp/p.svg"
check svg-complete grep -q '</svg>' "$tmp/p.svg"
check svg-panels grep -q 'training loss' "$tmp/p.svg"
check svg-metric grep -q 'test accuracy' "$tmp/p.svg"
check svg-legend grep -q '>q2<' "$tmp/p.svg"
expect png 0 "summary" -- "$train" "${args[@]}" --plot "$tmp/p.PNG" --quiet
check png-signature [ "$(head -c 8 "$tmp/p.PNG" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]
check png-size [ "$(stat -c %s "$tmp/p.PNG")" -gt 10000 ]

make_libsvm "$tmp/reg.libsvm" 1000 3 regression
expect regression-svg 0 "plot written" -- "$train" --train "$tmp/reg.libsvm" --model least-squares \
  --scale columns --scale-labels 0..1 --step 0.01 --epochs 4 --precision float32,q8 --plot "$tmp/r.svg"
check regression-metric grep -q 'training rmse' "$tmp/r.svg"

# a precision schedule: each point labelled with its bits
expect schedule-svg 0 "plot written" -- "$train" --train "$tmp/train.libsvm" --test "$tmp/test.libsvm" --scale columns \
  --step 0.01 --epochs 5 --rounding stochastic --precision-schedule 1,2,4,8 --plot "$tmp/s.svg"
check schedule-labels grep -q '>2 bit<' "$tmp/s.svg"
check schedule-labels-8 grep -q '>8 bit<' "$tmp/s.svg"

check no-temporaries [ -z "$(ls -A "$tmp/tmpdir")" ] && [ -z "$(find "$tmp" -name '*.tmp-*')" ]
finish
