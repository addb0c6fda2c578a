#!/usr/bin/env bash
# zipml-train as a user meets it: --help, a LIBSVM run with a JSON summary, and the errors
# for missing data, a bad option value and a malformed file. Fast; suite `unit`.
set -uo pipefail
train=$1 data=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
expect() { # expect NAME WANT_RC PATTERN -- command...
  local name=$1 want=$2 pattern=$3
  shift 4
  "$@" >"$tmp/out" 2>&1
  local rc=$?
  if [ "$rc" -ne "$want" ] || ! grep -q -- "$pattern" "$tmp/out"; then
    echo "FAIL $name: exit $rc (want $want), output lacks '$pattern':"
    sed 's/^/    /' "$tmp/out"
    failed=$((failed + 1))
  else
    echo "ok   $name"
  fi
}

expect help 0 "--precision" -- "$train" --help
expect help-defaults 0 "cost-neg FLOAT=1.5" -- "$train" --help   # every option shows its default
expect libsvm 0 "summary written" -- "$train" --train "$data/tiny.libsvm" --epochs 2 \
  --precision float32,q4 --scale columns --summary "$tmp/s.json"
expect summary-json 0 '"test_accuracy"\|"train_accuracy"' -- cat "$tmp/s.json"
expect missing-data 1 "apt-get install dataset-fashion-mnist" -- "$train" --data-dir "$tmp/none"
expect bad-precision 1 "unknown precision 'q3'" -- "$train" --train "$data/tiny.libsvm" --precision q3
printf '+1 1:0.5 2:zz\n' >"$tmp/bad.libsvm"
expect bad-libsvm 1 "bad.libsvm:1" -- "$train" --train "$tmp/bad.libsvm"
expect bad-order 105 "sideways not in" -- "$train" --order sideways

echo "$((8 - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
