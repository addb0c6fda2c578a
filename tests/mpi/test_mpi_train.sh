#!/usr/bin/env bash
# mpirun -np 2 zipml-train as a user runs it (docs/SCALING.md): Fashion-MNIST within 0.005 of
# the single-process test accuracy at float32 and q4, from the data and from a packed stream
# file; rank 0 alone writes the outputs; a rank's own bad input ends the whole job in bounded
# time with that rank's message; an error all ranks share is said once. Suite `mpi`.
# Usage: test_mpi_train.sh ZIPML_TRAIN FASHION_MNIST_DIR TEST_DATA_DIR
set -uo pipefail
train=$1 fmnist=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../cli/lib.sh"
mpi=(mpirun -np 2 --oversubscribe)

if [ ! -f "$fmnist/train-images-idx3-ubyte.gz" ]; then
  echo "SKIP: Fashion-MNIST is not in $fmnist (Debian package dataset-fashion-mnist)"
  exit 77
fi

# The test accuracy of PRECISION in the JSON summary FILE.
acc() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([r for r in d["runs"] if r["precision"]==sys.argv[2]][0]["test_accuracy"])' "$1" "$2"; }
# |a - b| <= tol
close() { python3 -c 'import sys; a,b,t=map(float,sys.argv[1:]); sys.exit(0 if abs(a-b)<=t else 1)' "$1" "$2" "$3"; }

# One process, then two ranks, each on one thread (the 2-core CI machines).
expect one-process 0 "summary" -- "$train" --precision float32,q4 --threads 1 --quiet --summary "$tmp/one.json"
expect two-ranks 0 "summary" -- "${mpi[@]}" "$train" --precision float32,q4 --threads 1 --quiet --summary "$tmp/two.json"
for p in float32 q4; do
  a1=$(acc "$tmp/one.json" $p) a2=$(acc "$tmp/two.json" $p)
  echo "     $p: one process $a1, two ranks $a2"
  check "two-ranks-accuracy-$p" close "$a1" "$a2" 0.005
done
check summary-records-ranks python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][1]
assert r["ranks"] == 2 and r["averaging"] == "epoch" and r["averagings"] == r["epochs_run"], r
assert len(set(r["rank_seeds"])) == 2, r["rank_seeds"]' "$tmp/two.json"
# the epoch lines and the summary come from rank 0 alone
expect printed-once 0 "summary" -- "${mpi[@]}" "$train" --precision q4 --threads 1 --epochs 2
check one-summary-line test "$(grep -c '^summary:' "$tmp/out")" = 1
check ranks-line grep -q "2 ranks (MPI), each training its share of the rows (about 30000); models averaged after every epoch" "$tmp/out"

# A packed stream file: written by one process; each rank maps only its half.
expect pack-q4 0 "packed stream written" -- "$train" --precision q4 --threads 1 --save-stream "$tmp/q4.zps" \
  --summary "$tmp/one-zps.json"
test_set=(--test "$fmnist/t10k-images-idx3-ubyte.gz" --test-labels "$fmnist/t10k-labels-idx1-ubyte.gz")
expect two-ranks-zps 0 "summary" -- "${mpi[@]}" "$train" --train "$tmp/q4.zps" "${test_set[@]}" --threads 1 \
  --quiet --summary "$tmp/two-zps.json" --save "$tmp/m.zml"
a1=$(acc "$tmp/one-zps.json" q4) a2=$(acc "$tmp/two-zps.json" q4)
echo "     q4 from the packed file: one process $a1, two ranks $a2"
check two-ranks-zps-accuracy close "$a1" "$a2" 0.005
check model-saved test -s "$tmp/m.zml"
# every N samples, and once at the end
expect average-every-5000 0 "summary" -- "${mpi[@]}" "$train" --train "$tmp/q4.zps" "${test_set[@]}" --threads 1 \
  --quiet --average 5000 --summary "$tmp/every.json"
check averaged-every-5000 python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]
assert r["averaging"] == "samples" and r["averagings"] == 6 * r["epochs_run"], r' "$tmp/every.json"
expect average-end 0 "summary" -- "${mpi[@]}" "$train" --train "$tmp/q4.zps" "${test_set[@]}" --threads 1 \
  --quiet --average end --epochs 3

# One rank's own bad input (rank 1's file is missing: MPMD, as on a machine without the copy):
# the job ends, in bounded time, with rank 1's message.
t0=$(date +%s)
expect rank-fails 1 "rank 1 of 2: .*no-such.zps" -- timeout 120 mpirun --oversubscribe \
  -np 1 "$train" --train "$tmp/q4.zps" --threads 1 --quiet : -np 1 "$train" --train "$tmp/no-such.zps" --format zps --threads 1 --quiet
took=$(($(date +%s) - t0))
echo "     the job ended $took s after it started"
check rank-fails-in-bounded-time test "$took" -lt 60
# Bad input in rank 1's rows only (a feature the engine's 18 bits cannot hold, in row 351 of
# 400): the ranks stop together, rank 1 saying which row of the file.
python3 -c '
import random, sys
random.seed(1)
with open(sys.argv[1], "w") as f:
    for i in range(400):
        v = [round(random.uniform(-1, 1), 3) for _ in range(5)]
        if i == 350: v[2] = 3.0
        f.write(random.choice(["+1", "-1"]) + " " + " ".join(f"{j + 1}:{x}" for j, x in enumerate(v)) + "\n")
' "$tmp/wide.libsvm"
expect pack-wide 0 "packed stream written" -- "$train" --train "$tmp/wide.libsvm" --scale none --range -1..1 \
  --precision float32 --save-stream "$tmp/wide.zps" --epochs 1 --threads 1
expect rank1-bad-row 1 "rank 1 of 2: packed stream: row 351, feature 3: value 3 is outside" -- timeout 120 "${mpi[@]}" \
  "$train" --train "$tmp/wide.zps" --arithmetic engine --threads 1 --quiet
check bad-row-said-once test "$(grep -c 'row 351' "$tmp/out")" = 1
# A damaged copy on rank 1: the ranks' checksum fails on every rank alike, said once by rank 0.
cp "$tmp/q4.zps" "$tmp/bad.zps"
printf '\x55' | dd of="$tmp/bad.zps" bs=1 seek=$(( $(stat -c %s "$tmp/bad.zps") - 4096 )) conv=notrunc status=none
expect corrupt-file 1 "data checksum mismatch" -- timeout 120 "${mpi[@]}" "$train" --train "$tmp/bad.zps" --threads 1 --quiet
check said-once test "$(grep -c 'data checksum mismatch' "$tmp/out")" = 1
# What needs the whole data set in one process is refused.
refuse save-stream-refused "write the packed stream file in one process" -- "${mpi[@]}" "$train" --precision q4 \
  --save-stream "$tmp/x.zps" --threads 1 --quiet
refuse average-bad "--average" -- "${mpi[@]}" "$train" --average sometimes --threads 1 --quiet

# The simulated RTL engine keeps its model: it averages once, at the end.
if "$train" --help | grep -q "verilator: the simulated RTL engine"; then
  small=(--train "$3/tiny.libsvm" --scale none --range -1..1 --epochs 2 --step 0.125 --threads 1 --quiet --precision q8)
  refuse verilator-epoch-refused "keeps the model and cannot load an averaged one" -- "${mpi[@]}" "$train" \
    --backend verilator "${small[@]}"
  expect verilator-average-end 0 "summary" -- "${mpi[@]}" "$train" --backend verilator --average end "${small[@]}"
  # a simulated board on each rank (the board driver's code), one class against the rest
  expect board-sim-average-end 0 "summary" -- "${mpi[@]}" "$train" --backend pynq --board sim --average end \
    --positive-label 3 --precision q4 --train-limit 2000 --test-limit 500 --epochs 1 --threads 1 --quiet
fi
finish
