#!/usr/bin/env bash
# docs/OPTIONS.md and --help agree: every option of zipml-train and zipml-predict in --help has
# a row in its program's section of the document (a table line starting "| `--name"), and
# every option documented there exists (the first cell of a row names it). Suite `unit`.
# Usage: test_options_doc.sh OPTIONS.md ZIPML_TRAIN ZIPML_PREDICT
set -uo pipefail
doc=$1
shift
failed=0
for program in "$@"; do
  name=$(basename "$program")
  # Long options in --help: the first column of each option line ("  -q,--quiet  ...").
  help=$("$program" --help | sed -n 's/^ \{1,\}\(-[a-zA-Z],\)\{0,1\}\(--[a-z0-9-]*\).*/\2/p' | sort -u)
  # Options in the document: table rows of the section "## <name>" up to the next "## ".
  documented=$(awk -v section="## $name" '
    /^## / { inside = ($0 == section || index($0, section " ") == 1) }
    inside && /^\| *`-/ { split($0, cell, "|"); print cell[2] }' "$doc" |
    grep -o -- '--[a-z0-9-]*' | sort -u)
  if [ -z "$help" ]; then
    echo "FAIL $name: no options found in --help"
    failed=$((failed + 1))
    continue
  fi
  if [ -z "$documented" ]; then
    echo "FAIL $name: no section '## $name' with option rows in $doc"
    failed=$((failed + 1))
    continue
  fi
  missing=$(comm -23 <(echo "$help") <(echo "$documented"))
  extra=$(comm -13 <(echo "$help") <(echo "$documented"))
  if [ -n "$missing" ]; then
    echo "FAIL $name: in --help but not in $doc:" $missing
    failed=$((failed + 1))
  fi
  if [ -n "$extra" ]; then
    echo "FAIL $name: in $doc but not in --help:" $extra
    failed=$((failed + 1))
  fi
  [ -z "$missing$extra" ] && echo "ok   $name: $(echo "$help" | wc -l) options documented"
done
[ "$failed" -eq 0 ]
