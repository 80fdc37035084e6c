// Checks fixed.h against exact double-precision arithmetic, exhaustively where possible.
// Covers rounding, saturation, the ROMs, sigmoid/tanh maximum error over all int16 inputs
// and the cell operations.
#include "models/common/fixed.h"

#include <cmath>
#include <cstdint>

#include <gtest/gtest.h>

#include "models/common/rng.h"

namespace tessel::fixed {
namespace {

// Round half up of an exactly representable double, then clamp: the reference rule.
int64_t ref_round_sat(double v) {
  const double r = std::floor(v + 0.5);
  return r < -32768 ? -32768 : (r > 32767 ? 32767 : static_cast<int64_t>(r));
}

double sigmoid_ref(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

// The datapath functions are constexpr, so SystemC models can fold constants through them.
static_assert(sigmoid(0) == 16384 && tanh(0) == 0 && round_shift(-5, 1) == -2);
static_assert(preactivation(int64_t{1} << 26, 0) == 2048);  // 1.0 in Q4.11
static_assert(cell_update(32767, 0, 16384, 16384) == 512);  // 0.5 * 0.5 = 0.25 -> Q4.11

TEST(Fixed, RoundShiftIsHalfUp) {
  EXPECT_EQ(round_shift(5, 1), 3);    // 2.5 -> 3
  EXPECT_EQ(round_shift(-5, 1), -2);  // -2.5 -> -2 (ties toward +infinity)
  EXPECT_EQ(round_shift(-7, 1), -3);  // -3.5 -> -3
  EXPECT_EQ(round_shift(7, 2), 2);    // 1.75 -> 2
  EXPECT_EQ(round_shift(-6, 2), -1);  // -1.5 -> -1
  EXPECT_EQ(round_shift(-7, 2), -2);  // -1.75 -> -2
  EXPECT_EQ(round_shift(123, 0), 123);
  Rng rng(7);
  for (int k = 0; k < 100000; ++k) {
    const int64_t v = static_cast<int64_t>(rng.next_u64() >> 20) - (int64_t{1} << 43);
    const int s = 1 + static_cast<int>(rng.next_u64() % 30);
    EXPECT_EQ(round_shift(v, s), static_cast<int64_t>(std::floor(std::ldexp(double(v), -s) + 0.5)));
  }
}

TEST(Fixed, SaturateAndQuantize) {
  EXPECT_EQ(saturate16(40000), 32767);
  EXPECT_EQ(saturate16(-40000), -32768);
  EXPECT_EQ(saturate16(-123), -123);
  EXPECT_EQ(quantize(0.5, kActFormat), 4096);
  EXPECT_EQ(quantize(1.5 / 8192, kActFormat), 2);    // tie 1.5 LSB -> 2
  EXPECT_EQ(quantize(-1.5 / 8192, kActFormat), -1);  // tie -1.5 LSB -> -1
  EXPECT_EQ(quantize(4.0, kActFormat), 32767);
  EXPECT_EQ(quantize(-4.0, kActFormat), -32768);
  EXPECT_EQ(quantize(-100.0, kActFormat), -32768);
  EXPECT_EQ(quantize(std::nan(""), kActFormat), 0);
  EXPECT_DOUBLE_EQ(dequantize(-8192, kActFormat), -1.0);
  EXPECT_DOUBLE_EQ(kPreFormat.max_value(), 32767.0 / 2048.0);
}

TEST(Fixed, RomEntriesAreRoundedExactValues) {
  for (int k = 0; k < kRomEntries; ++k) {
    EXPECT_EQ(kSigmoidRom[k], ref_round_sat(sigmoid_ref(k / 16.0) * 32768.0)) << "k=" << k;
    EXPECT_EQ(kTanhRom[k], ref_round_sat(std::tanh(k / 32.0) * 32768.0)) << "k=" << k;
  }
}

// Maximum absolute error over every Q4.11 input against the exact function of that input.
// The bounds asserted here are the ones quoted in fixed.h and docs/lstm_kernels.md.
TEST(Fixed, SigmoidTanhMaxErrorExhaustive) {
  double sig_max = 0, tanh_max = 0, sig_at = 0, tanh_at = 0;
  int16_t prev_s = 0, prev_t = -32768;
  for (int32_t z = -32768; z <= 32767; ++z) {
    const double x = z / 2048.0;
    const int16_t s = sigmoid(static_cast<int16_t>(z));
    const int16_t t = tanh(static_cast<int16_t>(z));
    const double es = std::fabs(s / 32768.0 - sigmoid_ref(x));
    const double et = std::fabs(t / 32768.0 - std::tanh(x));
    if (es > sig_max) sig_max = es, sig_at = x;
    if (et > tanh_max) tanh_max = et, tanh_at = x;
    EXPECT_GE(s, prev_s) << "sigmoid not monotonic at z=" << z;
    EXPECT_GE(t, prev_t) << "tanh not monotonic at z=" << z;
    prev_s = s;
    prev_t = t;
    if (z > -32768) {
      EXPECT_EQ(s + sigmoid(static_cast<int16_t>(-z)), 32768) << "z=" << z;
      EXPECT_EQ(t, -tanh(static_cast<int16_t>(-z))) << "z=" << z;
    }
  }
  std::printf("sigmoid max |err| = %.3g at z = %.5f; tanh max |err| = %.3g at z = %.5f\n", sig_max,
              sig_at, tanh_max, tanh_at);
  EXPECT_LE(sig_max, 8e-5);
  EXPECT_LE(tanh_max, 1.5e-4);
  EXPECT_EQ(sigmoid(0), 16384);
  EXPECT_EQ(tanh(0), 0);
}

TEST(Fixed, DotIsExact) {
  Rng rng(3);
  std::vector<int16_t> w(4099), a(4099);
  for (auto& v : w) v = static_cast<int16_t>(rng.next_u64());
  for (auto& v : a) v = static_cast<int16_t>(rng.next_u64());
  w[0] = a[0] = -32768;  // the largest product, 2^30
  long double ref = 0;
  for (std::size_t k = 0; k < w.size(); ++k) ref += static_cast<long double>(w[k]) * a[k];
  EXPECT_EQ(dot(w.data(), a.data(), w.size()), static_cast<int64_t>(ref));
}

// preactivation, cell_update and hidden_output against the exact real-valued formulas,
// rounded half up and saturated (every intermediate is exact in double: < 2^53).
TEST(Fixed, CellOperationsMatchExactArithmetic) {
  Rng rng(11);
  auto i16 = [&] { return static_cast<int16_t>(rng.next_u64()); };
  for (int k = 0; k < 200000; ++k) {
    const int64_t acc = static_cast<int64_t>(rng.next_u64() >> 24) - (int64_t{1} << 39);
    const int16_t b = i16();
    const double z_real = acc / 67108864.0 + b / 2048.0;  // value in real units
    EXPECT_EQ(preactivation(acc, b), ref_round_sat(z_real * 2048.0));

    const int16_t f = i16(), c = i16(), i = i16(), g = i16();
    const double c_real = (f / 32768.0) * (c / 2048.0) + (i / 32768.0) * (g / 32768.0);
    EXPECT_EQ(cell_update(f, c, i, g), ref_round_sat(c_real * 2048.0));

    const int16_t o = i16();
    const double h_real = (o / 32768.0) * (tanh(c) / 32768.0);
    EXPECT_EQ(hidden_output(o, c), ref_round_sat(h_real * 8192.0));
  }
}

}  // namespace
}  // namespace tessel::fixed
