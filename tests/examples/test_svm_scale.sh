#!/usr/bin/env bash
# LIBSVM files scaled by LIBSVM's own svm-scale (Debian: libsvm-tools) train in zipml-train as
# they are: raw features in [0, 1000] scaled with svm-scale -l -1 -u 1 (and -l 0 -u 1), the
# test set with the training set's ranges (svm-scale -r), then zipml-train --scale none with
# the matching --range. Skipped (exit 77) without svm-scale. Suite `unit`.
# Usage: test_svm_scale.sh ZIPML_TRAIN
set -uo pipefail
train=$1
if ! command -v svm-scale >/dev/null 2>&1; then
  echo "skip: svm-scale is not installed (sudo apt-get install libsvm-tools)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../cli/lib.sh"

# Raw data: features scaled up to [0, 1000], feature 5 constant (svm-scale drops it).
make_libsvm "$tmp/a" 2000 11
make_libsvm "$tmp/b" 600 12
for f in train:a test:b; do
  awk '{ printf "%s", $1; for (i = 2; i <= NF; i++) { split($i, kv, ":"); printf " %s:%g", kv[1], kv[2] * 100 }
         print " 5:7" }' "$tmp/${f#*:}" >"$tmp/${f%%:*}.raw"
done

# accuracy PRECISION: the test accuracy in the summary table of $tmp/out.
accuracy() { awk -v p="$1" '$1 == p && NF == 7 { print $2 }' "$tmp/out"; }
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

for range in "-1 1 -1..1" "0 1 0..1"; do
  set -- $range
  lower=$1 upper=$2 zipml_range=$3
  svm-scale -l "$lower" -u "$upper" -s "$tmp/ranges" "$tmp/train.raw" >"$tmp/train.scaled" 2>/dev/null
  svm-scale -r "$tmp/ranges" "$tmp/test.raw" >"$tmp/test.scaled" 2>/dev/null
  check "svm-scale-$zipml_range" [ -s "$tmp/train.scaled" ] && [ -s "$tmp/test.scaled" ]
  expect "train-$zipml_range" 0 "summary" -- "$train" --train "$tmp/train.scaled" --test "$tmp/test.scaled" \
    --scale none --range="$zipml_range" --step 0.01 --epochs 8 --order shuffle --precision float32,q8,q4 --quiet
  for p in float32 q8 q4; do
    check "accuracy-$zipml_range-$p $(accuracy $p)" at_least "$(accuracy $p)" 0.9
  done
  # With no options, --scale auto sees svm-scale's range and leaves the data as they are.
  [ "$zipml_range" = "0..1" ] && in="\[0, 1\]" || in="\[-1, 1\]"
  expect "auto-$zipml_range" 0 "^scaling none (features already in $in: none, range $zipml_range)" -- \
    "$train" --train "$tmp/train.scaled" --test "$tmp/test.scaled" --precision float32,q8,q4
  for p in float32 q8 q4; do
    check "auto-accuracy-$zipml_range-$p $(accuracy $p)" at_least "$(accuracy $p)" 0.9
  done
done

finish
