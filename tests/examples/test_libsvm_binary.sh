#!/usr/bin/env bash
# examples/libsvm_binary.cpp as the README of a newcomer would run it: on a generated
# train/test pair of LIBSVM files (it must reach 90% test accuracy), and with no arguments on
# the example file it writes itself. Suite `unit`.
# Usage: test_libsvm_binary.sh ZIPML_LIBSVM_BINARY
set -uo pipefail
example=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../cli/lib.sh"
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

make_libsvm "$tmp/train.libsvm" 1500 21
make_libsvm "$tmp/test.libsvm" 500 22
expect train-test 0 "test accuracy" -- "$example" "$tmp/train.libsvm" "$tmp/test.libsvm"
accuracy=$(awk '/test accuracy/ { print $NF }' "$tmp/out")
check "accuracy-$accuracy" at_least "$accuracy" 0.9
expect own-file 0 "training accuracy" -- env TMPDIR="$tmp" "$example"
check wrote-example [ -f "$tmp/zipml-example.libsvm" ]
finish
