#!/usr/bin/env bash
# zipml — synthesizes sgd_engine for the PYNQ-Z1's xc7z020 with Yosys, one run per precision,
# and prints LUT, FF, DSP48E1 and block RAM use against the device.
#
#   rtl/synth/synth.sh [RTL_DIR [OUT_DIR [PRECISION...]]]
#
# RTL_DIR defaults to this script's parent, OUT_DIR to ./synth-out, precisions to 32 1 2 4 8
# (32 = float32). Environment: MAX_DIM (default 4096), LANES (default 1), JOBS (parallel Yosys
# runs, default 1). Exit status 1 if a configuration does not fit the device.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rtl="${1:-$(dirname "$here")}"
out="${2:-synth-out}"
shift $(( $# > 2 ? 2 : $# ))
precisions=("$@")
[ ${#precisions[@]} -eq 0 ] && precisions=(32 1 2 4 8)
max_dim="${MAX_DIM:-4096}"
lanes="${LANES:-1}"
jobs="${JOBS:-1}"

# xc7z020 (PYNQ-Z1)
dev_lut=53200 dev_ff=106400 dev_dsp=220 dev_bram36=140

modules="zipml_pkg sdp_ram fifo2 exact_mul float_to_fixed feature_decode feature_unpack dot_product gradient_unit shared_gradient
         model_updater output_writer stream_decoder sgd_lane sgd_engine"
files=""
for m in $modules; do files="$files $rtl/$m.sv"; done

mkdir -p "$out"

run_one() {
  local p="$1" tag="q$1"
  [ "$p" = 32 ] && tag="f32"
  yosys -q -l "$out/$tag.log" -p "read_verilog -sv $files;
    chparam -set PRECISION $p -set MAX_DIM $max_dim -set LANES $lanes sgd_engine;
    synth_xilinx -family xc7 -top sgd_engine -flatten -noiopad;
    tee -q -o $out/$tag.stat stat" > /dev/null 2>&1 || { echo "yosys failed for precision $p: see $out/$tag.log" >&2; return 1; }
}

pids=()
for p in "${precisions[@]}"; do
  run_one "$p" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for pid in "${pids[@]}"; do wait "$pid"; done

fits=1
printf '%-9s %8s %6s %8s %6s %5s %6s %9s %6s  (xc7z020, MAX_DIM %s, LANES %s)\n' \
  precision LUT '%' FF '%' DSP '%' 'BRAM36' '%' "$max_dim" "$lanes"
for p in "${precisions[@]}"; do
  tag="q$p"; name="$p-bit"
  [ "$p" = 32 ] && { tag="f32"; name="float32"; }
  # cells of the flattened top: LUTs (logic + LUTs used as memory), flip-flops, DSPs, RAMB
  read -r lut ff dsp b36 b18 < <(awk '
    /^ +[A-Z][A-Za-z0-9_]+ +[0-9]+$/ {
      c=$1; n=$2
      if (c ~ /^LUT[1-6]$/) lut+=n
      else if (c=="RAM32M" || c=="RAM64M" || c=="RAM128X1D") lut+=4*n
      else if (c=="RAM32X1D" || c=="RAM64X1D") lut+=2*n
      else if (c=="RAM32X1S" || c=="RAM64X1S" || c=="SRL16E" || c=="SRLC32E") lut+=n
      else if (c ~ /^FD[A-Z]*$/) ff+=n
      else if (c=="DSP48E1") dsp+=n
      else if (c=="RAMB36E1") b36+=n
      else if (c=="RAMB18E1") b18+=n
    }
    END { printf "%d %d %d %d %d\n", lut, ff, dsp, b36, b18 }' "$out/$tag.stat")
  bram=$(awk -v a="$b36" -v b="$b18" 'BEGIN { printf "%.1f", a + b / 2 }')
  pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", 100 * a / b }'; }
  printf '%-9s %8d %6s %8d %6s %5d %6s %9s %6s\n' "$name" "$lut" "$(pct "$lut" $dev_lut)" \
    "$ff" "$(pct "$ff" $dev_ff)" "$dsp" "$(pct "$dsp" $dev_dsp)" "$bram" "$(pct "$bram" $dev_bram36)"
  if [ "$lut" -gt $dev_lut ] || [ "$ff" -gt $dev_ff ] || [ "$dsp" -gt $dev_dsp ] ||
     awk -v a="$bram" -v b=$dev_bram36 'BEGIN { exit !(a > b) }'; then
    echo "  $name does not fit the xc7z020" >&2
    fits=0
  fi
done
[ $fits = 1 ]
