#!/usr/bin/env bash
# zipml as a library user meets it: `meson install --destdir` of this build, then a small
# program outside the tree (project/consumer.cpp: trains a tiny model, prints its accuracy)
# built and run three ways:
#   meson-pkgconfig  Meson, dependency('zipml') through the installed zipml.pc
#   cmake            CMake, find_package(zipml) -> zipml::zipml
#   meson-subproject Meson, zipml as a subproject (subprojects/zipml), no install
# Usage: test_consumer.sh MESON BUILD_ROOT SOURCE_ROOT PREFIX [CMAKE]
# A missing CMake skips that part. Exit 0 if every part that ran passed.
set -uo pipefail
meson=$1 build_root=$2 source_root=$3 prefix=$4 cmake=${5:-}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0 passed=0
step() { # step NAME command... : runs the command with its output in $tmp/NAME.log
  local name=$1
  shift
  if "$@" >"$tmp/$name.log" 2>&1; then
    return 0
  fi
  echo "FAIL $name: $*"
  sed 's/^/    /' "$tmp/$name.log" | tail -40
  failed=$((failed + 1))
  return 1
}
report() { # report NAME LOG : the consumer's accuracy line
  echo "ok   $1: $(grep -h 'consumer: accuracy' "$2")"
  passed=$((passed + 1))
}

# 1. Install this build into a staging folder, as a packager does.
stage=$tmp/stage
step install "$meson" install -C "$build_root" --no-rebuild --quiet --destdir "$stage" || exit 1
root=$stage$prefix
for f in include/zipml/zipml.hpp include/zipml/backend/cpu.hpp share/pkgconfig/zipml.pc \
         share/cmake/zipml/zipmlConfig.cmake share/cmake/zipml/zipmlConfigVersion.cmake; do
  if [ ! -f "$root/$f" ]; then
    echo "FAIL install: $prefix/$f was not installed"
    exit 1
  fi
done
echo "ok   install: headers, zipml.pc and the CMake package under $prefix"

# The installed files name the real prefix; PKG_CONFIG_SYSROOT_DIR maps it into the staging
# folder (CMake's package is relocatable and needs no such help). A relocatable zipml.pc
# (meson setup -Dpkgconfig.relocatable=true) already points into the staging folder.
export PKG_CONFIG_PATH=$root/share/pkgconfig
if [ "$(pkg-config --variable=prefix zipml 2>/dev/null)" = "$prefix" ]; then
  export PKG_CONFIG_SYSROOT_DIR=$stage
fi

# 2. Meson + pkg-config.
mkdir "$tmp/meson-pc"
cp "$here/project/consumer.cpp" "$here/project/meson.build" "$tmp/meson-pc/"
if step meson-setup "$meson" setup "$tmp/meson-pc/build" "$tmp/meson-pc" --buildtype=plain &&
   step meson-compile "$meson" compile -C "$tmp/meson-pc/build" &&
   step meson-run "$tmp/meson-pc/build/consumer"; then
  report meson-pkgconfig "$tmp/meson-run.log"
fi
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR

# 3. CMake + find_package.
if [ -n "$cmake" ]; then
  mkdir "$tmp/cmake"
  cp "$here/project/consumer.cpp" "$here/project/CMakeLists.txt" "$tmp/cmake/"
  if step cmake-configure "$cmake" -S "$tmp/cmake" -B "$tmp/cmake/build" -DCMAKE_PREFIX_PATH="$root" &&
     step cmake-build "$cmake" --build "$tmp/cmake/build" &&
     step cmake-run "$tmp/cmake/build/consumer"; then
    report cmake "$tmp/cmake-run.log"
  fi
else
  echo "skip cmake: CMake is not installed"
fi

# 4. Meson subproject: a copy of the source tree in subprojects/zipml.
sub=$tmp/meson-sub
mkdir -p "$sub/subprojects/zipml"
cp "$here/project/consumer.cpp" "$sub/"
cp "$here/project/subproject.meson.build" "$sub/meson.build"
for entry in "$source_root"/* "$source_root"/.[!.]*; do   # the source tree without build folders
  [ -e "$entry" ] || continue
  case $(basename "$entry") in .git | subprojects | build*) continue ;; esac
  [ -d "$entry/meson-private" ] && continue
  cp -r "$entry" "$sub/subprojects/zipml/"
done
if step sub-setup "$meson" setup "$sub/build" "$sub" --buildtype=plain --force-fallback-for=zipml &&
   step sub-compile "$meson" compile -C "$sub/build" consumer &&
   step sub-run "$sub/build/consumer"; then
  report meson-subproject "$tmp/sub-run.log"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
