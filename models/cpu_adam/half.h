// Portable fp32 -> fp16 / bf16 conversions, round to nearest even: the scalar reference
// the SIMD paths (F16C VCVTPS2PH, integer rounding for bf16) match bit for bit.
#pragma once

#include <cstdint>
#include <cstring>

namespace tessel::cpu_adam {

// IEEE binary16. Finite values round to nearest, ties to even, with subnormal results and
// overflow to infinity (|x| >= 65520, the midpoint above 65504). A NaN keeps its sign and
// the top 10 bits of its payload and is made quiet, as VCVTPS2PH does.
inline uint16_t fp32_to_fp16(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  const auto sign = static_cast<uint16_t>((b >> 16) & 0x8000u);
  const uint32_t a = b & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
  if (a >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // 65520 and above
  if (a >= 0x38800000u) {  // 2^-14 and above: a normal fp16
    // Rebias the exponent (127 -> 15), then round away the 13 low bits; a carry out of the
    // mantissa correctly bumps the exponent.
    uint32_t r = a - 0x38000000u;
    r += 0xFFFu + ((r >> 13) & 1u);
    return static_cast<uint16_t>(sign | (r >> 13));
  }
  // Below 2^-14: a multiple of 2^-24 (subnormal or zero). x = mant * 2^(e-150), so
  // x / 2^-24 = mant >> (126 - e), rounded to nearest even.
  const uint32_t e = a >> 23;
  if (e < 102) return sign;  // below 2^-25: rounds to zero
  const uint32_t mant = (a & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126 - e;  // 14..24
  uint32_t q = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) ++q;
  return static_cast<uint16_t>(sign | q);
}

// bfloat16 (fp32's exponent, 7 mantissa bits). Round to nearest even on the bit pattern,
// which is exact for subnormals too since both formats share the exponent; the largest
// values round to infinity. A NaN is truncated and made quiet. (AVX512_BF16's
// VCVTNEPS2BF16 is not used: it flushes subnormal inputs to zero.)
inline uint16_t fp32_to_bf16(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((b >> 16) | 0x0040u);
  b += 0x7FFFu + ((b >> 16) & 1u);
  return static_cast<uint16_t>(b >> 16);
}

inline float bf16_to_fp32(uint16_t h) {
  const uint32_t b = static_cast<uint32_t>(h) << 16;
  float x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x3FFu, b;
  if (e == 0x1F) {
    b = sign | 0x7F800000u | (m << 13);
  } else if (e != 0) {
    b = sign | ((e + 112) << 23) | (m << 13);
  } else if (m == 0) {
    b = sign;
  } else {  // subnormal: normalise
    e = 113;
    while (!(m & 0x400u)) {
      m <<= 1;
      --e;
    }
    b = sign | (e << 23) | ((m & 0x3FFu) << 13);
  }
  float x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

}  // namespace tessel::cpu_adam
