#!/usr/bin/env bash
# Builds zipml a second time with AddressSanitizer and UndefinedBehaviorSanitizer (in
# build-sanitize/), only what the suites below run, and runs the `unit` suite there and, when
# the RTL engine is built, `cosim` and `load`. Any sanitizer report aborts the test that made
# it, so the run fails.
#
#   bash scripts/sanitize.sh            # configure (once), build, test
#   BUILD_DIR=/tmp/san bash scripts/sanitize.sh
#   SANITIZE_RTL=0 bash scripts/sanitize.sh   # without the Verilated engine: unit suite only
#
# Extra arguments are passed to `meson test` (e.g. a test name to run only that one).
# The Verilated engines are compiled without instrumentation (rtl/meson.build): our code
# around them is what is checked.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${BUILD_DIR:-build-sanitize}

if [ ! -f "$build/build.ninja" ]; then
  # b_lundef=false: the sanitizer runtimes resolve symbols at run time (needed with clang,
  # harmless with gcc). -O1 -g1: fast enough for the cosim and load suites, with a line in
  # every stack frame, and half the compile time of -O2 -g (zipml-train: 5 against 10 minutes).
  rtl=()
  [ "${SANITIZE_RTL:-1}" = 0 ] && rtl=(-Drtl=disabled)
  meson setup "$build" -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=plain \
    -Doptimization=1 -Ddebug=false -Dcpp_args=-g1 "${rtl[@]}"
fi
suites=(unit)
# (the list is read whole first: with pipefail, `grep -q` closing the pipe early would fail it)
listed=$(meson test -C "$build" --no-rebuild --list 2>/dev/null || true)
if grep -q '^zipml:cosim / ' <<<"$listed"; then
  # cosim, and the million-sample load test (suite load), whose leak check covers the
  # Verilator backend end to end
  suites+=(cosim load)
fi

# Build only what those suites run (the slow suite's programs, the benchmarks and the synthesis
# reports are not needed here): the tests' executables and what they depend on.
mapfile -t outputs < <(meson introspect "$build" --tests --targets | python3 -c '
import json, os, sys
build, suites = sys.argv[1], set(sys.argv[2:])
info = json.load(sys.stdin)
by_id = {t["id"]: t for t in info["targets"]}
want = set()
for test in info["tests"]:
    if not suites & {s.split(":", 1)[-1] for s in test["suite"]}:
        continue
    want.update(test["depends"])
    for t in info["targets"]:  # the program the test runs, when it is one of ours
        if test["cmd"] and test["cmd"][0] in t["filename"]:
            want.add(t["id"])
for i in sorted(want):
    for f in by_id[i]["filename"]:
        print(os.path.relpath(f, os.path.abspath(build)))
' "$build" "${suites[@]}")
ninja -C "$build" "${outputs[@]}"

# Every finding is fatal: ASan aborts by default, UBSan only with halt_on_error=1.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:print_summary=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# Sanitized binaries run 2-5x slower: give every test three times its timeout.
suite_args=()
for s in "${suites[@]}"; do suite_args+=(--suite "$s"); done
meson test -C "$build" --no-rebuild "${suite_args[@]}" --print-errorlogs --timeout-multiplier 3 "$@"
