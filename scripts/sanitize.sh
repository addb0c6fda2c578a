#!/usr/bin/env bash
# Builds zipml a second time with AddressSanitizer and UndefinedBehaviorSanitizer (in
# build-sanitize/) and runs the fast test suites there: `unit` and, when the RTL engine is
# built, `cosim`. Any sanitizer report aborts the test that made it, so the run fails.
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
  # harmless with gcc). debugoptimized: -O2 -g, fast enough for the cosim suite, with lines in
  # every stack trace.
  rtl=()
  [ "${SANITIZE_RTL:-1}" = 0 ] && rtl=(-Drtl=disabled)
  meson setup "$build" -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized "${rtl[@]}"
fi
meson compile -C "$build"

# Every finding is fatal: ASan aborts by default, UBSan only with halt_on_error=1.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:print_summary=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

suites=(--suite unit)
if meson test -C "$build" --no-rebuild --list 2>/dev/null | grep -q '^zipml:cosim / '; then
  # cosim, and the million-sample load test (suite load), whose leak check covers the
  # Verilator backend end to end
  suites+=(--suite cosim --suite load)
fi

# Sanitized binaries run 2-5x slower: give every test three times its timeout.
meson test -C "$build" "${suites[@]}" --print-errorlogs --timeout-multiplier 3 "$@"
