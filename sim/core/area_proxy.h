// Area proxy shared by the accelerator models (plain C++, no SystemC: the analytical twins
// use it too): SRAM cells, MACs of a given operand width and simple logic, in mm² at a
// process node. It prices what a design is built of, not its layout: no wiring, control,
// clock tree, pipeline registers or pads. Sources and how each figure is derived:
// docs/lstm_sharp.md ("Energy and area") and docs/nm_unit.md ("Area").
#pragma once

#include <cstdint>

namespace tessel::sim::area {

// Intel's 45 nm 6T SRAM cell: 0.346 um² (Mistry et al., "A 45nm logic technology with
// high-k + metal gate transistors...", IEDM 2007).
inline constexpr double kSramCellUm2At45 = 0.346;
// Share of a macro's area that is cells (the rest: decoders, sense amplifiers, I/O). An
// assumption typical of compiled macros of tens of KiB; it falls for small macros, so
// designs built of 1-2 KiB macros are underestimated.
inline constexpr double kSramArrayEfficiency = 0.7;

// Aladdin's function-unit library (Shao et al., ISCA 2014; harvard-acc/ALADDIN
// common/power_func.h, a commercial 40 nm process at a 2 ns cycle): 32-bit integer
// multiplier MUL_2ns_area 5,137.736 um², 32-bit adder ADD_2ns_area 179.443 um², 32-bit
// shifter SHIFTER_2ns_area 519.755 um², 32-bit bitwise AND/OR/XOR unit BIT_2ns_area
// 50.370 um².
inline constexpr double kMul32Um2At40 = 5137.736;
inline constexpr double kAdd32Um2At40 = 179.443;
inline constexpr double kShift32Um2At40 = 519.755;
inline constexpr double kBitwise32Um2At40 = 50.36996;

// MAC operand types and their accumulators.
enum class MacType { kInt8, kInt16, kFp16 };

// Area of one MAC at 40 nm, um². A w-bit multiplier is the 32-bit one scaled by (w/32)²
// (an array multiplier's partial-product array grows with the square of the width: the rule
// configs/energy/45nm.yaml uses for mult_int16).
//   int8:  8-bit multiplier (1/16) + one 32-bit add (int32 accumulator, as mac_int8)
//   int16: 16-bit multiplier (1/4) + one 32-bit add (int32 accumulator, as mac_int16)
//   fp16:  16-bit multiplier (1/4; its 11-bit significand array alone would be (11/32)² =
//          0.12, the rest covers exponent add and rounding, an assumption) + an fp32
//          accumulator add built as a 32-bit add with two 32-bit shifters (operand
//          alignment and normalisation; leading-zero count and rounding left out)
inline constexpr double mac_um2_at_40(MacType type) {
  switch (type) {
    case MacType::kInt8:
      return kMul32Um2At40 * (8.0 / 32) * (8.0 / 32) + kAdd32Um2At40;
    case MacType::kInt16:
      return kMul32Um2At40 * 0.25 + kAdd32Um2At40;
    case MacType::kFp16:
      return kMul32Um2At40 * 0.25 + kAdd32Um2At40 + 2 * kShift32Um2At40;
  }
  return 0;
}

// One 2:1 multiplexer bit or one decoder output gate at 40 nm, um²: one bit of Aladdin's
// 32-bit bitwise unit (50.370 / 32 = 1.574 um²). A standard-cell MUX2 is about the size of
// the XOR2 that unit contains: an assumption, good to a factor of about 2.
inline constexpr double kGateBitUm2At40 = kBitwise32Um2At40 / 32;

// Areas scale with the square of the feature size (a first-order rule).
inline double sram_area_mm2(double kib, double node_nm) {
  const double bits = kib * 8192;
  return bits * kSramCellUm2At45 / kSramArrayEfficiency * (node_nm / 45) * (node_nm / 45) * 1e-6;
}

inline double mac_area_mm2(int64_t macs, MacType type, double node_nm) {
  return static_cast<double>(macs) * mac_um2_at_40(type) * (node_nm / 40) * (node_nm / 40) * 1e-6;
}

// `bits` one-bit logic cells (2:1 mux bits, decoder outputs).
inline double gate_bits_area_mm2(double bits, double node_nm) {
  return bits * kGateBitUm2At40 * (node_nm / 40) * (node_nm / 40) * 1e-6;
}

}  // namespace tessel::sim::area
