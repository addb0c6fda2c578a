#!/usr/bin/env bash
# Runs defaults.py (zipml-train's defaults against liblinear and ridge regression on small sets)
# with a python3 that has scikit-learn; skipped (exit 77) when there is none or liblinear-tools
# is missing. Suite `defaults`.
# Usage: test_defaults.sh ZIPML_TRAIN DEFAULTS.py
set -uo pipefail
train=$1 script=$2
for python in python3 /usr/bin/python3; do
  if command -v "$python" >/dev/null 2>&1 && "$python" -c 'import sklearn, numpy' 2>/dev/null; then
    exec "$python" "$script" "$train"
  fi
done
echo "skip: no python3 with scikit-learn (sudo apt-get install python3-sklearn)"
exit 77
