// Fixed-point number formats, rounding, saturation and sigmoid/tanh of the LSTM accelerator.
//
// This header is the single definition of the accelerator's arithmetic: the reference
// kernels (models/lstm), the SystemC functional models (sim/) and the RTL testbenches
// (rtl/) all call these functions, so the three agree bit for bit. Everything on the
// datapath is integer arithmetic a Verilog module can reproduce: int16 storage,
// int64 accumulation, arithmetic right shifts, compares and two 257-entry ROMs.
// Only the float <-> fixed conversions at the edges (quantize/dequantize) use floating
// point, and they run once when weights and inputs enter the fixed-point world.
//
// Formats (Qm.n: m integer bits including the sign, n fraction bits; docs/lstm_kernels.md):
//   weights W_ih, W_hh            int16 Q2.13   range [-4, 4),   step 2^-13
//   activations x, h              int16 Q2.13   range [-4, 4),   step 2^-13
//   products / accumulator        int64 with 26 fraction bits (exact, never rounded)
//   bias (b_ih + b_hh)            int16 Q4.11   range [-16, 16), step 2^-11
//   gate pre-activation z         int16 Q4.11
//   gate outputs sigmoid / tanh   int16 Q0.15   range [-1, 1),   step 2^-15
//   cell state c                  int16 Q4.11
// Rounding: round half up (add half an LSB, then arithmetic shift right), i.e. ties go
// toward +infinity. Saturation: clamp to the int16 range of the destination format.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace tessel::fixed {

// Arithmetic right shift of negative values is implementation-defined before C++20; every
// compiler Tessel supports (GCC, Clang, nvcc) shifts arithmetically, which the rounding
// below relies on. Fail the build rather than silently round differently.
static_assert((-3 >> 1) == -2, "fixed.h needs arithmetic right shift of signed integers");

// Fraction bits of each format (the integer bits are 16 minus these, sign included).
inline constexpr int kWeightFrac = 13;                   // Q2.13 weights
inline constexpr int kActFrac = 13;                      // Q2.13 inputs x and hidden state h
inline constexpr int kAccFrac = kWeightFrac + kActFrac;  // 26: exact products W*x
inline constexpr int kBiasFrac = 11;                     // Q4.11 bias, added into the accumulator
inline constexpr int kPreFrac = 11;   // Q4.11 gate pre-activation (sigmoid/tanh input)
inline constexpr int kGateFrac = 15;  // Q0.15 sigmoid and tanh outputs
inline constexpr int kCellFrac = 11;  // Q4.11 cell state (same as kPreFrac: tanh(c) needs no shift)

inline constexpr int32_t kInt16Min = -32768;
inline constexpr int32_t kInt16Max = 32767;

// Describes one int16 format; used by conversions and the documentation tables.
struct QFormat {
  int frac_bits;
  constexpr double lsb() const { return 1.0 / static_cast<double>(int64_t{1} << frac_bits); }
  constexpr double min_value() const { return kInt16Min * lsb(); }
  constexpr double max_value() const { return kInt16Max * lsb(); }
};
inline constexpr QFormat kWeightFormat{kWeightFrac};
inline constexpr QFormat kActFormat{kActFrac};
inline constexpr QFormat kBiasFormat{kBiasFrac};
inline constexpr QFormat kPreFormat{kPreFrac};
inline constexpr QFormat kGateFormat{kGateFrac};
inline constexpr QFormat kCellFormat{kCellFrac};

// Clamp a wide value into int16.
constexpr int16_t saturate16(int64_t v) {
  return static_cast<int16_t>(v < kInt16Min ? kInt16Min : (v > kInt16Max ? kInt16Max : v));
}

// v / 2^shift rounded half up (ties toward +infinity): floor((v + 2^(shift-1)) / 2^shift).
// shift == 0 returns v unchanged.
constexpr int64_t round_shift(int64_t v, int shift) {
  return shift == 0 ? v : (v + (int64_t{1} << (shift - 1))) >> shift;
}

// Float -> int16 in a format: round half up, then saturate. Used only at the edges.
inline int16_t quantize(double v, QFormat f) {
  const double scaled = std::floor(std::ldexp(v, f.frac_bits) + 0.5);
  if (!(scaled >= kInt16Min)) return static_cast<int16_t>(std::isnan(v) ? 0 : kInt16Min);
  if (scaled > kInt16Max) return static_cast<int16_t>(kInt16Max);
  return static_cast<int16_t>(scaled);
}

// int16 in a format -> its real value (exact in double).
constexpr double dequantize(int64_t q, QFormat f) {
  return static_cast<double>(q) * f.lsb();
}

// Exact dot product of int16 weights (Q2.13) and activations (Q2.13) into the int64
// accumulator (26 fraction bits). No rounding or saturation happens here, so any
// summation order or tiling (the SHARP dispatcher splits rows into tiles and runs W*x
// ahead of U*h) gives the identical result. A hardware accumulator of 48 bits is exact
// for up to 2^17 - 1 terms (each product is at most 2^30 in magnitude; 2^17 full-scale
// products of (-32768)^2 reach 2^47 and wrap).
inline int64_t dot(const int16_t* w, const int16_t* a, std::size_t n) {
  int64_t acc = 0;
  for (std::size_t k = 0; k < n; ++k) acc += int32_t{w[k]} * int32_t{a[k]};
  return acc;
}

// Accumulator + bias -> gate pre-activation z (Q4.11): the bias (Q4.11) is aligned to the
// accumulator's 26 fraction bits, added exactly, then the sum is rounded once (shift 15)
// and saturated to int16.
constexpr int16_t preactivation(int64_t acc, int16_t bias) {
  constexpr int kShift = kAccFrac - kPreFrac;  // 15
  // Alignment multiplies by 2^15 (a left shift of a negative value is undefined in C++17;
  // in hardware it is the same wiring).
  const int64_t sum = acc + int64_t{bias} * (int64_t{1} << (kAccFrac - kBiasFrac));
  return saturate16(round_shift(sum, kShift));
}

// Sigmoid and tanh: linear interpolation between ROM entries at uniform breakpoints.
//   sigmoid: x_k = k/16, k = 0..256, covering [0, 16]; entry = round(sigmoid(x_k) * 2^15)
//   tanh:    x_k = k/32, k = 0..256, covering [0, 8];  entry = round(tanh(x_k) * 2^15)
// y = rom[seg] + round_shift((rom[seg + 1] - rom[seg]) * frac, seg_shift), where seg and
// frac are the high and low bits of |z|; |z| at or beyond the last breakpoint gives rom[256].
// Entries are clamped to 32767 (1.0 is not representable in Q0.15). Negative inputs use
// sigmoid(-x) = 1 - sigmoid(x) and tanh(-x) = -tanh(x), so only |z| indexes the ROM.
// The ROM contents are integer constants (a hardware ROM), not computed at run time;
// tests/models/common/fixed_test.cpp recomputes every entry in double precision.
// Measured maximum errors over all 65536 inputs are in docs/lstm_kernels.md and are
// asserted by the tests (sigmoid <= 8e-5, tanh <= 1.5e-4 against the exact function of
// the Q4.11 input).
inline constexpr int kSigmoidSegShift = 7;  // Q4.11 input: 11 - 4 bits -> 1/16 per segment
inline constexpr int kTanhSegShift = 6;     // Q4.11 input: 11 - 5 bits -> 1/32 per segment
inline constexpr int kRomEntries = 257;

inline constexpr std::array<int16_t, kRomEntries> kSigmoidRom = {
    16384, 16896, 17407, 17916, 18421, 18923, 19420, 19912, 20397, 20874, 21344, 21804, 22255,
    22696, 23127, 23547, 23955, 24352, 24737, 25110, 25471, 25819, 26155, 26479, 26790, 27090,
    27377, 27653, 27917, 28169, 28411, 28642, 28862, 29072, 29272, 29462, 29644, 29816, 29979,
    30135, 30282, 30422, 30555, 30680, 30799, 30912, 31018, 31119, 31214, 31304, 31389, 31469,
    31545, 31616, 31684, 31747, 31807, 31864, 31917, 31968, 32015, 32060, 32102, 32141, 32179,
    32214, 32247, 32278, 32307, 32335, 32361, 32385, 32408, 32430, 32450, 32469, 32487, 32504,
    32520, 32535, 32549, 32562, 32574, 32586, 32597, 32607, 32617, 32626, 32635, 32643, 32650,
    32657, 32664, 32670, 32676, 32682, 32687, 32692, 32696, 32701, 32705, 32709, 32712, 32716,
    32719, 32722, 32725, 32727, 32730, 32732, 32734, 32736, 32738, 32740, 32742, 32743, 32745,
    32746, 32747, 32749, 32750, 32751, 32752, 32753, 32754, 32755, 32756, 32756, 32757, 32758,
    32758, 32759, 32759, 32760, 32760, 32761, 32761, 32762, 32762, 32762, 32763, 32763, 32763,
    32764, 32764, 32764, 32764, 32765, 32765, 32765, 32765, 32765, 32766, 32766, 32766, 32766,
    32766, 32766, 32766, 32766, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
};

inline constexpr std::array<int16_t, kRomEntries> kTanhRom = {
    0,     1024,  2045,  3063,  4075,  5079,  6073,  7056,  8025,  8980,  9919,  10840, 11743,
    12625, 13486, 14326, 15143, 15936, 16706, 17452, 18173, 18870, 19542, 20189, 20813, 21411,
    21986, 22538, 23066, 23571, 24054, 24516, 24956, 25376, 25776, 26157, 26519, 26864, 27191,
    27502, 27797, 28076, 28341, 28592, 28830, 29055, 29268, 29470, 29660, 29840, 30010, 30170,
    30322, 30465, 30600, 30727, 30847, 30960, 31067, 31167, 31262, 31351, 31435, 31515, 31589,
    31659, 31726, 31788, 31846, 31901, 31953, 32002, 32048, 32091, 32132, 32170, 32206, 32240,
    32271, 32301, 32329, 32356, 32381, 32404, 32426, 32447, 32466, 32484, 32501, 32517, 32532,
    32547, 32560, 32573, 32584, 32596, 32606, 32616, 32625, 32634, 32642, 32649, 32657, 32663,
    32670, 32676, 32681, 32686, 32691, 32696, 32700, 32704, 32708, 32712, 32715, 32718, 32721,
    32724, 32727, 32729, 32732, 32734, 32736, 32738, 32740, 32741, 32743, 32745, 32746, 32747,
    32749, 32750, 32751, 32752, 32753, 32754, 32755, 32755, 32756, 32757, 32758, 32758, 32759,
    32759, 32760, 32760, 32761, 32761, 32762, 32762, 32762, 32763, 32763, 32763, 32764, 32764,
    32764, 32764, 32765, 32765, 32765, 32765, 32765, 32766, 32766, 32766, 32766, 32766, 32766,
    32766, 32766, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
};

namespace detail {
// f(|z|) for |z| given as a non-negative Q4.11 magnitude (0..32768), by ROM interpolation.
// The interpolation product (difference < 2^15, fraction < 2^7) fits easily in int32.
constexpr int32_t rom_interpolate(const std::array<int16_t, kRomEntries>& rom, int32_t mag,
                                  int seg_shift) {
  const int32_t idx = mag >> seg_shift;
  if (idx >= kRomEntries - 1) return rom[kRomEntries - 1];
  const int32_t frac = mag & ((1 << seg_shift) - 1);
  const int32_t lo = rom[idx];
  const int32_t hi = rom[idx + 1];
  return lo + static_cast<int32_t>(round_shift(int64_t{hi - lo} * frac, seg_shift));
}
}  // namespace detail

// sigmoid(z): z in Q4.11, result in Q0.15 (always in [1, 32767]).
constexpr int16_t sigmoid(int16_t z) {
  const int32_t mag = z < 0 ? -int32_t{z} : int32_t{z};
  const int32_t y = detail::rom_interpolate(kSigmoidRom, mag, kSigmoidSegShift);
  return static_cast<int16_t>(z < 0 ? (int32_t{1} << kGateFrac) - y : y);
}

// tanh(z): z in Q4.11, result in Q0.15 (always in [-32767, 32767]).
constexpr int16_t tanh(int16_t z) {
  const int32_t mag = z < 0 ? -int32_t{z} : int32_t{z};
  const int32_t y = detail::rom_interpolate(kTanhRom, mag, kTanhSegShift);
  return static_cast<int16_t>(z < 0 ? -y : y);
}

// c' = f*c + i*g. f, i, g in Q0.15; c, c' in Q4.11. Both products are aligned to 30
// fraction bits (f*c has 26, shifted left by 4), summed exactly, rounded once and saturated.
constexpr int16_t cell_update(int16_t f, int16_t c_prev, int16_t i, int16_t g) {
  constexpr int kAlign = 2 * kGateFrac - (kGateFrac + kCellFrac);  // 4
  const int64_t sum = int64_t{f} * c_prev * (int64_t{1} << kAlign) + int64_t{i} * g;
  return saturate16(round_shift(sum, 2 * kGateFrac - kCellFrac));  // shift 19
}

// h = o * tanh(c). o in Q0.15, c in Q4.11 (fed to tanh unchanged), h in Q2.13.
constexpr int16_t hidden_output(int16_t o, int16_t c) {
  const int64_t prod = int64_t{o} * tanh(c);                       // 30 fraction bits
  return saturate16(round_shift(prod, 2 * kGateFrac - kActFrac));  // shift 17
}

}  // namespace tessel::fixed
