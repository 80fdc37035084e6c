#!/usr/bin/env bash
# Gate-level cell counts of the RTL units (yosys generic synthesis) beside the energy-table
# actions the SystemC models charge for the same work; writes results/validation/area.md.
# Usage: rtl/area.sh [out.md]   (from the repository root; needs yosys, scripts/deps.sh)
# Takes about ten minutes on one core, most of it the MFU's two ROM interpolators per gate.
set -euo pipefail
out=${1:-results/validation/area.md}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# name|top|parameters (chparam)|sources|energy-table actions charged for the same work
units=(
  "lstm_sharp/dpu K=8|dpu|-set K 8|rtl/lstm_sharp/dpu.sv|8 x mac_int16 (0.875 pJ: 16b multiply + 32b add) per pass; the RTL adds in 48 bits"
  "lstm_sharp/mfu LANES=1|mfu|-set LANES 1|rtl/lstm_sharp/mfu.sv rtl/lstm_sharp/act_interp.sv|per element: 5 x mfu_activation (5.875 pJ) + mfu_cell_update (1.65) + mfu_hidden_output (0.775)"
  "nm_unit/sparse_dot 2:4 G=4|sparse_dot|-set N 2 -set M 4 -set G 4|rtl/nm_unit/sparse_dot.sv|per cycle: 8 x mac_int8 (0.3 pJ), 8 x nm_index_decode (0.015), 8 x 7 x mux2_int8 (0.008; fan-in 8)"
  "nm_unit/sparse_dot 4:8 G=2|sparse_dot|-set N 4 -set M 8 -set G 2|rtl/nm_unit/sparse_dot.sv|as 2:4: 8 lanes, fan-in 8"
)

{
  echo "# Area of the RTL units (yosys generic cells)"
  echo
  echo "Produced by \`rtl/area.sh\` with $(yosys -V | head -1): \`synth -flatten\` to yosys's"
  echo "generic gate library (no technology mapping, so cells are not area in um^2: compare"
  echo "units and parameter sets with each other). Energy actions: configs/energy/45nm.yaml."
  echo "The MFU is synthesised with one lane; configs/hw/lstm_sharp/base.yaml has 16."
  echo
  echo "| Unit | Cells | Flip-flops | Energy-table actions for the same work |"
  echo "|---|---:|---:|---|"
} > "$tmp/area.md"

for u in "${units[@]}"; do
  IFS='|' read -r name top params sources energy <<< "$u"
  {
    echo "read_verilog -sv $sources"
    echo "chparam $params $top"
    echo "synth -top $top -flatten"
    echo "tee -q -o $tmp/stat.txt stat"
  } > "$tmp/run.ys"
  yosys -q -s "$tmp/run.ys" > "$tmp/yosys.log" 2>&1 || { cat "$tmp/yosys.log"; exit 1; }
  cells=$(awk '/Number of cells:/ {n = $4} END {print n}' "$tmp/stat.txt")
  ffs=$(awk '$1 ~ /^\$_(S)?DFF/ {n += $2} END {print n + 0}' "$tmp/stat.txt")
  echo "| $name | $cells | $ffs | $energy |" >> "$tmp/area.md"
  echo "$name: $cells cells, $ffs flip-flops" >&2
done
mkdir -p "$(dirname "$out")"
cp "$tmp/area.md" "$out"
echo "wrote $out" >&2
