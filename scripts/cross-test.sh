#!/usr/bin/env bash
# zipml — builds the PYNQ board program for ARM and runs its unit tests under qemu.
#
#   scripts/cross-test.sh [CROSS_FILE [BUILD_DIR]]     (default cross/pynq-z1.ini, build-cross)
#
# Builds only what the board needs (zipml-train, the tests of the board driver and of the
# stream format), with the RTL off, then runs those tests through the cross file's
# exe_wrapper (qemu-arm-static / qemu-aarch64-static) and zipml-train itself: a short CPU run,
# a packed stream file written by the native build/ (same engine model, bit for bit), and
# `--backend pynq`, which must say in one line that there is no board here. A few minutes
# on two cores. Installs what it needs first (`scripts/install-deps.sh cross`: the cross
# compilers and qemu, amd64 packages only; no ARM library package, so an armhf or arm64 index
# out of sync cannot stop it). Built without zlib (-Dzlib=disabled): the board reads plain
# files, and says so for a gzip one.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cross="${1:-$root/cross/pynq-z1.ini}"
build="${2:-$root/build-cross}"
cd "$root"
bash scripts/install-deps.sh cross

# qemu from the cross file, to run zipml-train by hand below
wrapper=$(sed -n "s/^exe_wrapper *= *\[\(.*\)\]/\1/p" "$cross" | tr -d "',")
[ -n "$wrapper" ] || { echo "cross-test.sh: no exe_wrapper in $cross" >&2; exit 1; }

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --cross-file "$cross" -Drtl=disabled -Dnative=false -Dzlib=disabled -Dlibdeflate=disabled -Dbuildtype=release
fi
# (tests/unit/test_engine.cpp needs __int128, which 32-bit ARM does not have)
tests=(pynq-sim pynq-linux stream model_file)
ninja -C "$build" examples/zipml-train tests/pynq/test_pynq_sim tests/pynq/test_pynq_linux tests/test_stream \
  tests/test_model_file
meson test -C "$build" --no-rebuild --print-errorlogs "${tests[@]}"

# the board program itself, under qemu
train="$build/examples/zipml-train"
machine=$(od -An -t u2 -j 18 -N 2 "$train" | tr -d ' ') # ELF e_machine: 40 ARM, 183 AArch64
[ "$machine" = 40 ] || [ "$machine" = 183 ] || { echo "cross-test.sh: $train is not an ARM program" >&2; exit 1; }
out=$($wrapper "$train" --train tests/data/tiny.libsvm --epochs 2 --precision float32,q4 --scale columns --quiet 2>&1)
echo "$out" | grep -q "^summary:" || { echo "cross-test.sh: zipml-train failed under qemu:"; echo "$out"; exit 1; } >&2
# no zlib on the board: a gzip file is refused in one line that says so
gz=$(mktemp --suffix=.libsvm.gz)
trap 'rm -f "$gz"' EXIT
gzip -c tests/data/tiny.libsvm >"$gz"
set +e
out=$($wrapper "$train" --train "$gz" --epochs 1 --quiet 2>&1)
rc=$?
set -e
if [ "$rc" -ne 1 ] || ! echo "$out" | grep -q "gzip-compressed, and this zipml was built without zlib"; then
  echo "cross-test.sh: a gzip file on a build without zlib should be refused, got (exit $rc):" >&2
  echo "$out" >&2
  exit 1
fi
# A packed stream file written on this machine trains on the board program to the same model,
# bit for bit (the engine arithmetic is integer, so the same on every architecture): the file
# is what the board's DMA sends, and the board reads it without zlib or the data readers.
host_train=$root/build/examples/zipml-train
if [ -x "$host_train" ]; then
  zps_dir=$(mktemp -d)
  trap 'rm -f "$gz"; rm -rf "$zps_dir"' EXIT
  out=$("$host_train" --train tests/data/tiny.libsvm --scale columns --precision q4 --arithmetic engine --epochs 3 -q \
    --save "$zps_dir/host.zml" --save-stream "$zps_dir/tiny.zps" 2>&1) ||
    { echo "cross-test.sh: the native zipml-train --save-stream failed:"; echo "$out"; exit 1; } >&2
  out=$($wrapper "$train" --train "$zps_dir/tiny.zps" --arithmetic engine --epochs 3 -q --save "$zps_dir/board.zml" 2>&1) ||
    { echo "cross-test.sh: zipml-train --train FILE.zps failed under qemu:"; echo "$out"; exit 1; } >&2
  cmp -s "$zps_dir/host.zml" "$zps_dir/board.zml" ||
    { echo "cross-test.sh: the board program's model from the host's packed stream differs from the host's" >&2; exit 1; }
  zps_note="; a packed stream file from $(uname -m) trains to the same engine model, bit for bit"
else
  zps_note="; (no native build/: the packed-stream check was skipped)"
fi
set +e
out=$($wrapper "$train" --backend pynq --train tests/data/tiny.libsvm 2>&1)
rc=$?
set -e
if [ "$rc" -ne 1 ] || [ "$(echo "$out" | wc -l)" -ne 1 ] || ! echo "$out" | grep -q "no PYNQ board here"; then
  echo "cross-test.sh: zipml-train --backend pynq without a board should fail in one line, got (exit $rc):" >&2
  echo "$out" >&2
  exit 1
fi
echo "cross-test.sh: $(basename "$cross"): ${#tests[@]} test programs passed under $(echo "$wrapper" | cut -d' ' -f1); zipml-train runs$zps_note; '--backend pynq' without a board: $out"
