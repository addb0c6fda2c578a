#!/usr/bin/env bash
# zipml-train as a user meets it: --help and --version, a LIBSVM run with a JSON summary and a
# CSV history, the Verilator backend against the CPU engine arithmetic (or its absence), the output files it refuses to write (an
# input data file, two options naming one file, a missing folder), --plot without gnuplot, and
# the errors for missing data, a bad option value and a malformed file; the progress bar only
# on a terminal. Fast; suite `unit`.
# Usage: test_cli.sh ZIPML_TRAIN DATA_DIR with-verilator|without-verilator
set -uo pipefail
train=$1 data=$2 verilator=${3:-without-verilator}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"

expect help 0 "--precision" -- "$train" --help
expect help-defaults 0 "cost-neg FLOAT=1.5" -- "$train" --help   # every option shows its default
expect help-outputs 0 "--export-npy FILE" -- "$train" --help
expect version 0 "^zipml-train [0-9]" -- "$train" --version
expect libsvm 0 "summary written" -- "$train" --train "$data/tiny.libsvm" --epochs 2 \
  --precision float32,q4 --scale columns --summary "$tmp/s.json" --history "$tmp/h.csv"
expect summary-json 0 '"test_accuracy"\|"train_accuracy"' -- cat "$tmp/s.json"
check history-header [ "$(head -1 "$tmp/h.csv")" = "precision,epoch,train_loss,train_accuracy,test_accuracy,seconds,bits" ]
check history-rows [ "$(grep -c '^float32,[12],\|^q4,[12],' "$tmp/h.csv")" -eq 4 ]
check history-fields [ "$(awk -F, 'NR > 1 && NF != 7' "$tmp/h.csv" | wc -l)" -eq 0 ]
check no-temporaries [ -z "$(find "$tmp" -name '*.tmp-*')" ]
# --eval: the pass loss by default (the column says so), a separate pass with --eval full;
# the model is the same either way
expect eval-pass-header 0 "pass loss" -- "$train" --train "$data/tiny.libsvm" --epochs 2 --precision q4 --scale columns \
  --save "$tmp/pass.zml"
expect eval-full-header 0 "train loss" -- "$train" --train "$data/tiny.libsvm" --epochs 2 --precision q4 --scale columns \
  --eval full --save "$tmp/full.zml"
check eval-same-model cmp "$tmp/pass.zml" "$tmp/full.zml"
check eval-history-every-epoch [ "$(awk -F, 'NR > 1 && $4 == ""' "$tmp/h.csv" | wc -l)" -eq 0 ] # no test set: full
# IDX images are packed straight from their bytes (no float matrix): the same model as the
# matrix that --eval full needs, at every precision
idx_images "$tmp/img" 200 6 5
idx_labels "$tmp/lab" 200
idx_images "$tmp/timg" 40 6 5
idx_labels "$tmp/tlab" 40
for p in float32 q8 q2; do
  expect "idx-bytes-$p" 0 "^summary:" -- "$train" --train "$tmp/img" --train-labels "$tmp/lab" --test "$tmp/timg" \
    --test-labels "$tmp/tlab" --epochs 3 --precision $p -q --save "$tmp/bytes.zml"
  expect "idx-matrix-$p" 0 "^summary:" -- "$train" --train "$tmp/img" --train-labels "$tmp/lab" --test "$tmp/timg" \
    --test-labels "$tmp/tlab" --epochs 3 --precision $p -q --save "$tmp/matrix.zml" --eval full
  check "idx-bytes-same-model-$p" cmp "$tmp/bytes.zml" "$tmp/matrix.zml"
done
# Packed stream files: --save-stream writes the words the engine receives, --train FILE.zps
# trains from them (mapped: no parse, no pack) to the same model bit for bit
zps_case() { # NAME BACKEND-AND-OPTIONS... (after --)
  local name=$1
  shift
  expect "zps-save-$name" 0 "packed stream written to" -- "$train" --train "$tmp/img" --train-labels "$tmp/lab" \
    --test "$tmp/timg" --test-labels "$tmp/tlab" --epochs 3 --save "$tmp/from-data.zml" --save-stream "$tmp/s.zps" "$@"
  local rest=()
  for a in "$@"; do # the options the file fixes are left out of the second run
    case $a in --precision | --rounding | --double-sampling | q* | float32 | stochastic) ;; *) rest+=("$a") ;; esac
  done
  expect "zps-train-$name" 0 "^summary:" -- "$train" --train "$tmp/s.zps" --test "$tmp/timg" --test-labels "$tmp/tlab" \
    --epochs 3 -q --save "$tmp/from-zps.zml" "${rest[@]}"
  check "zps-same-model-$name" cmp "$tmp/from-data.zml" "$tmp/from-zps.zml"
}
for p in float32 q8 q4 q2 q1; do zps_case "$p" --precision "$p"; done
zps_case q4-stochastic --precision q4 --rounding stochastic --double-sampling
zps_case q8-engine --precision q8 --arithmetic engine
zps_case float32-engine --precision float32 --arithmetic engine
if [ "$verilator" = with-verilator ]; then
  zps_case q4-verilator --precision q4 --backend verilator
  zps_case q2-board-sim --precision q2 --backend pynq --board sim
fi
expect zps-data-line 0 "^data: $tmp/s.zps (packed stream of $tmp/img)" -- "$train" --train "$tmp/s.zps" --epochs 1
refuse zps-fixed-precision "^zipml-train: error: --precision: $tmp/s.zps is a packed stream file" -- \
  "$train" --train "$tmp/s.zps" --precision q8
head -c 5000 "$tmp/s.zps" >"$tmp/cut.zps"
refuse zps-truncated "^zipml-train: error: .*cut.zps" -- "$train" --train "$tmp/cut.zps"
refuse zps-save-again "^zipml-train: error: --save-stream: $tmp/s.zps is a packed stream file already" -- \
  "$train" --train "$tmp/s.zps" --save-stream "$tmp/t.zps"
refuse zps-shuffle-each "^zipml-train: error: --save-stream: a packed stream file holds one order" -- \
  "$train" --train "$tmp/img" --train-labels "$tmp/lab" --order shuffle-each-epoch --save-stream "$tmp/t.zps"
# --precision-schedule: one bit-plane copy (q8 by default), each epoch at its bits (printed, in
# the CSV's bits column and the summary); saved as a bit-plane .zps and trained from it again,
# the same model; what it refuses
expect schedule 0 "^    3     4 " -- "$train" --train "$tmp/img" --train-labels "$tmp/lab" --test "$tmp/timg" \
  --test-labels "$tmp/tlab" --epochs 5 --rounding stochastic --precision-schedule 1,2,4,8 --history "$tmp/sched.csv" \
  --summary "$tmp/sched.json" --save "$tmp/sched.zml" --save-stream "$tmp/planes.zps"
check schedule-bits [ "$(awk -F, 'NR > 1 { printf "%s ", $7 }' "$tmp/sched.csv")" = "1 2 4 8 8 " ]
check schedule-summary grep -q '"precision_schedule": "1,2,4,8"' "$tmp/sched.json"
expect schedule-from-planes 0 "^summary:" -- "$train" --train "$tmp/planes.zps" --test "$tmp/timg" --test-labels "$tmp/tlab" \
  --epochs 5 --precision-schedule 1,2,4,8 --save "$tmp/sched-planes.zml"
check schedule-planes-same-model cmp "$tmp/sched.zml" "$tmp/sched-planes.zml"
expect schedule-auto 0 "^summary:" -- "$train" --train "$tmp/img" --train-labels "$tmp/lab" --epochs 4 \
  --rounding stochastic --precision-schedule auto --precision-rise 0.5 --history "$tmp/auto.csv"
check schedule-auto-rises [ "$(awk -F, 'NR == 2 { print $7 }' "$tmp/auto.csv")" = "1" ]
refuse schedule-planes-need-schedule "it holds bit planes" -- "$train" --train "$tmp/planes.zps" --epochs 1
refuse schedule-rows-file "not bit planes" -- "$train" --train "$tmp/s.zps" --precision-schedule 1,8 --epochs 1
refuse schedule-bad-bits "3 bits: each epoch's precision is 1, 2, 4 or 8 bits" -- "$train" --train "$tmp/img" \
  --train-labels "$tmp/lab" --precision-schedule 1,3
refuse schedule-two-precisions "trains one precision's bit planes" -- "$train" --train "$tmp/img" \
  --train-labels "$tmp/lab" --precision q8,q4 --precision-schedule 1,2
refuse schedule-too-many-bits "8 bits, but the samples are packed as 4-bit levels" -- "$train" --train "$tmp/img" \
  --train-labels "$tmp/lab" --precision q4 --precision-schedule 1,8 --epochs 2
expect profile 0 "^  *q4: pack [0-9.]*, 2 epochs [0-9.]*, evaluation (pass) [0-9.]*" -- "$train" --train "$data/tiny.libsvm" \
  --epochs 2 --precision q4 --scale columns --profile -q
check profile-read grep -q "^profile (wall seconds): read [0-9.]*, validate and scale" "$tmp/out"
expect eval-bad 105 "sometimes not in {pass,test,full}" -- "$train" --eval sometimes

# Backends: one clear line, before any data is read (no Fashion-MNIST needed here).
if [ "$verilator" = with-verilator ]; then
  # The simulated RTL engine gives the CPU engine arithmetic's model: the same summary numbers.
  expect backend-verilator 0 "^summary:" -- "$train" --backend verilator --train "$data/tiny.libsvm" \
    --epochs 2 --precision float32,q4 --scale columns --summary "$tmp/v.json" --quiet
  # (the engine reports no pass loss: its training figures are the full evaluation's, as --eval full's)
  expect backend-cpu-engine 0 "^summary:" -- "$train" --backend cpu --arithmetic engine --eval full \
    --train "$data/tiny.libsvm" --epochs 2 --precision float32,q4 --scale columns --summary "$tmp/c.json" --quiet
  numbers() { grep -E '"(train_accuracy|final_train_loss|train_loss)"' "$1"; }
  check verilator-has-numbers [ "$(numbers "$tmp/v.json" | wc -l)" -ge 4 ]
  check verilator-equals-cpu-engine [ "$(numbers "$tmp/v.json")" = "$(numbers "$tmp/c.json")" ]
  check verilator-summary-backend grep -q '"backend": "verilator"' "$tmp/v.json"
  check verilator-train-loss-full grep -q '"train_loss_from": "full"' "$tmp/v.json"
  refuse verilator-float "^zipml-train: error: --backend verilator runs only the engine arithmetic" -- \
    "$train" --backend verilator --arithmetic float --data-dir "$tmp/none"
  check verilator-float-one-line [ "$(wc -l <"$tmp/out")" -eq 1 ]
else
  refuse backend-verilator "^zipml-train: error: --backend verilator: this zipml-train was built without Verilator" -- \
    "$train" --backend verilator --data-dir "$tmp/none"
  check backend-one-line [ "$(wc -l <"$tmp/out")" -eq 1 ]
fi
# No board here: one line saying what is missing, before any data is read.
refuse backend-pynq "^zipml-train: error: no PYNQ board here: /sys/class/fpga_manager/fpga0 does not exist" -- \
  "$train" --backend pynq --data-dir "$tmp/none"
check backend-pynq-one-line [ "$(wc -l <"$tmp/out")" -eq 1 ]
refuse pynq-float "^zipml-train: error: --backend pynq runs only the engine arithmetic" -- \
  "$train" --backend pynq --arithmetic float --data-dir "$tmp/none"
refuse board-without-pynq "^zipml-train: error: --board and --bitstream are for --backend pynq" -- \
  "$train" --board sim --data-dir "$tmp/none"
if [ "$verilator" = with-verilator ]; then
  # The simulated board (the same driver, the Verilated engine behind a simulated AXI DMA).
  expect backend-pynq-sim 0 "^summary:" -- "$train" --backend pynq --board sim --train "$data/tiny.libsvm" \
    --epochs 2 --precision float32,q4 --scale columns --summary "$tmp/p.json" --quiet
  check pynq-sim-equals-verilator [ "$(numbers "$tmp/p.json")" = "$(numbers "$tmp/v.json")" ]
  check pynq-summary-backend grep -q '"backend": "pynq"' "$tmp/p.json"
  # every class by default, as on the CPU: 10 classes in one pass of the 10-lane engine
  awk 'BEGIN { srand(7); for (i = 0; i < 200; i++) { c = i % 10; printf "%d", c;
         for (j = 1; j <= 12; j++) printf " %d:%.3f", j, (j == c + 1 ? 0.6 : 0) + rand() * 0.4; print "" } }' > "$tmp/ten.libsvm"
  expect pynq-sim-ten-classes 0 "^summary:" -- "$train" --backend pynq --board sim --train "$tmp/ten.libsvm" \
    --epochs 2 --precision q2 --summary "$tmp/p10.json" --quiet
  "$train" --backend verilator --train "$tmp/ten.libsvm" --epochs 2 --precision q2 --summary "$tmp/v10.json" --quiet > /dev/null
  check pynq-sim-ten-classes-equal-verilator [ "$(numbers "$tmp/p10.json")" = "$(numbers "$tmp/v10.json")" ]
  check pynq-sim-ten-classes-ten-lanes grep -q '"lanes": 10' "$tmp/p10.json"
  check pynq-sim-ten-classes-one-pass grep -q '"passes_per_epoch": 1' "$tmp/p10.json"
fi
refuse backend-unknown "unknown backend 'gpu': choose cpu" -- "$train" --backend gpu

# Outputs: never over an input, never two options on one file, checked before training.
cp "$data/tiny.libsvm" "$tmp/t.libsvm"
refuse save-over-input "would overwrite the input data file" -- \
  "$train" --train "$tmp/t.libsvm" --precision q4 --save "$tmp/./t.libsvm"
cp "$data/tiny.libsvm" "$tmp/t.q2.libsvm"   # several precisions: --save t.libsvm writes t.q2.libsvm
refuse save-over-input-per-precision "--save .*t.q2.libsvm would overwrite the input data file" -- \
  "$train" --train "$tmp/t.q2.libsvm" --precision q4,q2 --save "$tmp/t.libsvm"
check input-untouched cmp -s "$data/tiny.libsvm" "$tmp/t.libsvm"
refuse summary-over-input "--summary .* would overwrite the input data file" -- \
  "$train" --train "$tmp/t.libsvm" --test "$tmp/t.libsvm" --summary "$tmp/t.libsvm"
refuse same-output "--summary and --history both name" -- \
  "$train" --train "$tmp/t.libsvm" --summary "$tmp/x" --history "$tmp/x"
refuse missing-folder "the directory .*/nowhere does not exist" -- \
  "$train" --train "$tmp/t.libsvm" --save "$tmp/nowhere/m.zml"
refuse zero-epochs "^zipml-train: error: --epochs must be a positive integer or auto, got 0$" -- \
  "$train" --train "$tmp/t.libsvm" --epochs 0
refuse negative-epochs "^zipml-train: error: --epochs must be a positive integer or auto, got -1$" -- \
  "$train" --train "$tmp/t.libsvm" --epochs -1
refuse bad-step "^zipml-train: error: --step must be a positive number or auto, got 0.1x$" -- \
  "$train" --train "$tmp/t.libsvm" --step 0.1x
refuse bad-tol "^zipml-train: error: --tol must be at least 0 and below 1, got 2$" -- "$train" --train "$tmp/t.libsvm" --tol 2
refuse duplicate-precision "--precision names 'q4' twice" -- "$train" --train "$tmp/t.libsvm" --precision q4,q4
refuse plot-extension "must end in .svg or .png" -- "$train" --train "$tmp/t.libsvm" --plot "$tmp/p.pdf"
refuse plot-no-gnuplot "--plot needs gnuplot: sudo apt-get install gnuplot-nox" -- \
  env PATH=/nonexistent "$train" --train "$tmp/t.libsvm" --plot "$tmp/p.svg"

# Errors in the data and the options.
refuse missing-data "apt-get install dataset-fashion-mnist" -- "$train" --data-dir "$tmp/none"
refuse bad-precision "unknown precision 'q3'" -- "$train" --train "$data/tiny.libsvm" --precision q3
printf '+1 1:0.5 2:zz\n' >"$tmp/bad.libsvm"
refuse bad-libsvm "bad.libsvm:1" -- "$train" --train "$tmp/bad.libsvm"
expect bad-order 105 "sideways not in" -- "$train" --order sideways
expect label-scaling-classifier 1 "scale-labels is for regression" -- "$train" --train "$data/tiny.libsvm" --scale-labels 0..1

# The progress bar: never when stdout is a file or a pipe; on a terminal unless --quiet.
make_libsvm "$tmp/b.libsvm" 2000 1
expect no-bar-in-files 0 "summary" -- "$train" --train "$tmp/b.libsvm" --scale columns --epochs 3
check no-bar-characters [ "$(grep -c $'\r\|ETA' "$tmp/out")" -eq 0 ]
if command -v script >/dev/null 2>&1; then
  cmd="'$train' --train '$tmp/b.libsvm' --scale columns --epochs 3 --precision float32,q2"
  expect bar-on-terminal 0 "samples/s  ETA" -- script -qec "$cmd" /dev/null
  expect quiet-on-terminal 0 "summary" -- script -qec "$cmd --quiet" /dev/null
  check quiet-has-no-bar [ "$(grep -c 'ETA' "$tmp/out")" -eq 0 ]
else
  echo "skip bar-on-terminal: no 'script' program (util-linux) to make a terminal"
fi

# The defaults chosen from the data (docs/OPTIONS.md, "defaults"): each choice is printed.
make_libsvm "$tmp/wide.libsvm" 300 5 multi   # features in [0, 10]
expect auto-scale-columns 0 "^scaling columns (table: columns, range 0..1); order file (its labels are mixed); up to 1000 epochs" -- \
  "$train" --train "$tmp/wide.libsvm" --precision q8 --summary "$tmp/auto.json"
check auto-step-printed grep -q "| step 2^-[0-9]* (auto) ==" "$tmp/out"
expect auto-converged 0 '"converged": true' -- cat "$tmp/auto.json"
expect auto-epochs-run 0 '"epochs_run": [0-9]' -- cat "$tmp/auto.json"
expect auto-scale-none 0 "^scaling none (features already in \[-1, 1\]: none, range -1..1)" -- \
  "$train" --train "$data/tiny.libsvm" --precision q8
expect auto-range-asked 0 "^scaling columns (table: columns, range 0..1)" -- \
  "$train" --train "$data/tiny.libsvm" --precision q8 --range 0..1
sort -n -k1,1 "$tmp/wide.libsvm" >"$tmp/sorted.libsvm"
expect auto-order-grouped 0 "order shuffle (the file's rows come grouped by label)" -- \
  "$train" --train "$tmp/sorted.libsvm" --precision q8
expect fixed-epochs-note 0 "note: the training loss still fell in the last of 1 epochs (q8 [0-9.]*%): more epochs (--epochs 4 or --epochs auto)" -- \
  "$train" --train "$tmp/wide.libsvm" --precision q8 --epochs 1 --quiet
check fixed-epochs-line grep -q "^summary: l2svm (one-vs-rest), 1 epochs," "$tmp/out"
make_libsvm "$tmp/reg.libsvm" 200 6 regression
refuse regression-labels "reg.libsvm: row 1: label [0-9.]* is not a class (not an integer): for a continuous target train the least-squares model (zipml-train --model least-squares)" -- \
  "$train" --train "$tmp/reg.libsvm" --precision q8
expect regression-trains 0 "^summary: least-squares (regression)" -- \
  "$train" --train "$tmp/reg.libsvm" --model least-squares --precision float32 --quiet
# --format auto goes by the magic number, not the name.
cp "$tmp/wide.libsvm" "$tmp/my_idx.svm"
expect libsvm-named-idx 0 "^data: $tmp/my_idx.svm: 300 training samples" -- "$train" --train "$tmp/my_idx.svm" --precision q8
printf -- '-1 3:0.5 2:0.25\n' >"$tmp/down.libsvm"
refuse libsvm-descending "down.libsvm:1: feature indices must be in ascending order: 2 after 3 in '2:0.25'" -- \
  "$train" --train "$tmp/down.libsvm"

finish
