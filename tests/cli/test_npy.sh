#!/usr/bin/env bash
# zipml-train --export-npy: the K x d weights as a NumPy file. Read back with xtensor's
# xt::load_npy (check_npy) they equal the saved model bit for bit; with python3-numpy
# installed, numpy.load gives the same float32 values, shape and row order, and the bias in
# column 0 (numpy's predictions on the column-scaled training set match zipml's accuracy). Suite `unit`.
# Usage: test_npy.sh ZIPML_TRAIN CHECK_NPY
set -uo pipefail
train=$1 check_npy=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"

make_libsvm "$tmp/m.libsvm" 600 3 multi
expect export 0 "weights (3 x 5) written to .*w.q8.npy" -- "$train" --train "$tmp/m.libsvm" --scale columns \
  --step 0.01 --epochs 3 --precision float32,q8 --export-npy "$tmp/w.npy" --save "$tmp/m.zml" \
  --summary "$tmp/s.json"
for p in float32 q8; do
  expect "load-npy-$p" 0 "3 x 5 float32 weights, equal to" -- "$check_npy" "$tmp/w.$p.npy" "$tmp/m.$p.zml"
  "$check_npy" "$tmp/w.$p.npy" "$tmp/m.$p.zml" >"$tmp/w.$p.hex" 2>/dev/null
done

python=
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import numpy' 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  echo "skip numpy: no python3 with numpy (sudo apt-get install python3-numpy)"
else
  for p in float32 q8; do
    expect "numpy-$p" 0 "numpy ok" -- "$python" - "$tmp/w.$p.npy" "$tmp/w.$p.hex" "$tmp/m.libsvm" "$tmp/s.json" "$p" <<'PY'
import json, sys
import numpy as np
npy, hexfile, data, summary, precision = sys.argv[1:]
w = np.load(npy)
assert w.dtype == np.float32, w.dtype
assert w.shape == (3, 5) and w.flags['C_CONTIGUOUS'], w.shape
want = np.array([float.fromhex(line) for line in open(hexfile)], dtype=np.float32).reshape(3, 5)
assert np.array_equal(w, want), "numpy and xtensor read different weights"
# The bias is column 0: add a column of ones to the features and take the best lane.
rows = [line.split() for line in open(data)]
y = np.array([float(r[0]) for r in rows])
x = np.zeros((len(rows), 5), dtype=np.float32)
x[:, 0] = 1.0
for i, r in enumerate(rows):
    for item in r[1:]:
        j, v = item.split(':')
        x[i, int(j)] = float(v)
lo, hi = x[:, 1:].min(axis=0), x[:, 1:].max(axis=0)  # --scale columns: min-max per feature
x[:, 1:] = (x[:, 1:] - lo) / (hi - lo)
accuracy = float(np.mean(np.argmax(x @ w.T, axis=1) == y))  # lanes are classes 0, 1, 2
run = [r for r in json.load(open(summary))['runs'] if r['precision'] == precision][0]
assert abs(accuracy - run['train_accuracy']) <= 2 / len(rows), (accuracy, run['train_accuracy'])
print("numpy ok:", precision, w.shape, "accuracy", accuracy)
PY
  done
fi

finish
