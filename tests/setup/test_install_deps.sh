#!/usr/bin/env bash
# Tests scripts/install-deps.sh against a stand-in apt (stubs of apt-get, apt-cache,
# dpkg-query, id and sudo on PATH, no real package is touched): an index that cannot be
# refreshed (a board architecture's mirror mid-sync) must not stop the install; a package that
# cannot be installed must be named; no root and no sudo, and a system that is not Debian 12,
# must each get a clear message. With root, one case runs the REAL apt-get update with an
# extra source that cannot be fetched (and reinstalls nothing: every package is there).
#
#   bash tests/setup/test_install_deps.sh SCRIPT
set -uo pipefail
script=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Tools the script may use, and nothing else (so that `sudo` is absent unless a case adds it).
tools="$work/tools"
mkdir -p "$tools"
for t in bash sh sed grep head mktemp rm tee sleep cat env dirname realpath; do
  ln -s "$(command -v "$t")" "$tools/$t"
done

# The stand-in apt. State in $FAKE/db (installed packages, one a line) and $FAKE/log (calls).
make_stubs() {
  local bin="$1"
  mkdir -p "$bin"
  cat >"$bin/apt-get" <<'STUB'
#!/usr/bin/env bash
echo "apt-get $*" >>"$FAKE/log"
args=()
for a in "$@"; do case "$a" in -o|Dir::*) ;; *) args+=("$a") ;; esac; done
case "${args[0]}" in
  update)
    n=$(($(cat "$FAKE/updates" 2>/dev/null || echo 0) + 1)); echo "$n" >"$FAKE/updates"
    if [ "$n" -le "${FAKE_UPDATE_FAILS:-0}" ]; then
      echo "Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]"
      echo "E: Failed to fetch http://deb.debian.org/debian-security/dists/bookworm-security/main/binary-armhf/Packages.xz  File has unexpected size (139548 != 139616). Mirror sync in progress? [IP: 151.101.2.132 80]" >&2
      echo "E: Some index files failed to download. They have been ignored, or old ones used instead." >&2
      exit 100
    fi
    echo "Reading package lists..."; exit 0 ;;
  install)
    pkgs=("${args[@]:2}")
    for p in "${pkgs[@]}"; do
      if [ "$p" = "${FAKE_UNINSTALLABLE:-}" ]; then
        echo "E: Unable to locate package $p" >&2; exit 100
      fi
    done
    printf '%s\n' "${pkgs[@]}" >>"$FAKE/db"; exit 0 ;;
esac
exit 0
STUB
  cat >"$bin/apt-cache" <<'STUB'
#!/usr/bin/env bash
[ "$1" = policy ] || exit 0
if [ "$2" = "${FAKE_UNINSTALLABLE:-}" ]; then echo "$2:"; echo "  Installed: (none)"; echo "  Candidate: (none)"
else echo "$2:"; echo "  Installed: (none)"; echo "  Candidate: 1.0-1"; fi
STUB
  cat >"$bin/dpkg-query" <<'STUB'
#!/usr/bin/env bash
p="${@: -1}"
grep -qxF "$p" "$FAKE/db" 2>/dev/null && printf installed || printf not-installed
STUB
  cat >"$bin/id" <<'STUB'
#!/usr/bin/env bash
echo "${FAKE_UID:-0}"
STUB
  chmod +x "$bin"/*
}

debian12="$work/debian12-os-release"
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n' >"$debian12"

# run NAME [ENV...] -- ARGS: a fresh stand-in state; output in $work/NAME.out, exit code in $rc
run() {
  local name="$1"; shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  export FAKE="$work/$name"
  rm -rf "$FAKE"; mkdir -p "$FAKE"; : >"$FAKE/db"; : >"$FAKE/log"
  make_stubs "$FAKE/bin"
  [ -n "${PRESEED:-}" ] && printf '%s\n' $PRESEED >"$FAKE/db"
  env -i PATH="$FAKE/bin:$tools" HOME="$work" ZIPML_OS_RELEASE="$debian12" ZIPML_APT_RETRY_DELAY=0 FAKE="$FAKE" \
    "${envs[@]}" bash "$script" "$@" >"$work/$name.out" 2>&1
  rc=$?
}
expect() { grep -q -- "$2" "$work/$1.out" || fail "$1: output lacks '$2':"$'\n'"$(cat "$work/$1.out")"; }
all=$(bash "$script" --list)
count=$(echo "$all" | wc -l)

# 1. Every update fails (the armhf index mid-sync, as on 2026-12-05): reported, retried three
#    times, and the install goes on and succeeds.
run mirror-sync FAKE_UPDATE_FAILS=99 --
[ "$rc" = 0 ] || fail "mirror-sync: exit $rc, want 0"
[ "$(cat "$work/mirror-sync/updates")" = 3 ] || fail "mirror-sync: $(cat "$work/mirror-sync/updates") updates, want 3 attempts"
expect mirror-sync "could not be refreshed"
expect mirror-sync "binary-armhf/Packages.xz"
expect mirror-sync "all $count (base) are there"
[ "$(sort -u "$work/mirror-sync/db" | wc -l)" = "$count" ] || fail "mirror-sync: not every package was installed"

# 2. The first update fails, the retry works: no warning.
run retry FAKE_UPDATE_FAILS=1 --
[ "$rc" = 0 ] || fail "retry: exit $rc, want 0"
[ "$(cat "$work/retry/updates")" = 2 ] || fail "retry: want 2 update attempts"
grep -q "could not be refreshed" "$work/retry.out" && fail "retry: warned although the second update worked"

# 3. A package that cannot be installed is named, and the script fails.
run uninstallable FAKE_UPDATE_FAILS=99 FAKE_UNINSTALLABLE=yosys --
[ "$rc" = 1 ] || fail "uninstallable: exit $rc, want 1"
expect uninstallable "could not be installed: yosys"
expect uninstallable "yosys: no installable version"
expect uninstallable "mirror may be mid-sync"

# 4. Everything installed: no apt call at all.
PRESEED="$all" run installed --
[ "$rc" = 0 ] || fail "installed: exit $rc"
grep -q apt-get "$work/installed/log" && fail "installed: apt-get was called"
expect installed "are installed"

# 5. Not root and no sudo: what to do, and the packages.
run no-sudo FAKE_UID=1000 --
[ "$rc" = 1 ] || fail "no-sudo: exit $rc, want 1"
expect no-sudo "needs root"
expect no-sudo "apt-get install .*verilator"
grep -q apt-get "$work/no-sudo/log" && fail "no-sudo: apt-get was called"

# 6. Not root, with sudo: apt-get goes through sudo.
export FAKE="$work/sudo"
run with-sudo FAKE_UID=1000 -- || true
cat >"$work/with-sudo/bin/sudo" <<'STUB'
#!/usr/bin/env bash
echo "sudo $*" >>"$FAKE/log"
exec "$@"
STUB
chmod +x "$work/with-sudo/bin/sudo"
FAKE="$work/with-sudo" env -i PATH="$work/with-sudo/bin:$tools" ZIPML_OS_RELEASE="$debian12" ZIPML_APT_RETRY_DELAY=0 \
  FAKE="$work/with-sudo" FAKE_UID=1000 bash "$script" >"$work/with-sudo.out" 2>&1
rc=$?
[ "$rc" = 0 ] || fail "with-sudo: exit $rc:"$'\n'"$(cat "$work/with-sudo.out")"
grep -q "^sudo apt-get update" "$work/with-sudo/log" || fail "with-sudo: apt-get update not run through sudo"

# 7. Not Debian 12: the packages to install by hand, and nothing run.
printf 'PRETTY_NAME="Fedora Linux 40"\nID=fedora\nVERSION_ID=40\n' >"$work/fedora-os-release"
run fedora ZIPML_OS_RELEASE="$work/fedora-os-release" --
[ "$rc" = 1 ] || fail "fedora: exit $rc, want 1"
expect fedora "this is Fedora Linux 40, not Debian 12"
expect fedora "  xtensor-dev"
grep -q apt-get "$work/fedora/log" && fail "fedora: apt-get was called"

# 8. The cross group: native packages only (no ':armhf' or ':arm64').
bash "$script" --list cross base fuzz | grep -q ':' && fail "a package of a foreign architecture is listed"

# 9. The real apt, as root: an extra source that cannot be fetched makes `apt-get update` exit
#    100; the script reports it and goes on (every package is installed already: --refresh
#    reinstalls nothing, it only asks apt).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ -d /etc/apt/sources.list.d ] &&
   bash "$script" >/dev/null 2>&1; then
  parts="$work/sources.list.d"
  mkdir -p "$parts"
  cp /etc/apt/sources.list.d/* "$parts/" 2>/dev/null
  [ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$parts/main.list"
  echo "deb [trusted=yes] file:$work/no-such-mirror bookworm main" >"$parts/zipml-test-broken.list"
  ZIPML_APT_OPTIONS="-o Dir::Etc::SourceParts=$parts -o Dir::Etc::SourceList=/dev/null" ZIPML_APT_RETRIES=2 \
    ZIPML_APT_RETRY_DELAY=0 bash "$script" --refresh >"$work/real.out" 2>&1
  rc=$?
  [ "$rc" = 0 ] || fail "real apt: exit $rc:"$'\n'"$(tail -20 "$work/real.out")"
  expect real "could not be refreshed"
  expect real "no-such-mirror"
  # the broken source's (empty) lists must not stay behind
  apt-get update -qq >/dev/null 2>&1 || true
else
  echo "(real apt case skipped: needs root, apt-get and every package installed)"
fi

if [ "$failures" -gt 0 ]; then
  echo "$failures failed"
  exit 1
fi
echo "install-deps.sh: all cases passed"
