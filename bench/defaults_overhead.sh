#!/usr/bin/env bash
# What the data-driven defaults cost the main job: zipml-train with its auto defaults against
# the same run with the original's settings given explicitly (--step 2^-12 --scale rows
# --order file --epochs 10), alternately, PAIRS times each; prints each run's whole-process
# wall time, the median ratio auto/explicit, and both runs' test accuracy (they must agree).
# (Measured 2026-12-06 on the development machine, q4: medians 0.98 to 1.04 over three runs of
# 6 to 10 pairs, the machine's noise; timed inside the process, the rules take 16 ms of the
# 1.6 s (the rows' norms 15 ms, the order 1.5 ms), and both runs reach 0.8365.)
# Usage: bench/defaults_overhead.sh ZIPML_TRAIN [PAIRS=7] [PRECISION=q4]
set -euo pipefail
train=$1 pairs=${2:-7} precision=${3:-q4}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common=(--precision "$precision" --threads 1 --quiet)
explicit=(--step 0.000244140625 --scale rows --order file --epochs 10)
now() { date +%s.%N; }
# One timed run of zipml-train with the extra options "$@"; prints its wall seconds.
timed() {
  local out=$1 t0 t1
  shift
  t0=$(now)
  "$train" "${common[@]}" "$@" --summary "$out" >/dev/null
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
ratios=()
for ((i = 1; i <= pairs; i++)); do
  # Alternate which runs first, so that a warm cache or a drifting clock favours neither.
  if ((i % 2)); then
    a=$(timed "$tmp/a.json") b=$(timed "$tmp/b.json" "${explicit[@]}")
  else
    b=$(timed "$tmp/b.json" "${explicit[@]}") a=$(timed "$tmp/a.json")
  fi
  ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { print a / b }')")
  echo "pair $i: auto $a s, explicit $b s"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{ r[NR] = $1 } END { print (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }')
# The run's test accuracy: the last "test_accuracy" of the file (the keys are sorted, so the
# run's own comes after its history's).
acc() { grep -o '"test_accuracy": [0-9.]*' "$1" | tail -1 | cut -d' ' -f2; }
printf 'median whole-process ratio auto/explicit: %.3f over %d pairs\n' "$median" "$pairs"
echo "test accuracy: auto $(acc "$tmp/a.json"), explicit $(acc "$tmp/b.json")"
