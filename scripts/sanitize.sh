#!/usr/bin/env bash
# Runs the `sanitize` test suite: the C++ tests whose native code the sanitizers check, and the
# programs' CLI tests, compiled once more with AddressSanitizer + UndefinedBehaviorSanitizer
# (-Og, assertions on) IN THE SAME BUILD as the ordinary tests, so that the Verilated engines
# and Verilator's runtime (uninstrumented either way) are compiled once for both. Any sanitizer
# report aborts the test that made it, so the run fails. What is in the suite and why:
# docs/RELIABILITY.md.
#
#   bash scripts/sanitize.sh                 # build dir build/ (configured if needed)
#   BUILD_DIR=/tmp/b bash scripts/sanitize.sh
#   bash scripts/sanitize.sh asan-sgd        # extra arguments go to `meson test`
#
# It turns the suite on in that build (-Dsanitize_suite=true: from then on a plain `ninja`
# there builds the sanitized copies too; -Dsanitize_suite=false turns it off again) and runs
# `meson test --setup sanitize --suite sanitize`: the test setup `sanitize` (meson.build) sets
# ASAN_OPTIONS/UBSAN_OPTIONS so that every finding is fatal, and gives each test three times
# its timeout. The README's test command (the default setup) leaves the suite out.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dsanitize_suite=true
elif [ "$(meson introspect "$build" --buildoptions | python3 -c '
import json, sys
print(next((o["value"] for o in json.load(sys.stdin) if o["name"] == "sanitize_suite"), False))')" != True ]; then
  meson configure "$build" -Dsanitize_suite=true
fi
meson test -C "$build" --setup sanitize --suite sanitize --print-errorlogs "$@"
