#!/usr/bin/env bash
# The README's main job, as a newcomer runs it (no options), checked against the issue's
# accuracy targets through its JSON summary.
set -euo pipefail
train=$1 check=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$train" --summary "$out/summary.json"
"$check" "$out/summary.json" float32=0.82 q8=0.82 q4=0.81 q2=0.79 q1=0.75
