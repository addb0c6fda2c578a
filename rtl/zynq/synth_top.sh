#!/usr/bin/env bash
# zipml — Yosys synthesis of the exact Zynq top level (rtl/zynq/zipml_zynq_top.sv, with the
# engine) for the PYNQ-Z1's xc7z020: what Vivado would get, short of the block design's IP.
# Prints the cell counts and fails if the design does not fit the device.
#
#   rtl/zynq/synth_top.sh [RTL_DIR [OUT_DIR [PRECISION]]]     (MAX_DIM=, LANES= in the environment)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rtl="${1:-$(dirname "$here")}"
out="${2:-synth-top-out}"
p="${3:-8}"
max_dim="${MAX_DIM:-4096}"
lanes="${LANES:-1}"
mkdir -p "$out"

# the engine's modules in rtl/meson.build's order (package first)
modules=$(sed -n "/^rtl_modules = \[/,/\]/p" "$rtl/meson.build" | grep -o "'[a-z_0-9]*'" | tr -d "'")
files="$rtl/zipml_pkg.sv"
for m in $modules; do files="$files $rtl/$m.sv"; done
files="$files $rtl/zynq/zipml_zynq_top.sv"

yosys -q -l "$out/top-$p.log" -p "read_verilog -sv $files;
  chparam -set PRECISION $p -set MAX_DIM $max_dim -set LANES $lanes zipml_zynq_top;
  synth_xilinx -family xc7 -top zipml_zynq_top -flatten -noiopad;
  tee -q -o $out/top-$p.stat stat" >/dev/null

# LUTs (logic + 4 per LUTRAM macro), flip-flops, DSP48E1, RAMB36 equivalents
read -r lut ff dsp bram < <(awk '
  /^ +[A-Z][A-Za-z0-9_]+ +[0-9]+$/ {
    c=$1; n=$2
    if (c ~ /^LUT[1-6]$/) lut+=n
    else if (c=="RAM32M" || c=="RAM64M" || c=="RAM128X1D") lut+=4*n
    else if (c ~ /^FD[A-Z]*$/) ff+=n
    else if (c ~ /^DSP48/) dsp+=n
    else if (c ~ /^RAMB36/) b+=n
    else if (c ~ /^RAMB18/) b+=n/2
  }
  END { printf "%d %d %d %.1f\n", lut, ff, dsp, b }' "$out/top-$p.stat")
echo "zipml_zynq_top PRECISION=$p MAX_DIM=$max_dim LANES=$lanes: $lut LUT, $ff FF, $dsp DSP48E1, $bram RAMB36 (xc7z020: 53200, 106400, 220, 140)"
awk -v l="$lut" -v f="$ff" -v d="$dsp" -v b="$bram" 'BEGIN { exit !(l <= 53200 && f <= 106400 && d <= 220 && b <= 140) }' ||
  { echo "does not fit the xc7z020" >&2; exit 1; }
grep -q "zipml_zynq_top" "$out/top-$p.stat" || { echo "no zipml_zynq_top in the netlist" >&2; exit 1; }
