#!/usr/bin/env bash
# zipml — installs the Debian 12 packages zipml needs. Native packages only: no foreign
# architecture is added, so a board architecture's index being out of sync cannot stop it.
#
#   bash scripts/install-deps.sh                 # the main job and the README's test command
#   bash scripts/install-deps.sh base fuzz       # + clang and libFuzzer (scripts/fuzz.sh)
#   bash scripts/install-deps.sh cross           # the ARM board builds (scripts/cross-test.sh)
#   bash scripts/install-deps.sh --list [GROUP]  # print the packages, install nothing
#   bash scripts/install-deps.sh --refresh       # refresh the indexes and bring the packages
#                                                # up to date even when all are installed
#
# Runs as root, or through sudo. Packages already installed are not fetched again (and then
# no index is refreshed at all). An `apt-get update` that fails is retried; when an index
# still cannot be read (a mirror mid-sync, an unreachable extra source), that is reported and
# the install goes on: it fails only when a package it needs cannot be installed, and then
# names that package.
#
# Environment (for tests of this script, and for unusual machines):
#   ZIPML_APT_OPTIONS       extra options for apt-get, e.g. "-o Dir::Etc::SourceParts=DIR"
#   ZIPML_APT_RETRIES       attempts at `apt-get update` (default 3)
#   ZIPML_APT_RETRY_DELAY   seconds before the first retry, doubled each time (default 5)
#   ZIPML_INSTALL_ANY_OS=1  try even when the system is not Debian 12
#   ZIPML_OS_RELEASE        the os-release file to read (default /etc/os-release)
set -uo pipefail

declare -A group_packages=(
  # build, the header-only library's dependencies, the programs, the tests, the RTL engine
  # (simulation and synthesis), the main job's data (Fashion-MNIST in
  # /usr/share/datasets/fashion-mnist), plots, the interop tests (LIBSVM's svm-scale,
  # numpy and scikit-learn for zero-based svmlight files) and the defaults suite (liblinear's
  # train and predict programs as the reference), Open MPI (mpirun -np P zipml-train, the
  # mpi suite), and the Python package (pybind11, meson-python, pytest, matplotlib for the
  # examples, venv for the pip-install test)
  [base]="build-essential meson ninja-build pkg-config cmake git
          libboost-dev xtensor-dev libxsimd-dev xtl-dev zlib1g-dev libdeflate-dev
          doctest-dev libcli11-dev libfmt-dev nlohmann-json3-dev
          verilator yosys
          dataset-fashion-mnist
          gnuplot-nox
          libsvm-tools liblinear-tools python3-numpy python3-sklearn
          libopenmpi-dev openmpi-bin
          pybind11-dev python3-dev python3-mesonpy python3-pytest python3-matplotlib python3-venv"
  # scripts/fuzz.sh: clang++ with libFuzzer and the sanitizer runtimes
  [fuzz]="clang libclang-rt-14-dev"
  # scripts/cross-test.sh: the cross compilers and qemu to run the board programs' tests.
  # All three are amd64 packages; the board programs need no ARM library package (fmt is
  # used header-only, zlib is left out: docs/BOARD.md).
  [cross]="g++-arm-linux-gnueabihf g++-aarch64-linux-gnu qemu-user-static"
)
group_order=(base fuzz cross)

say() { echo "install-deps.sh: $*"; }
fail() { echo "install-deps.sh: error: $*" >&2; exit 1; }

list_only=0
refresh=0
groups=()
for arg in "$@"; do
  case "$arg" in
    --list) list_only=1 ;;
    --refresh) refresh=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *)
      [ -n "${group_packages[$arg]+x}" ] || fail "unknown group '$arg': choose from ${group_order[*]}"
      groups+=("$arg")
      ;;
  esac
done
[ ${#groups[@]} -gt 0 ] || groups=(base)

packages=()
for g in "${groups[@]}"; do
  # shellcheck disable=SC2206  # the lists are words by design
  packages+=(${group_packages[$g]})
done

if [ "$list_only" = 1 ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

# --- Debian 12? The package names are Debian 12's (bookworm); elsewhere say what to install.
os_release=${ZIPML_OS_RELEASE:-/etc/os-release}
os_id="" os_version="" os_name="an unknown system"
if [ -f "$os_release" ] && [ -r "$os_release" ]; then
  os_id=$(. "$os_release" && echo "${ID:-}")
  os_version=$(. "$os_release" && echo "${VERSION_ID:-}")
  os_name=$(. "$os_release" && echo "${PRETTY_NAME:-${ID:-unknown}}")
fi
if [ "$os_id" != debian ] || [ "$os_version" != 12 ] || ! command -v apt-get >/dev/null 2>&1; then
  if [ "${ZIPML_INSTALL_ANY_OS:-0}" != 1 ] || ! command -v apt-get >/dev/null 2>&1; then
    {
      echo "install-deps.sh: this is $os_name, not Debian 12: install these packages (Debian 12 names) by hand,"
      echo "or their equivalents on your system, then run meson setup build && meson compile -C build:"
      echo
      printf '  %s\n' "${packages[@]}"
      echo
      command -v apt-get >/dev/null 2>&1 &&
        echo "(on a Debian-like system, ZIPML_INSTALL_ANY_OS=1 tries apt-get with these names)"
    } >&2
    exit 1
  fi
  say "warning: $os_name is not Debian 12; trying apt-get with Debian 12's package names"
fi

# --- What is missing? Nothing to do when every package is installed.
installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }
missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
if [ "$refresh" = 1 ]; then
  missing=("${packages[@]}")
elif [ ${#missing[@]} -eq 0 ]; then
  say "all ${#packages[@]} packages (${groups[*]}) are installed"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  {
    echo "install-deps.sh: ${#missing[@]} packages are missing and installing them needs root:"
    echo "run this script as root, install sudo, or have an administrator run:"
    echo
    echo "  apt-get install ${missing[*]}"
  } >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2206
apt_options=(${ZIPML_APT_OPTIONS:-})
apt() { "${sudo[@]}" apt-get "${apt_options[@]}" "$@"; }

# --- Refresh the indexes: retried, and never fatal by itself. apt-get update exits 100 when
# any one index fails (a mirror mid-sync: "File has unexpected size"), while the others,
# which hold what we install, were refreshed.
retries=${ZIPML_APT_RETRIES:-3}
delay=${ZIPML_APT_RETRY_DELAY:-5}
update_log=$(mktemp)
trap 'rm -f "$update_log"' EXIT
updated=0
for ((attempt = 1; attempt <= retries; attempt++)); do
  if apt update >"$update_log" 2>&1; then
    updated=1
    break
  fi
  if ((attempt < retries)); then
    say "apt-get update failed (attempt $attempt of $retries); retrying in ${delay} s"
    sleep "$delay"
    delay=$((delay * 2))
  fi
done
if [ "$updated" = 0 ]; then
  say "warning: apt-get update failed $retries times; these indexes could not be refreshed:"
  grep -E '^(E|W|Err):' "$update_log" | sed 's/^/  /' | head -20
  say "going on with the indexes apt has (the install fails below only if a package cannot be installed)"
fi

# --- Install, then check each package: a failure names the packages that did not install.
say "installing ${#missing[@]} packages: ${missing[*]}"
install_log=$(mktemp)
trap 'rm -f "$update_log" "$install_log"' EXIT
if ! apt install -y "${missing[@]}" 2>&1 | tee "$install_log"; then
  say "apt-get install failed; trying the packages one by one to find which cannot be installed"
  for p in "${missing[@]}"; do
    installed "$p" || apt install -y "$p" >>"$install_log" 2>&1 || true
  done
fi
not_installed=()
for p in "${missing[@]}"; do
  installed "$p" || not_installed+=("$p")
done
if [ ${#not_installed[@]} -gt 0 ]; then
  {
    echo "install-deps.sh: error: these packages could not be installed: ${not_installed[*]}"
    for p in "${not_installed[@]}"; do
      candidate=$(apt-cache policy "$p" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
      if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
        echo "  $p: no installable version in the package indexes"
      else
        echo "  $p: version $candidate did not install; apt said:"
        grep -E "^(E:|W:| $p :)" "$install_log" | grep -v '^W: Download is performed unsandboxed' | sed 's/^/    /' | head -8
      fi
    done
    [ "$updated" = 0 ] && echo "  (apt-get update had failed: a mirror may be mid-sync; try again in a few minutes)"
  } >&2
  exit 1
fi
say "installed ${#missing[@]} packages; all ${#packages[@]} (${groups[*]}) are there"
