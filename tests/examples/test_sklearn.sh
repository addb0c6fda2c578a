#!/usr/bin/env bash
# Runs sklearn_interop.py with a python3 that has scikit-learn; skipped (exit 77) when there is
# none (sudo apt-get install python3-sklearn). Suite `unit`.
# Usage: test_sklearn.sh ZIPML_TRAIN SKLEARN_INTEROP.py
set -uo pipefail
train=$1 script=$2
for python in python3 /usr/bin/python3; do
  if command -v "$python" >/dev/null 2>&1 && "$python" -c 'import sklearn, numpy' 2>/dev/null; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    "$python" "$script" "$train" "$tmp"
    exit $?
  fi
done
echo "skip: no python3 with scikit-learn (sudo apt-get install python3-sklearn)"
exit 77
