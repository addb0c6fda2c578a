#!/usr/bin/env bash
# Fuzzes zipml's input parsers with libFuzzer (clang++ -fsanitize=fuzzer,address,undefined).
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 60 s, every target
#
# Targets (tests/fuzz/target_<name>.hpp): idx (IDX reader + gzip), libsvm (LIBSVM reader),
# packed (packed-stream reader), model (saved-model loader), stream_file (packed stream file
# reader, .zps: header, sizes, checksums, rows; in memory and through the mapping).
#
# 1. Builds every target into build-fuzz/ (rebuilt when a header or a target changed).
# 2. Regression test: runs every file of tests/fuzz/regressions/<target>/ once.
# 3. Fuzzes each target for SECONDS_PER_TARGET (-max_total_time), starting from the seed corpus
#    tests/fuzz/corpus/<target>/ plus what earlier runs found (build-fuzz/corpus/<target>/);
#    SECONDS_PER_TARGET=0 skips this step. Up to FUZZ_JOBS targets run at once (default: the
#    number of cores).
# Any crash, sanitizer report, leak, timeout or out-of-memory input is copied to
# tests/fuzz/regressions/<target>/ and named at the end; the script then exits 1.
# Logs and statistics: build-fuzz/logs/<target>.log, summary in build-fuzz/summary.txt.
#
# Environment: CXX_FUZZ (default clang++, else clang++-14), FUZZ_JOBS, FUZZ_FLAGS (extra
# libFuzzer flags, e.g. "-seed=1").
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=${1:-60}
shift || true
all_targets=(idx libsvm packed model stream_file)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi
case $seconds in '' | *[!0-9]*) echo "fuzz.sh: seconds must be a whole number, got '$seconds'" >&2; exit 2 ;; esac

out=$root/build-fuzz
mkdir -p "$out/logs" "$out/artifacts" "$out/tmp"
# Temporary files of the targets (idx, libsvm, model, stream_file write their input to disk): tmpfs if we can.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  export TMPDIR=/dev/shm/zipml-fuzz-$$
else
  export TMPDIR=$out/tmp
fi
mkdir -p "$TMPDIR"
trap 'rm -rf "$TMPDIR"' EXIT

cxx=${CXX_FUZZ:-}
if [ -z "$cxx" ]; then
  for c in clang++ clang++-14; do
    if command -v "$c" >/dev/null 2>&1; then cxx=$c; break; fi
  done
fi
if [ -z "$cxx" ]; then
  echo "fuzz.sh: clang++ not found; install clang and libclang-rt-14-dev (scripts/install-deps.sh)" >&2
  exit 2
fi

jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$jobs" -ge 1 ] || jobs=1

flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -DXTENSOR_USE_XSIMD
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
  -Iinclude -Ibackends/cpu/include -Itests/fuzz)

# Newest source the targets depend on: rebuild a target older than it.
newest=$(find include backends/cpu/include tests/fuzz -name '*.hpp' -o -name 'fuzz_*.cpp' | xargs stat -c %Y | sort -n | tail -1)

build_one() {
  local t=$1 bin=$out/fuzz_$1
  if [ -x "$bin" ] && [ "$(stat -c %Y "$bin")" -ge "$newest" ]; then return 0; fi
  "$cxx" "${flags[@]}" "tests/fuzz/fuzz_$t.cpp" -o "$bin.new" -lz -pthread >"$out/logs/build-$t.log" 2>&1 ||
    { echo "fuzz.sh: building fuzz_$t failed:" >&2; cat "$out/logs/build-$t.log" >&2; return 1; }
  mv "$bin.new" "$bin"
}

t0=$(date +%s)
echo "== fuzz.sh: building ${targets[*]} with $cxx ($jobs at a time)"
pids=()
for t in "${targets[@]}"; do
  [ -f "tests/fuzz/fuzz_$t.cpp" ] || { echo "fuzz.sh: unknown target '$t' (have: ${all_targets[*]})" >&2; exit 2; }
  build_one "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then wait "${pids[0]}" || exit 1; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p" || exit 1; done
t1=$(date +%s)
echo "   built in $((t1 - t0)) s"

export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:detect_leaks=1:allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# 2 GiB per input (one allocation or in all), 25 s per input while fuzzing; a regression input
# gets 60 s, so that a slow machine does not turn a fixed slowness finding back into a failure.
common=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1)

failures=()

# ---- 2. regression inputs ---------------------------------------------------------------------
echo "== fuzz.sh: replaying tests/fuzz/regressions"
for t in "${targets[@]}"; do
  dir=tests/fuzz/regressions/$t
  [ -d "$dir" ] || continue
  files=()
  while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$dir" -maxdepth 1 -type f ! -name '.*' ! -name 'README*' -print0 | sort -z)
  [ ${#files[@]} -gt 0 ] || continue
  for f in "${files[@]}"; do
    if ! "$out/fuzz_$t" "${common[@]}" -timeout=60 "$f" >"$out/logs/regression-$t.log" 2>&1; then
      echo "   FAIL $t: $f still fails (log: build-fuzz/logs/regression-$t.log)"
      tail -n 30 "$out/logs/regression-$t.log" | sed 's/^/      /'
      failures+=("$f (regression)")
    fi
  done
  echo "   $t: ${#files[@]} regression input(s) replayed"
done

# ---- 3. fuzzing -------------------------------------------------------------------------------
fuzz_one() {
  local t=$1
  local corpus=$out/corpus/$t art=$out/artifacts/$t/
  mkdir -p "$corpus" "$art"
  local start
  start=$(date +%s)
  # The first folder receives new inputs; the committed seeds stay as they are.
  # shellcheck disable=SC2086
  "$out/fuzz_$t" "${common[@]}" -timeout=25 -max_total_time="$seconds" -artifact_prefix="$art" ${FUZZ_FLAGS:-} \
    "$corpus" "tests/fuzz/corpus/$t" >"$out/logs/$t.log" 2>&1 || true
  echo $(($(date +%s) - start)) >"$out/logs/$t.seconds"
}

if [ "$seconds" -gt 0 ]; then
  echo "== fuzz.sh: fuzzing ${targets[*]} for $seconds s each ($jobs at a time)"
  rm -f "$out/summary.txt"
  declare -A pid_of=()
  running=()
  for t in "${targets[@]}"; do
    rm -rf "$out/artifacts/$t"
    fuzz_one "$t" &
    pid_of[$t]=$!
    running+=("$t")
    if [ ${#running[@]} -ge "$jobs" ]; then wait "${pid_of[${running[0]}]}" || true; running=("${running[@]:1}"); fi
  done
  for t in "${running[@]}"; do wait "${pid_of[$t]}" || true; done

  for t in "${targets[@]}"; do
    log=$out/logs/$t.log
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
    speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
    rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
    files=$(find "$out/corpus/$t" "tests/fuzz/corpus/$t" -type f | wc -l)
    bytes=$(find "$out/corpus/$t" "tests/fuzz/corpus/$t" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || true)
    found=0
    for a in "$out/artifacts/$t"/*; do
      [ -f "$a" ] || continue
      found=$((found + 1))
      mkdir -p "tests/fuzz/regressions/$t"
      dest=tests/fuzz/regressions/$t/$(basename "$a")
      cp "$a" "$dest"
      failures+=("$dest")
      echo "   FINDING $t: $dest (log: build-fuzz/logs/$t.log)"
      grep -m1 -E 'ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error:|zipml fuzz check failed|uncaught exception|terminate called' "$log" | sed 's/^/      /' || true
    done
    took=$(cat "$out/logs/$t.seconds" 2>/dev/null || echo '?')
    line="$t: ${execs:-?} executions in ${took} s (${speed:-?}/s), corpus ${files} files / ${bytes} bytes, ${cov:-cov ?}, peak RSS ${rss:-?} MB, findings ${found}"
    echo "   $line"
    echo "$(date -u +%Y-%m-%dT%H:%MZ) $line" >>"$out/summary.txt"
  done
fi
echo "== fuzz.sh: done in $(($(date +%s) - t0)) s"

if [ ${#failures[@]} -gt 0 ]; then
  echo "fuzz.sh: ${#failures[@]} failing input(s):" >&2
  printf '  %s\n' "${failures[@]}" >&2
  exit 1
fi
