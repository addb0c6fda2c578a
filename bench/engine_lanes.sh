#!/usr/bin/env bash
# zipml — K model lanes of the RTL engine on the PYNQ-Z1's xc7z020, per precision: the largest
# K that fits at one word per cycle for d = 785, the Yosys resource table for K = 1 and that
# K (and the resource that binds), the simulated cycles per stream word, and the projected
# board time per epoch at 100 MHz against the original's 0.52 s per class for 10 MNIST epochs
# (10000 x 785, float32).
#
#   bench/engine_lanes.sh [BUILD_DIR [PRECISION...]]
#
# BUILD_DIR is a configured Meson build directory (default: build); the script builds
# tests/cosim/engine_cycles there (`ninja -C BUILD_DIR engine-lanes` runs it all). Precisions
# default to 32 8 4 2 1 (32 = float32). Environment:
#   MAX_DIM  engine MAX_DIM for synthesis (default 1024: d = 785 fits)
#   JOBS     parallel Yosys runs (default 2); each run takes minutes, a 10-lane one longer
#   KMAX     largest K searched (default 16: ten classes need 10)
#   ROWS     rows per simulated epoch for the cycle count (default 10000: the original's MNIST run)
#   OUT      Yosys outputs (default BUILD_DIR/lanes-synth); finished runs are reused
#   ENGINE_CYCLES  the engine_cycles program (default: built in BUILD_DIR)
#
# K is searched, not swept: K = 1 and K = 2 give the per-lane cost of every resource, the
# resource that runs out first predicts K, and Yosys runs at the prediction and next to it
# (then bisection, if the prediction was off) find the largest K that fits.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${1:-build}"
shift $(( $# > 1 ? 1 : $# ))
precisions=("$@")
[ ${#precisions[@]} -eq 0 ] && precisions=(32 8 4 2 1)
max_dim="${MAX_DIM:-1024}"
jobs="${JOBS:-2}"
kmax="${KMAX:-16}"
rows="${ROWS:-10000}"
out="${OUT:-$build/lanes-synth}"
d=785

# xc7z020 (PYNQ-Z1)
dev=(53200 106400 220 140)
names=(LUT FF DSP48E1 BRAM36)

mkdir -p "$out"
tag() { [ "$1" = 32 ] && echo f32 || echo "q$1"; }
pname() { [ "$1" = 32 ] && echo float32 || echo "$1-bit"; }

# synth P K: runs Yosys once (skipped when its table line exists), prints "LUT FF DSP BRAM36"
synth() {
  local p="$1" k="$2" dir="$out/k$2" line
  line="$dir/$(tag "$p").line"
  if [ ! -s "$line" ]; then
    mkdir -p "$dir"
    MAX_DIM="$max_dim" LANES="$k" JOBS=1 bash "$root/rtl/synth/synth.sh" "$root/rtl" "$dir" "$p" 2>/dev/null |
      awk 'NR == 2 { print $2, $4, $6, $8 }' > "$line.tmp" || true
    mv "$line.tmp" "$line"
  fi
  cat "$line"
}

# synth_all K P...: the runs of one K, JOBS at a time
synth_all() {
  local k="$1" p pids=()
  shift
  for p in "$@"; do
    synth "$p" "$k" > /dev/null &
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  done
  for p in "${pids[@]}"; do wait "$p"; done
}

fits() { # "LUT FF DSP BRAM" -> exit 0 when every one fits the device (a failed run does not)
  [ $# -eq 4 ] || return 1
  awk -v l="$1" -v f="$2" -v d="$3" -v b="$4" \
    "BEGIN { exit !(l <= ${dev[0]} && f <= ${dev[1]} && d <= ${dev[2]} && b <= ${dev[3]}) }"
}

echo "== Yosys 0.23 synth_xilinx, xc7z020, MAX_DIM $max_dim (d = $d), $(date -u +%F)"
synth_all 1 "${precisions[@]}"
synth_all 2 "${precisions[@]}"

# lanes_fitting K1 K2 CAP: lanes of one resource the device holds, from its use at K = 1 and 2
# (per lane = K2 - K1, shared = K1 - per lane); 1000000 when a lane needs none of it
lanes_fitting() {
  awk -v a="$1" -v b="$2" -v cap="$3" 'BEGIN { inc = b - a; base = a - inc; printf "%.3f", (inc > 0) ? (cap - base) / inc : 1000000 }'
}

declare -A best bind bound bound_by
for p in "${precisions[@]}"; do
  read -r -a r1 <<< "$(synth "$p" 1)"
  read -r -a r2 <<< "$(synth "$p" 2)"
  # per-lane cost from K = 1 -> 2; the prediction is the resource that runs out first, and
  # ten lanes need at least 10 / (its lanes) cycles per word (below)
  pred=1000000 binding="" least=1000000
  for i in 0 1 2 3; do
    f=$(lanes_fitting "${r1[$i]}" "${r2[$i]}" "${dev[$i]}")
    k=${f%.*}
    if [ "$k" -lt "$pred" ]; then pred=$k; binding=${names[$i]}; fi
    if awk -v x="$f" -v y="$least" 'BEGIN { exit !(x < y) }'; then least=$f; bound_by[$p]=${names[$i]}; fi
  done
  bound[$p]=$(awk -v f="$least" 'BEGIN { printf "%.2f", 10 / f }')
  [ "$pred" -gt "$kmax" ] && binding="$binding (predicted at K = $((pred + 1)), beyond KMAX)" && pred=$kmax
  [ "$pred" -lt 1 ] && pred=1
  # bisection between the largest K known to fit and the smallest known not to, probing the
  # prediction and its neighbour first
  lo=0 hi=$((kmax + 1))
  fits $(synth "$p" 1) && lo=1
  fits $(synth "$p" 2) && lo=2 || hi=2
  probe=$pred
  while [ $((hi - lo)) -gt 1 ]; do
    [ "$probe" -le "$lo" ] || [ "$probe" -ge "$hi" ] && probe=$(( (lo + hi) / 2 ))
    if fits $(synth "$p" "$probe"); then lo=$probe; probe=$((probe + 1)); else hi=$probe; probe=$((probe - 1)); fi
  done
  best[$p]=$lo
  # which resource stops K + 1 (measured when that run exists, else the prediction's)
  if [ "$hi" -le "$kmax" ] && [ -s "$out/k$hi/$(tag "$p").line" ]; then
    read -r -a rh <<< "$(synth "$p" "$hi")"
    for i in 0 1 2 3; do
      if ! awk -v a="${rh[$i]}" -v c="${dev[$i]}" 'BEGIN { exit !(a > c) }'; then continue; fi
      binding=${names[$i]}; break
    done
  fi
  bind[$p]=$binding
done

printf '\n%-9s %4s %8s %6s %8s %6s %5s %6s %7s %6s  %s\n' precision K LUT % FF % DSP % BRAM36 % "binds at K+1"
for p in "${precisions[@]}"; do
  for k in 1 "${best[$p]}"; do
    [ "$k" = 0 ] && continue
    read -r -a r <<< "$(synth "$p" "$k")"
    printf '%-9s %4d %8d %6.1f %8d %6.1f %5d %6.1f %7s %6.1f  %s\n' "$(pname "$p")" "$k" \
      "${r[0]}" "$(awk -v a="${r[0]}" -v c="${dev[0]}" 'BEGIN { print 100 * a / c }')" \
      "${r[1]}" "$(awk -v a="${r[1]}" -v c="${dev[1]}" 'BEGIN { print 100 * a / c }')" \
      "${r[2]}" "$(awk -v a="${r[2]}" -v c="${dev[2]}" 'BEGIN { print 100 * a / c }')" \
      "${r[3]}" "$(awk -v a="${r[3]}" -v c="${dev[3]}" 'BEGIN { print 100 * a / c }')" \
      "$([ "$k" = "${best[$p]}" ] && echo "${bind[$p]}")"
    [ "${best[$p]}" = 1 ] && break
  done
done

echo
echo "== ten lanes: the fewest cycles per stream word any design with this arithmetic could take, if each"
echo "   lane's datapath were shared s ways with no overhead: shared + 10 x (per lane) / s must fit every"
echo "   resource (per lane and shared from K = 1 and 2; docs/RTL.md \"Ten lanes at 4, 2 and 1 bits\")"
printf '%-9s %12s %12s\n' precision 'cycles/word' 'bound by'
for p in "${precisions[@]}"; do printf '%-9s %12s %12s\n' "$(pname "$p")" "${bound[$p]}" "${bound_by[$p]}"; done

echo
echo "== simulated cycles per stream word, d = $d, $rows rows (tests/cosim/engine_cycles)"
cycles_bin="${ENGINE_CYCLES:-}"
if [ -z "$cycles_bin" ]; then
  ninja -C "$build" tests/cosim/engine_cycles > /dev/null
  cycles_bin="$build/tests/cosim/engine_cycles"
fi
cyc="$out/cycles.txt"
{
  "$cycles_bin" "$rows" 1 "$d"
  "$cycles_bin" "$rows" 10 "$d" | tail -n +2
} | tee "$cyc"

echo
echo "== projected board time at 100 MHz, MNIST 10000 x $d, 10 classes, 10 epochs: a pass takes the stream's"
echo "   words plus the measured overhead (drain, write-back of 10 models: cycles - words above), one cycle each;"
echo "   ceil(10 / K) passes per epoch. The original (floatFSGD, one class per pass): 0.52 s per class, 5.2 s"
printf '%-9s %5s %6s %9s %11s %9s %10s %12s %9s\n' precision K passes words/row words/pass overhead 's/epoch' 's 10 classes' speed-up
for p in "${precisions[@]}"; do
  name=$(pname "$p")
  k="${best[$p]}"
  [ "$k" -gt 10 ] && k=10
  # overhead of the ten-lane run where there is one (an upper bound for fewer lanes)
  cname=$([ "$p" = 32 ] && echo float32 || echo "q$p") # engine_cycles' names
  over=$(awk -v n="$cname" -v k="$k" '$1 == n && $4 == ((k > 1) ? 10 : 1) && $5 == 1 { print $7 - $6 }' "$cyc")
  wpr=$(awk -v p="$p" -v d="$d" 'BEGIN { v = (p == 32) ? 2 : 64 / p; print int((d + v - 1) / v) + 1 }')
  awk -v n="$name" -v k="$k" -v wpr="$wpr" -v over="${over:-0}" 'BEGIN {
    words = 10000 * wpr + 1; passes = int((10 + k - 1) / k); epoch = passes * (words + over) / 1e8
    printf "%-9s %5d %6d %9d %11d %9d %10.4f %12.3f %8.1fx\n", n, k, passes, wpr, words, over, epoch, 10 * epoch,
           5.2 / (10 * epoch) }'
done
