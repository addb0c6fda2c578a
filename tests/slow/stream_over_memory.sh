#!/usr/bin/env bash
# A packed stream file larger than the memory the trainer may use still trains, and gives the
# same model bit for bit as without the limit. The file is mapped, not read into memory: its
# pages are clean page cache that the kernel drops and reads again under pressure, so the
# limit only slows the run down to the disk's speed.
#
# The limit is a memory cgroup (v2 memory.max or v1 memory.limit_in_bytes), which caps what a
# process may keep resident, page cache included. Creating one needs root: without a writable
# memory controller the test is skipped (exit 77), saying so. An address-space limit
# (ulimit -v) is a different thing: it caps the mapping's size, so a file larger than it is
# refused with a message that says so; checked here too.
#
#   tests/slow/stream_over_memory.sh ZIPML-TRAIN FASHION-MNIST-DIR
set -uo pipefail
train=$1 fmnist=$2
tmp=$(mktemp -d)
cgroup=""
cleanup() {
  [ -n "$cgroup" ] && rmdir "$cgroup" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
source "$(dirname "$0")/../cli/lib.sh"

limit_mib=48
limit=$((limit_mib << 20))
# A memory cgroup this script can create and enter: v2 (unified, with the memory controller
# enabled for children) first, then v1.
make_cgroup() {
  local v2 v1
  for v2 in /sys/fs/cgroup /sys/fs/cgroup/unified; do
    if grep -qw memory "$v2/cgroup.subtree_control" 2>/dev/null && mkdir "$v2/zipml-test-$$" 2>/dev/null; then
      cgroup="$v2/zipml-test-$$"
      echo "$limit" >"$cgroup/memory.max" && { echo 0 >"$cgroup/memory.swap.max" 2>/dev/null || true; } && return 0
      return 1
    fi
  done
  v1=/sys/fs/cgroup/memory
  if [ -w "$v1" ] && mkdir "$v1/zipml-test-$$" 2>/dev/null; then
    cgroup="$v1/zipml-test-$$"
    echo "$limit" >"$cgroup/memory.limit_in_bytes" || return 1
    # with swap accounting, swap counts too (there is nothing to swap: the pages are clean)
    [ -f "$cgroup/memory.memsw.limit_in_bytes" ] && echo "$limit" >"$cgroup/memory.memsw.limit_in_bytes"
    return 0
  fi
  return 1
}
peak_usage() {
  cat "$cgroup/memory.peak" 2>/dev/null || cat "$cgroup/memory.max_usage_in_bytes" 2>/dev/null || echo unknown
}

# float32 Fashion-MNIST: 60,000 rows of 784 features, about 190 MB packed (4x the limit).
expect save 0 "^summary:" -- "$train" --train "$fmnist/train-images-idx3-ubyte.gz" \
  --train-labels "$fmnist/train-labels-idx1-ubyte.gz" --precision float32 --epochs 1 -q --save-stream "$tmp/big.zps"
size=$(stat -c %s "$tmp/big.zps")
check file-larger-than-limit test "$size" -gt $((3 * limit))
expect unlimited 0 "^summary:" -- "$train" --train "$tmp/big.zps" --epochs 2 --threads 1 -q --save "$tmp/free.zml"

# The address-space limit: below the file's size, the mapping is refused with a message.
expect address-space-limit 1 "ulimit -v" -- bash -c \
  "ulimit -v $((size / 1024 - 8192)) && exec \"\$0\" --train \"\$1\" --epochs 1 --threads 1 -q" "$train" "$tmp/big.zps"

if ! make_cgroup; then
  echo "skipped: no memory cgroup can be created here (needs root and a writable cgroup v1 or v2 memory controller)"
  finish || exit 1
  exit 77
fi
echo "memory cgroup $cgroup: limit $limit_mib MiB, packed file $((size >> 20)) MiB"
# Out of the page cache first: cached pages charged elsewhere would not count in the cgroup.
sync "$tmp/big.zps" && dd if="$tmp/big.zps" iflag=nocache count=0 status=none
expect limited 0 "^summary:" -- bash -c 'echo $$ >"$0/cgroup.procs" && exec "$1" --train "$2" --epochs 2 --threads 1 -q --save "$3"' \
  "$cgroup" "$train" "$tmp/big.zps" "$tmp/limited.zml"
peak=$(peak_usage)
echo "peak memory of the limited run (page cache included): $peak bytes"
[ "$peak" = unknown ] || check peak-within-limit test "$peak" -le "$limit"
check same-model-under-limit cmp "$tmp/free.zml" "$tmp/limited.zml"
finish
