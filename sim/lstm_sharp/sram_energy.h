// On-chip SRAM as built from macros: read energy by macro size, capacity and area.
#pragma once

#include <string>
#include <vector>

#include "runtime/core/energy_table.h"
#include "sim/lstm_sharp/lstm_sharp_params.h"

namespace tessel::lstm_sharp {

// One measured array: its capacity and the energy of reading one byte from it.
struct SramPoint {
  double kib = 0;
  double pj_per_byte = 0;
};

// Horowitz's three 45 nm arrays (ISSCC 2014, Fig. 1.1.9: 64-bit reads from 8 KB, 32 KB and
// 1 MB cost 10, 20 and 100 pJ) as `table` prices them (sram_8kb/32kb/1mb_read_byte, already
// at the table's node).
std::vector<SramPoint> horowitz_sram_points(const EnergyTable& table);

// Largest macro the rule prices: Horowitz's largest array. Below his smallest (8 KB) a read
// is charged as from the 8 KB array (clamped, not extrapolated: peripheral circuits stop
// shrinking, so this is an upper bound, at most 2x at 2 KiB if the sqrt trend went on).
inline constexpr double kMaxMacroKib = 1024;
// Smallest: 128 B (1 Kbit); below that a store is built of flip-flops, not an SRAM macro.
inline constexpr double kMinMacroKib = 0.125;

// pJ per byte read from one macro of `kib` KiB: a straight line in log(energy) vs
// log(capacity) between the neighbouring points (wire and bit-line lengths grow as a power
// of the capacity); `points` sorted by capacity. kib above the last point throws
// std::invalid_argument (the config range keeps it out).
double sram_read_pj_per_byte(const std::vector<SramPoint>& points, double kib);

// The macro each on-chip buffer of a tile is built of, KiB; its energy per byte is that
// macro's. The activation buffer (x and h slices) is built of 8 KiB macros and the
// partial-sum buffer of 32 KiB ones (their capacity: buffers.h, size_buffers); the stream
// buffer (memory runs) uses the weight SRAM's macros, two halves of stream_buffer_kib.
struct SramMacros {
  double weight = 32;
  double stream = 32;
  double act = 8;
  double psum = 32;
};
SramMacros sram_macros(const MachineParams& m);

// On-chip SRAM of all tiles, KiB: weight SRAM, activation and partial-sum buffers, and the
// stream buffer when the run is bound to a memory. Leakage and area are charged on it.
double sram_capacity_kib(const MachineParams& m);

// Action names for a read or a write of one byte from a macro of `kib` KiB
// ("sram_macro_2kib_read_byte"); the model prices them itself (Counters::define_action).
std::string sram_read_action(double kib);
std::string sram_write_action(double kib);

// Area proxy in mm² at `node_nm`: SRAM cells plus int16 MACs, nothing else (no MFU,
// wiring, control or pads), priced by sim/core/area_proxy.h (sources there and in
// docs/lstm_sharp.md).
double sram_area_mm2(double kib, double node_nm);
double mac_area_mm2(int64_t macs, double node_nm);

}  // namespace tessel::lstm_sharp
