#!/usr/bin/env bash
# The errors of zipml-train and zipml-predict that docs/ERRORS.md lists and test_cli.sh and
# test_predict.sh do not provoke: names the programs do not know, IDX images without labels,
# outputs that cannot be written (a folder, a FIFO, an empty name, a folder nothing can be
# created in, a full disk), a failing or missing gnuplot, and zipml-predict's data errors.
# Every case runs as root too: /proc refuses new files to everyone, `ulimit -f` stands in for a
# full disk, and a fake gnuplot on PATH fails on demand. Fast; suite `unit`.
# Usage: test_errors.sh ZIPML_TRAIN ZIPML_PREDICT DATA_DIR
set -uo pipefail
train=$1 predict=$2 data=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"

cp "$data/tiny.libsvm" "$tmp/t.libsvm"
base=(--train "$tmp/t.libsvm" --quiet)
run=("${base[@]}" --epochs 2 --precision q4)

# Names the program does not know: one line, before any data is read.
refuse unknown-model "^zipml-train: error: unknown model 'svm': choose l2svm, logistic, least-squares$" -- \
  "$train" --model svm --data-dir "$tmp/none"
refuse unknown-rounding "^zipml-train: error: unknown rounding 'up': choose nearest, stochastic$" -- \
  "$train" --rounding up --data-dir "$tmp/none"
# CLI11 requires a value: --precision "" is one empty name.
refuse empty-precision "^zipml-train: error: unknown precision '': choose float32, q8, q4, q2, q1$" -- \
  "$train" --precision "" --data-dir "$tmp/none"

# IDX images need their labels file (auto format: the magic number says IDX).
idx_images "$tmp/a-idx3-ubyte" 4 2 2
idx_images "$tmp/b-idx3-ubyte" 4 2 2
refuse idx-train-labels "IDX images $tmp/a-idx3-ubyte need --train-labels FILE (the IDX labels)" -- \
  "$train" --train "$tmp/a-idx3-ubyte"
refuse idx-test-labels "IDX images $tmp/b-idx3-ubyte need --test-labels FILE (the IDX labels)" -- \
  "$train" --train "$tmp/t.libsvm" --test "$tmp/b-idx3-ubyte"

# Outputs refused before training: a folder, a FIFO (renaming over it would replace it), an
# empty name given on purpose.
mkdir "$tmp/out.d"
refuse output-is-directory "--save $tmp/out.d: is a directory; give a file name" -- "$train" "${run[@]}" --save "$tmp/out.d"
mkfifo "$tmp/fifo"
refuse output-is-fifo "--summary $tmp/fifo: is not a regular file (a device, FIFO or socket); give a file name" -- \
  "$train" "${run[@]}" --summary "$tmp/fifo"
check fifo-stays-fifo [ -p "$tmp/fifo" ]
make_libsvm "$tmp/p.libsvm" 60 5
expect train-for-predict 0 "summary" -- "$train" --train "$tmp/p.libsvm" --scale columns --epochs 2 --precision q8 \
  --save "$tmp/m.zml" --quiet
refuse predictions-empty "^zipml-predict: error: --predictions: the file name is empty$" -- \
  "$predict" "$tmp/m.zml" "$tmp/p.libsvm" --predictions ""

# Outputs that fail while being written, after training.
refuse summary-cannot-create "cannot write '/proc/zipml-s.json': cannot create the temporary file '/proc/zipml-s.json.tmp-" -- \
  "$train" "${run[@]}" --summary /proc/zipml-s.json
# A full disk: writes past 1 KiB fail with EFBIG (SIGXFSZ ignored, as a full disk raises none).
refuse summary-disk-full "cannot write '$tmp/s.json': writing '$tmp/s.json.tmp-[0-9]*-0' failed after 1024 of [0-9]* bytes: File too large (nothing was written; an existing file is unchanged)" -- \
  bash -c 'trap "" XFSZ; ulimit -f 1; exec "$@"' - "$train" "${base[@]}" --precision q4 --epochs 12 --summary "$tmp/s.json"
check disk-full-no-file [ ! -e "$tmp/s.json" ] && [ -z "$(find "$tmp" -name '*.tmp-*')" ]
refuse npy-cannot-create "--export-npy: cannot write /proc/zipml-w.npy: cannot create the temporary file '/proc/zipml-w.npy.tmp-" -- \
  "$train" "${run[@]}" --export-npy /proc/zipml-w.npy
printf '+1 1:0.5 400:0.25\n-1 2:0.5 399:0.75\n+1 3:1 400:1\n' >"$tmp/wide.libsvm" # weights of 1.6 KB
refuse npy-disk-full "--export-npy: cannot write $tmp/w.npy: writing '$tmp/w.npy.tmp-[0-9]*-0' failed after 1024 of [0-9]* bytes: File too large" -- \
  bash -c 'trap "" XFSZ; ulimit -f 1; exec "$@"' - "$train" --train "$tmp/wide.libsvm" --quiet --precision q4 --epochs 1 \
  --scale columns --export-npy "$tmp/w.npy"
check npy-disk-full-no-file [ ! -e "$tmp/w.npy" ] && [ -z "$(find "$tmp" -name '*.tmp-*')" ]

# --plot with a gnuplot that fails, one that draws nothing, and no room for its files.
mkdir "$tmp/bin"
printf '#!/bin/sh\necho "line 3: unknown terminal svg" >&2\nexit 1\n' >"$tmp/bin/gnuplot"
chmod +x "$tmp/bin/gnuplot"
refuse plot-gnuplot-fails "--plot: $tmp/bin/gnuplot failed (exit status 1):" -- \
  env PATH="$tmp/bin:$PATH" "$train" "${run[@]}" --plot "$tmp/p.svg"
check plot-error-shows-gnuplot grep -q "^line 3: unknown terminal svg" "$tmp/out"
printf '#!/bin/sh\nexit 0\n' >"$tmp/bin/gnuplot"
refuse plot-no-picture "--plot: $tmp/bin/gnuplot made no picture (exit status 0)" -- \
  env PATH="$tmp/bin:$PATH" "$train" "${run[@]}" --plot "$tmp/p.svg"
refuse plot-no-temp-folder "--plot: cannot create a temporary folder in /proc" -- \
  env PATH="$tmp/bin:$PATH" TMPDIR=/proc "$train" "${run[@]}" --plot "$tmp/p.svg"
# gnuplot's data file on a full disk (4 precisions x 12 epochs: more than 1 KiB).
refuse plot-data-disk-full "--plot: cannot write .*/zipml-plot-.*/history.dat" -- \
  bash -c 'trap "" XFSZ; ulimit -f 1; exec "$@"' - env PATH="$tmp/bin:$PATH" "$train" "${base[@]}" \
  --precision float32,q8,q4,q2 --epochs 12 --plot "$tmp/p.svg"
check plot-nothing-left [ ! -e "$tmp/p.svg" ] && [ -z "$(find "$tmp" -name '*.tmp-*')" ]
# The picture cannot be renamed into place: this gnuplot draws, then puts a folder there.
cat >"$tmp/bin/gnuplot" <<'SH'
#!/bin/sh
out=$(sed -n "s/^set output '\(.*\)'$/\1/p" "$1")
echo '<svg/>' >"$out"
mkdir "$(dirname "$out")/p.svg"
SH
refuse plot-cannot-rename "--plot: cannot write $tmp/p.svg: Is a directory" -- \
  env PATH="$tmp/bin:$PATH" "$train" "${run[@]}" --plot "$tmp/p.svg"
check plot-rename-nothing-left [ -z "$(find "$tmp" -name '*.tmp-*')" ]

# zipml-predict: no data and no Fashion-MNIST; IDX images of another size than the model's.
refuse predict-no-data "^zipml-predict: error: no DATA given and the Fashion-MNIST test set is not in $tmp/none: give a data file" -- \
  "$predict" "$tmp/m.zml" --data-dir "$tmp/none"
idx_images "$tmp/train-idx3-ubyte" 8 2 2
idx_labels "$tmp/train-idx1-ubyte" 8
expect train-idx 0 "summary" -- "$train" --train "$tmp/train-idx3-ubyte" --train-labels "$tmp/train-idx1-ubyte" \
  --epochs 1 --precision q8 --save "$tmp/i.zml" --quiet
# --format auto: IDX by its magic number, whatever the name (here none of "idx" or "ubyte").
cp "$tmp/train-idx3-ubyte" "$tmp/images.bin"
cp "$tmp/train-idx1-ubyte" "$tmp/labels.bin"
expect idx-by-magic 0 "^data: $tmp/images.bin: 8 training samples, d = 5" -- \
  "$train" --train "$tmp/images.bin" --train-labels "$tmp/labels.bin" --epochs 1 --precision q8
check idx-scaled-by-rows grep -q "^scaling rows (images: rows, range 0..1)" "$tmp/out"
idx_images "$tmp/big-idx3-ubyte" 2 3 3
idx_labels "$tmp/big-idx1-ubyte" 2
refuse predict-width "$tmp/big-idx3-ubyte: 9 features per sample, but the model $tmp/i.zml was trained on 4: is this the data it was made for?" -- \
  "$predict" "$tmp/i.zml" "$tmp/big-idx3-ubyte" --labels "$tmp/big-idx1-ubyte"

finish
