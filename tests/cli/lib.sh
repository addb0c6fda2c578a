# Shared by the scripts in tests/cli/ and tests/examples/ (sourced, not run).
#   expect NAME WANT_RC PATTERN -- command...   runs the command, checks exit status and output
#   refuse NAME PATTERN -- command...          the same with WANT_RC 1 (a zipml error)
#   make_libsvm FILE N SEED [KIND]              writes a LIBSVM file: KIND binary (+1/-1, the
#                                               default), multi (classes 0, 1, 2) or regression
#   finish                                      prints the tally; exit status 1 if anything failed
# Every script sets `tmp` (a temporary folder) before calling these.
failed=0 passed=0

expect() {
  local name=$1 want=$2 pattern=$3
  shift 4
  "$@" >"$tmp/out" 2>&1
  local rc=$?
  if [ "$rc" -ne "$want" ] || ! grep -q -- "$pattern" "$tmp/out"; then
    echo "FAIL $name: exit $rc (want $want), output lacks '$pattern':"
    sed 's/^/    /' "$tmp/out" | tail -30
    failed=$((failed + 1))
    return 1
  fi
  echo "ok   $name"
  passed=$((passed + 1))
}

refuse() {
  local name=$1 pattern=$2
  shift 3
  expect "$name" 1 "$pattern" -- "$@"
}

# check NAME CONDITION-COMMAND... : a check that is not a program run (test, cmp, grep ...).
check() {
  local name=$1
  shift
  if "$@"; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name: $*"
    failed=$((failed + 1))
  fi
}

# Four features in [0, 10] (x4 is noise). binary: +1 iff x1 + x2 > 10; multi: class 0 for
# x1 <= 5, else 2 for x2 > 5 and 1 otherwise; regression: y = 100 + 4 x1 - 3 x2 + 2 x3 + noise
# in [-0.5, 0.5]. The same file for the same SEED (and awk).
make_libsvm() {
  local file=$1 n=$2 seed=$3 kind=${4:-binary}
  awk -v n="$n" -v seed="$seed" -v kind="$kind" 'BEGIN {
    srand(seed)
    for (i = 0; i < n; i++) {
      x1 = 10 * rand(); x2 = 10 * rand(); x3 = 10 * rand(); x4 = 10 * rand()
      if (kind == "binary") y = (x1 + x2 > 10) ? "+1" : "-1"
      else if (kind == "multi") y = (x1 > 5 && x2 > 5) ? 2 : (x1 > 5 ? 1 : 0)
      else y = sprintf("%.4f", 100 + 4 * x1 - 3 * x2 + 2 * x3 + rand() - 0.5)
      printf "%s 1:%.4f 2:%.4f 3:%.4f 4:%.4f\n", y, x1, x2, x3, x4
    }
  }' >"$file"
}

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# IDX files by hand: big-endian 32-bit header fields, then one byte per pixel or label.
byte() { printf "\\$(printf '%03o' "$1")"; }
be32() { byte $(($1 >> 24 & 255)); byte $(($1 >> 16 & 255)); byte $(($1 >> 8 & 255)); byte $(($1 & 255)); }
idx_images() { # FILE N ROWS COLS
  local i
  { be32 2051; be32 "$2"; be32 "$3"; be32 "$4"
    for ((i = 0; i < $2 * $3 * $4; i++)); do byte $(((i * 37 + 11) % 256)); done; } >"$1"
}
idx_labels() { # FILE N (labels 0, 1, 0, 1, ...)
  local i
  { be32 2049; be32 "$2"; for ((i = 0; i < $2; i++)); do byte $((i % 2)); done; } >"$1"
}
