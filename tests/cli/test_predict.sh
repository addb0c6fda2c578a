#!/usr/bin/env bash
# zipml-train --save and zipml-predict: a saved model predicts what it scored in training
# (accuracy and RMSE, with the saved feature and label scaling applied), one file per
# precision, predictions as CSV; the errors for a missing, corrupt or mismatched model and for
# a --predictions file over the data. With Fashion-MNIST installed, an IDX round trip as well.
# Suite `unit`.
# Usage: test_predict.sh ZIPML_TRAIN ZIPML_PREDICT FASHION_MNIST_DIR
set -uo pipefail
train=$1 predict=$2 fmnist=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"

# The metric of PRECISION in zipml-train's summary table (4 decimals) in FILE.
table_metric() { awk -v p="$2" '$1 == p && NF == 7 { print $2 }' "$1"; }
# The metric zipml-predict printed ("accuracy 0.9420" / "rmse 0.01 (... 0.0123 in the scaled ...")).
predicted() { awk '$1 == "accuracy" { printf "%.4f\n", $2 } $1 == "rmse" { printf "%.4f\n", $(NF - 6) }' "$tmp/out"; }

# Classification, columns scaled: one model per precision.
make_libsvm "$tmp/train.libsvm" 1200 1 multi
make_libsvm "$tmp/test.libsvm" 400 2 multi
expect train-save 0 "summary" -- "$train" --train "$tmp/train.libsvm" --test "$tmp/test.libsvm" --scale columns \
  --step 0.01 --epochs 4 --precision float32,q4 --rounding stochastic --save "$tmp/m.zml" --quiet
cp "$tmp/out" "$tmp/train.out"
for p in float32 q4; do
  want=$(table_metric "$tmp/train.out" "$p")
  expect "predict-$p" 0 "^accuracy $want$" -- "$predict" "$tmp/m.$p.zml" "$tmp/test.libsvm"
done
check predict-describes grep -q "l2svm (3 classes, one-vs-rest), q4 rounding stochastic, .*columns scaled to \[0, 1\]" "$tmp/out"
expect predictions-csv 0 "predictions written" -- "$predict" "$tmp/m.q4.zml" "$tmp/test.libsvm" \
  --predictions "$tmp/p.csv"
check csv-header [ "$(head -1 "$tmp/p.csv")" = "row,label,prediction" ]
check csv-rows [ "$(($(wc -l <"$tmp/p.csv") - 1))" -eq 400 ]
check csv-accuracy [ "$(awk -F, 'NR > 1 { n++; hit += ($2 == $3) } END { printf "%.4f", hit / n }' "$tmp/p.csv")" = \
  "$(table_metric "$tmp/train.out" q4)" ]
expect quiet 0 "^accuracy" -- "$predict" "$tmp/m.q4.zml" "$tmp/test.libsvm" --quiet
check quiet-one-line [ "$(wc -l <"$tmp/out")" -eq 1 ]

# Regression with scaled labels: zipml-predict reports both units; the scaled one is zipml-train's.
make_libsvm "$tmp/rtrain.libsvm" 1000 3 regression
make_libsvm "$tmp/rtest.libsvm" 300 4 regression
expect train-regression 0 "summary" -- "$train" --train "$tmp/rtrain.libsvm" --test "$tmp/rtest.libsvm" \
  --model least-squares --scale columns --scale-labels 0..1 --step 0.01 --epochs 5 --precision q8 \
  --save "$tmp/r.zml" --quiet
want=$(table_metric "$tmp/out" q8)
expect predict-regression 0 "in the labels' units" -- "$predict" "$tmp/r.zml" "$tmp/rtest.libsvm"
check regression-rmse [ "$(predicted)" = "$want" ]

# Errors.
refuse missing-model "nothing.zml" -- "$predict" "$tmp/nothing.zml" "$tmp/test.libsvm"
head -c 100 "$tmp/m.q4.zml" >"$tmp/cut.zml"
refuse truncated-model "cut.zml" -- "$predict" "$tmp/cut.zml" "$tmp/test.libsvm"
printf '1 1:0.5 2:0.5 3:0.5 4:0.5 5:0.5 6:0.5\n' >"$tmp/wide.libsvm"
refuse too-many-features "wide.libsvm:1" -- "$predict" "$tmp/m.q4.zml" "$tmp/wide.libsvm"
refuse predictions-over-data "would overwrite the input data file" -- \
  "$predict" "$tmp/m.q4.zml" "$tmp/test.libsvm" --predictions "$tmp/test.libsvm"
printf '\0\0\10\3\0\0\0\1\0\0\0\2\0\0\0\2\1\2\3\4' >"$tmp/images-idx3-ubyte" # IDX: 1 image of 2 x 2
refuse idx-needs-labels "need --labels FILE" -- "$predict" "$tmp/m.q4.zml" "$tmp/images-idx3-ubyte"

# Fashion-MNIST (IDX) when installed: zipml-predict's default data is its test set.
if [ -f "$fmnist/t10k-images-idx3-ubyte.gz" ]; then
  expect fmnist-train 0 "summary" -- "$train" --data-dir "$fmnist" --train-limit 3000 --test-limit 10000 \
    --epochs 2 --precision q4 --save "$tmp/fm.zml" --quiet
  want=$(table_metric "$tmp/out" q4)
  expect fmnist-predict 0 "^accuracy $want$" -- "$predict" "$tmp/fm.zml" --data-dir "$fmnist"
else
  echo "skip fashion-mnist: not installed in $fmnist"
fi

finish
