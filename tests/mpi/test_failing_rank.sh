#!/usr/bin/env bash
# A rank that fails in the middle of a pass ends the whole job, with its message, in bounded
# time (docs/SCALING.md, "Errors"): tests/mpi/failing_rank.cpp under mpirun -np 2. Suite `mpi`.
# Usage: test_failing_rank.sh FAILING_RANK
set -uo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../cli/lib.sh"
t0=$(date +%s)
expect mid-pass-failure-ends-job 1 "rank 1 of 2: failing backend (a test's stand-in for a board): no answer in epoch 2" -- \
  timeout 120 mpirun -np 2 --oversubscribe "$1"
took=$(($(date +%s) - t0))
echo "     the job ended $took s after it started"
check ended-in-bounded-time test "$took" -lt 60
check no-rank-finished sh -c "! grep -q 'finished training' '$tmp/out'"
finish
