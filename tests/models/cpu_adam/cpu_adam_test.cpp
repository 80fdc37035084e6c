// CPU-Adam: every SIMD path against the scalar reference (odd sizes, tails, tiles, several
// steps), against the engine's AdamW (models/nn), 16-bit copies against an independent
// nearest-even conversion, and the skipped step on NaN/Inf gradients.
#include "models/cpu_adam/cpu_adam.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "models/cpu_adam/half.h"
#include "runtime/core/error.h"

namespace tessel::cpu_adam {
namespace {

uint32_t bits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
float from_bits(uint32_t b) {
  float x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

struct SplitMix {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

// Gradients with the spread a real model has (many small, a few large, zeros of both signs),
// some subnormal and some near the fp32 limits, so every rounding path is exercised.
std::vector<float> gradients(std::size_t n, uint64_t seed) {
  SplitMix r{seed};
  std::vector<float> g(n);
  for (auto& x : g) {
    const double u = r.uniform(), s = r.uniform() < 0.5 ? -1 : 1;
    if (u < 0.01)
      x = static_cast<float>(s * 0.0);
    else if (u < 0.02)
      x = static_cast<float>(s * 1e-41);  // subnormal
    else if (u < 0.025)
      x = static_cast<float>(s * 1e30);
    else
      x = static_cast<float>(s * std::exp(-12 + 14 * r.uniform()));
  }
  return g;
}

std::vector<float> uniform(std::size_t n, uint64_t seed, double lo, double hi) {
  SplitMix r{seed};
  std::vector<float> x(n);
  for (auto& e : x) e = static_cast<float>(lo + (hi - lo) * r.uniform());
  return x;
}

std::vector<Isa> simd_paths() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

// Index of the first element whose bits differ, or -1.
template <typename T>
long long first_difference(const std::vector<T>& a, const std::vector<T>& b) {
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return static_cast<long long>(i);
  return -1;
}

// Distance in representable floats (same sign assumed; -1 otherwise).
int64_t ulps(float a, float b) {
  if (bits(a) == bits(b)) return 0;
  if (std::signbit(a) != std::signbit(b)) return -1;
  return std::llabs(static_cast<int64_t>(bits(a) & 0x7FFFFFFF) -
                    static_cast<int64_t>(bits(b) & 0x7FFFFFFF));
}

// --- An independent 16-bit conversion: the nearest representable value by comparing
// distances in double, ties to the even code, instead of the bit manipulation under test.
struct HalfTable {
  // value[c] for every non-negative finite code c in increasing order, decoded from the
  // format's definition (significand x 2^exponent); the last entry is the code of infinity
  // with the value the format would have next, where rounding to infinity begins (IEEE
  // 754-2008 7.4: overflow when the exponent-unbounded rounded result exceeds the largest).
  std::vector<double> value;
  HalfTable(int exp_bits, int mant_bits) {
    const int bias = (1 << (exp_bits - 1)) - 1;
    const uint32_t inf_code = ((1u << exp_bits) - 1) << mant_bits;
    for (uint32_t c = 0; c <= inf_code; ++c) {
      const int e = static_cast<int>(c >> mant_bits);
      const auto f = static_cast<double>(c & ((1u << mant_bits) - 1));
      value.push_back(e == 0 ? std::ldexp(f, 1 - bias - mant_bits)
                             : std::ldexp(std::ldexp(1.0, mant_bits) + f, e - bias - mant_bits));
    }
  }
  uint16_t nearest_even(float x) const {
    const auto sign = static_cast<uint16_t>(std::signbit(x) ? 0x8000 : 0);
    const double a = std::fabs(static_cast<double>(x));
    const auto last = value.size() - 1;
    if (a >= value[last]) return static_cast<uint16_t>(sign | last);
    const auto k = static_cast<std::size_t>(std::upper_bound(value.begin(), value.end(), a) -
                                            value.begin() - 1);
    const double below = a - value[k], above = value[k + 1] - a;
    const std::size_t c = below < above ? k : above < below ? k + 1 : (k % 2 == 0 ? k : k + 1);
    return static_cast<uint16_t>(sign | c);
  }
};
const HalfTable& fp16_table() {
  static const HalfTable t(5, 10);
  return t;
}
const HalfTable& bf16_table() {
  static const HalfTable t(8, 7);
  return t;
}

// Every 32-bit pattern (NaNs, infinities, subnormals, the overflow boundary included):
// each SIMD path's conversion equals the scalar reference bit for bit.
TEST(CpuAdamConversion, SimdMatchesScalarOnEveryFloat) {
  const auto paths = simd_paths();
  if (paths.empty()) GTEST_SKIP() << "no SIMD path on this CPU";
  constexpr uint64_t kChunk = 1 << 16;
  constexpr auto kChunks = static_cast<long long>((uint64_t{1} << 32) / kChunk);
  long long mismatches = 0;
  uint32_t first_bad = 0;
#pragma omp parallel reduction(+ : mismatches)
  {
    std::vector<float> x(kChunk);
    std::vector<uint16_t> ref(kChunk), got(kChunk);
#pragma omp for schedule(static)
    for (long long c = 0; c < kChunks; ++c) {
      for (uint64_t i = 0; i < kChunk; ++i)
        x[i] = from_bits(static_cast<uint32_t>(static_cast<uint64_t>(c) * kChunk + i));
      for (HalfFormat f : {HalfFormat::kFp16, HalfFormat::kBf16}) {
        convert_range(Isa::kScalar, x.data(), ref.data(), f, kChunk);
        for (Isa isa : paths) {
          convert_range(isa, x.data(), got.data(), f, kChunk);
          if (std::memcmp(ref.data(), got.data(), kChunk * sizeof(uint16_t)) != 0) {
            ++mismatches;
#pragma omp critical
            first_bad = bits(x[static_cast<std::size_t>(first_difference(ref, got))]);
          }
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0) << "e.g. input bits 0x" << std::hex << first_bad;
}

// The scalar reference against the nearest-even search, on every rounding boundary of both
// formats (each midpoint between neighbouring codes and the floats around it, each code's
// own value and its neighbours, both signs) and on 4M random finite patterns.
TEST(CpuAdamConversion, ScalarMatchesIndependentNearestEven) {
  struct Case {
    const char* name;
    const HalfTable& table;
    uint16_t (*convert)(float);
  };
  for (const Case& c :
       {Case{"fp16", fp16_table(), fp32_to_fp16}, Case{"bf16", bf16_table(), fp32_to_bf16}}) {
    std::vector<float> xs;
    const auto& v = c.table.value;
    for (std::size_t k = 0; k + 1 < v.size(); ++k) {
      // Midpoints of these formats are exact in fp32 (at most 12 significant bits).
      for (double anchor : {v[k], 0.5 * (v[k] + v[k + 1])}) {
        float f = static_cast<float>(anchor);
        ASSERT_EQ(static_cast<double>(f), anchor);
        float lo = f, hi = f;
        xs.push_back(f);
        for (int s = 0; s < 2; ++s) {
          lo = std::nextafter(lo, -1.0f);
          hi = std::nextafter(hi, std::numeric_limits<float>::infinity());
          xs.push_back(lo);
          xs.push_back(hi);
        }
      }
    }
    xs.push_back(std::numeric_limits<float>::max());
    xs.push_back(std::numeric_limits<float>::infinity());
    SplitMix r{7};
    for (int i = 0; i < 4000000; ++i) {
      const float f = from_bits(static_cast<uint32_t>(r.next()));
      if (!std::isnan(f)) xs.push_back(f);
    }
    long long bad = 0;
    for (float x : xs)
      for (float y : {x, -x}) {
        if (c.convert(y) != c.table.nearest_even(y) && bad++ < 5)
          ADD_FAILURE() << c.name << "(" << y << " = 0x" << std::hex << bits(y) << "): got 0x"
                        << c.convert(y) << ", nearest-even 0x" << c.table.nearest_even(y);
      }
    EXPECT_EQ(bad, 0) << c.name;
  }
  // Landmarks of IEEE binary16: the largest finite value, the midpoint above it (a tie
  // that rounds to the even code, infinity), the smallest subnormal and half of it (a tie
  // that rounds to zero).
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(std::nextafter(65520.0f, 0.0f)), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(0x1.0p-24f), 0x0001);
  EXPECT_EQ(fp32_to_fp16(0x1.0p-25f), 0x0000);
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);
  for (uint32_t h = 0; h < 0x10000; ++h) {  // decoding and re-encoding is the identity
    const auto c = static_cast<uint16_t>(h);
    if ((c & 0x7C00) != 0x7C00 || (c & 0x3FF) == 0) {
      ASSERT_EQ(fp32_to_fp16(fp16_to_fp32(c)), c);
    }
    if ((c & 0x7F80) != 0x7F80 || (c & 0x7F) == 0) {
      ASSERT_EQ(fp32_to_bf16(bf16_to_fp32(c)), c);
    }
  }
}

// One range, several steps: p, m, v and the 16-bit copy of each SIMD path equal the scalar
// reference's bits, on sizes that leave every kind of tail.
TEST(CpuAdamUpdate, SimdMatchesScalarReference) {
  const auto paths = simd_paths();
  if (paths.empty()) GTEST_SKIP() << "no SIMD path on this CPU";
  const nn::AdamWConfig cfg;
  for (std::size_t n : {1, 7, 15, 16, 17, 31, 33, 1000003}) {
    for (HalfFormat f : {HalfFormat::kNone, HalfFormat::kFp16, HalfFormat::kBf16}) {
      const auto p0 = uniform(n, n + 1, -1, 1), m0 = uniform(n, n + 2, -1e-3, 1e-3),
                 v0 = uniform(n, n + 3, 0, 1e-5);
      auto rp = p0, rm = m0, rv = v0;
      std::vector<uint16_t> rh(n);
      struct Run {
        Isa isa;
        std::vector<float> p, m, v;
        std::vector<uint16_t> h;
      };
      std::vector<Run> runs;
      for (Isa isa : paths) runs.push_back({isa, p0, m0, v0, std::vector<uint16_t>(n)});
      for (int t = 1; t <= 4; ++t) {
        const auto g = gradients(n, 100 * n + t);
        // Steps alternate decay and clip factors, so wd = 0 and gscale != 1 are covered.
        const StepConstants k = step_constants(cfg, 1e-3 * t, t, t % 2 == 1, t == 3 ? 0.37f : 1.0f);
        update_range(Isa::kScalar, k, rp.data(), g.data(), rm.data(), rv.data(), rh.data(), f, n);
        for (Run& r : runs) {
          update_range(r.isa, k, r.p.data(), g.data(), r.m.data(), r.v.data(), r.h.data(), f, n);
          const std::string where = std::string(isa_name(r.isa)) + " n=" + std::to_string(n) +
                                    " format=" + std::to_string(static_cast<int>(f)) +
                                    " step=" + std::to_string(t);
          ASSERT_EQ(first_difference(rp, r.p), -1) << "p " << where;
          ASSERT_EQ(first_difference(rm, r.m), -1) << "m " << where;
          ASSERT_EQ(first_difference(rv, r.v), -1) << "v " << where;
          ASSERT_EQ(first_difference(rh, r.h), -1) << "half " << where;
        }
      }
    }
  }
}

// The SIMD paths peel a head until p is aligned to the vector width: every start offset
// (0..16 floats) and every short length (0..40), i.e. every head/body/tail split, gives the
// reference's bits.
TEST(CpuAdamUpdate, EveryAlignmentAndShortLength) {
  const auto paths = simd_paths();
  if (paths.empty()) GTEST_SKIP() << "no SIMD path on this CPU";
  const StepConstants k = step_constants(nn::AdamWConfig{}, 1e-3, 2, true);
  const std::size_t cap = 64;
  const auto g = gradients(cap, 9), p0 = uniform(cap, 10, -1, 1),
             m0 = uniform(cap, 11, -1e-3, 1e-3), v0 = uniform(cap, 12, 0, 1e-5);
  for (Isa isa : paths)
    for (std::size_t off = 0; off <= 16; ++off)
      for (std::size_t n = 0; off + n <= 56 && n <= 40; ++n) {
        auto rp = p0, rm = m0, rv = v0, fp = p0, fm = m0, fv = v0;
        std::vector<uint16_t> rh(cap), fh(cap);
        update_range(Isa::kScalar, k, rp.data() + off, g.data() + off, rm.data() + off,
                     rv.data() + off, rh.data() + off, HalfFormat::kFp16, n);
        update_range(isa, k, fp.data() + off, g.data() + off, fm.data() + off, fv.data() + off,
                     fh.data() + off, HalfFormat::kFp16, n);
        const std::string where =
            std::string(isa_name(isa)) + " off=" + std::to_string(off) + " n=" + std::to_string(n);
        // Whole buffers: nothing outside [off, off + n) may change either.
        ASSERT_EQ(first_difference(rp, fp), -1) << where;
        ASSERT_EQ(first_difference(rm, fm), -1) << where;
        ASSERT_EQ(first_difference(rv, fv), -1) << where;
        ASSERT_EQ(first_difference(rh, fh), -1) << where;
        ASSERT_EQ(first_difference(p0, fp) >= static_cast<long long>(off) || n == 0, true) << where;
      }
}

// Σ g²: every path gives the same bits; the result agrees with a plain double sum.
TEST(CpuAdamUpdate, SumOfSquaresSameOnEveryPath) {
  for (std::size_t n : {1, 31, 32, 33, 1000003}) {
    const auto g = gradients(n, n);
    const double ref = sum_squares_range(Isa::kScalar, g.data(), n);
    long double plain = 0;
    for (float x : g) plain += static_cast<long double>(x) * x;
    EXPECT_NEAR(ref, static_cast<double>(plain), 1e-12 * static_cast<double>(plain)) << n;
    for (Isa isa : simd_paths()) {
      EXPECT_EQ(sum_squares_range(isa, g.data(), n), ref) << isa_name(isa) << " n=" << n;
    }
  }
}

// The tiled, threaded step: misaligned tiles and segment boundaries (decay on and off),
// two threads, the best path, against one thread on the scalar reference: same bits,
// norm included (the norm's order depends on the tile size only).
TEST(CpuAdamStep, TiledThreadedStepMatchesReference) {
  const std::size_t n = 1000003;
  std::vector<Segment> segs;
  for (std::size_t off = 0, i = 0; off < n; ++i) {
    const std::size_t size = std::min(n - off, std::size_t{1} + (i * 7919) % 40000);
    segs.push_back({off, size, i % 3 != 0});
    off += size;
  }
  const nn::AdamWConfig cfg;
  for (HalfFormat f : {HalfFormat::kFp16, HalfFormat::kBf16}) {
    CpuAdam ref(cfg, segs, {Isa::kScalar, 1, 1000, f});
    CpuAdam fast(cfg, segs, {best_isa(), 2, 1000, f});
    auto rp = uniform(n, 5, -1, 1), fp = rp;
    std::vector<uint16_t> rh(n), fh(n);
    for (int t = 0; t < 3; ++t) {
      const auto g = gradients(n, 50 + t);
      const double max_norm = t == 1 ? 1.0 : 0.0;  // one clipped step
      const double rn = ref.step(rp.data(), g.data(), rh.data(), 1e-3, max_norm);
      const double fn = fast.step(fp.data(), g.data(), fh.data(), 1e-3, max_norm);
      EXPECT_EQ(rn, fn);
      ASSERT_EQ(first_difference(rp, fp), -1) << "step " << t;
      ASSERT_EQ(std::memcmp(ref.m(), fast.m(), n * sizeof(float)), 0);
      ASSERT_EQ(std::memcmp(ref.v(), fast.v(), n * sizeof(float)), 0);
      ASSERT_EQ(first_difference(rh, fh), -1);
    }
    EXPECT_EQ(fast.steps(), 3);
  }
}

// A small model's parameter layout (weights decay, biases and norms do not).
nn::ParamStore<float> model_params() {
  nn::ParamStore<float> ps;
  // Odd widths, so segment and tile boundaries leave tails of every length.
  ps.add("wte", 257, 97, -1, true);
  for (int l = 0; l < 3; ++l) {
    ps.add("ln" + std::to_string(l), 1, 97, l, false);
    ps.add("w_qkv" + std::to_string(l), 97, 291, l, true);
    ps.add("b_qkv" + std::to_string(l), 1, 291, l, false);
    ps.add("w_fc" + std::to_string(l), 97, 385, l, true);
  }
  ps.finalize();
  ps.values() = uniform(static_cast<std::size_t>(ps.size()), 11, -0.1, 0.1);
  return ps;
}

// Against the engine's optimizer (nn::AdamW::step, models/nn/optimizer.cpp), 8 steps on a
// warm-up + cosine schedule. Stated tolerance: 0 ulp — CPU-Adam runs adamw_update's
// operations in its order with IEEE-exact division and square root, so p, m and v must
// be bitwise equal; the 16-bit copy equals the independent conversion of the engine's p.
TEST(CpuAdamEngine, EightStepsBitwiseEqualToNnAdamW) {
  nn::AdamWConfig cfg;
  cfg.beta2 = 0.999;
  nn::LrSchedule lr{3e-3, 3e-4, 3, 8, nn::LrSchedule::Decay::kCosine};
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(isa)) continue;
    for (HalfFormat f : {HalfFormat::kFp16, HalfFormat::kBf16}) {
      auto engine_params = model_params(), ours = model_params();
      const auto n = static_cast<std::size_t>(ours.size());
      nn::AdamW engine(cfg, n);
      CpuAdam adam(cfg, segments_of(ours.infos()), {isa, 2, 4096, f});
      std::vector<uint16_t> half(n);
      for (int s = 0; s < 8; ++s) {
        const auto g = gradients(n, 900 + s);
        engine_params.grads() = g;
        engine.step(engine_params, lr.at(s));
        adam.step(ours.values().data(), g.data(), half.data(), lr.at(s));
      }
      const std::string where =
          std::string(isa_name(isa)) + (f == HalfFormat::kFp16 ? " fp16" : " bf16");
      EXPECT_EQ(first_difference(engine_params.values(), ours.values()), -1) << where;
      EXPECT_EQ(std::memcmp(engine.m(), adam.m(), n * sizeof(float)), 0) << where;
      EXPECT_EQ(std::memcmp(engine.v(), adam.v(), n * sizeof(float)), 0) << where;
      const HalfTable& table = f == HalfFormat::kFp16 ? fp16_table() : bf16_table();
      long long bad = 0;
      for (std::size_t i = 0; i < n; ++i)
        bad += half[i] != table.nearest_even(engine_params.values()[i]);
      EXPECT_EQ(bad, 0) << where;
      EXPECT_EQ(adam.steps(), engine.steps());
    }
  }
}

// With clipping the engine computes the norm in another order (one running double sum,
// nn::clip_grad_norm), so the clip factor can differ in its last bit. Stated tolerance:
// norm within 1e-12 relative, p, m, v within 4 ulp after 6 clipped steps.
TEST(CpuAdamEngine, ClippedStepsWithinFourUlpOfNnAdamW) {
  const nn::AdamWConfig cfg;
  auto engine_params = model_params(), ours = model_params();
  const auto n = static_cast<std::size_t>(ours.size());
  nn::AdamW engine(cfg, n);
  CpuAdam adam(cfg, segments_of(ours.infos()), {best_isa(), 2, kDefaultTile, HalfFormat::kNone});
  for (int s = 0; s < 6; ++s) {
    auto g = gradients(n, 300 + s);
    for (auto& x : g) x = std::fmax(-1e3f, std::fmin(1e3f, x));  // norm ~1e4: clipped to 1
    engine_params.grads() = g;
    const double en = nn::clip_grad_norm(engine_params.grads(), 1.0);
    engine.step(engine_params, 1e-3);
    const double on = adam.step(ours.values().data(), g.data(), nullptr, 1e-3, 1.0);
    EXPECT_NEAR(on, en, 1e-12 * en);
    ASSERT_GT(en, 1.0);
  }
  int64_t worst = 0;
  for (std::size_t i = 0; i < n; ++i) {
    for (auto d : {ulps(engine_params.values()[i], ours.values()[i]),
                   ulps(engine.m()[i], adam.m()[i]), ulps(engine.v()[i], adam.v()[i])}) {
      ASSERT_GE(d, 0) << i;
      worst = std::max(worst, d);
    }
  }
  EXPECT_LE(worst, 4);
}

// A NaN or infinite gradient anywhere (first, middle, last element, a tail lane) skips the
// step as the engine does (GpuTransformer::clip_and_adamw returns the non-finite norm and
// the trainer does not advance the step count): p, m, v and the copy keep their bits, and
// the next step equals the engine's run that never saw the bad gradients. A huge finite
// gradient (its square overflows fp32 but not the double norm) is not skipped.
TEST(CpuAdamSkip, NonFiniteGradientSkipsTheStepAsTheEngineDoes) {
  const nn::AdamWConfig cfg;
  const float kNan = std::numeric_limits<float>::quiet_NaN(),
              kInf = std::numeric_limits<float>::infinity();
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(isa)) continue;
    auto engine_params = model_params(), ours = model_params();
    const auto n = static_cast<std::size_t>(ours.size());
    nn::AdamW engine(cfg, n);
    CpuAdam adam(cfg, segments_of(ours.infos()), {isa, 2, 4096, HalfFormat::kFp16});
    std::vector<uint16_t> half(n);
    int step = 0;
    const auto good_step = [&](float big) {
      auto g = gradients(n, 700 + step++);
      g[n / 3] = big;
      engine_params.grads() = g;
      engine.step(engine_params, 1e-3);
      const double norm = adam.step(ours.values().data(), g.data(), half.data(), 1e-3);
      EXPECT_TRUE(std::isfinite(norm));
    };
    good_step(1.0f);
    for (std::size_t at : {std::size_t{0}, n / 2, n - 1, n - 3}) {
      for (float bad : {kNan, kInf, -kInf}) {
        auto g = gradients(n, 5);
        g[at] = bad;
        const auto p = ours.values();
        const std::vector<float> m(adam.m(), adam.m() + n), v(adam.v(), adam.v() + n);
        const auto h = half;
        const double norm = adam.step(ours.values().data(), g.data(), half.data(), 1e-3);
        EXPECT_FALSE(std::isfinite(norm)) << isa_name(isa) << " at " << at;
        EXPECT_EQ(adam.steps(), engine.steps());
        ASSERT_EQ(first_difference(p, ours.values()), -1);
        ASSERT_EQ(std::memcmp(m.data(), adam.m(), n * sizeof(float)), 0);
        ASSERT_EQ(std::memcmp(v.data(), adam.v(), n * sizeof(float)), 0);
        ASSERT_EQ(first_difference(h, half), -1);
      }
      good_step(3e38f);  // v = (1-b2) g g overflows to inf in fp32 in both: same bits
    }
    EXPECT_EQ(first_difference(engine_params.values(), ours.values()), -1) << isa_name(isa);
    EXPECT_EQ(std::memcmp(engine.m(), adam.m(), n * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(engine.v(), adam.v(), n * sizeof(float)), 0);
    EXPECT_EQ(adam.steps(), 5);
  }
}

TEST(CpuAdamStep, BadSetupIsAClearError) {
  const nn::AdamWConfig cfg;
  const auto message = [&](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] {
              CpuAdam a(cfg, {{0, 10, true}, {12, 4, false}});
            }).find("without gaps"),
            std::string::npos);
  EXPECT_NE(message([&] {
              CpuAdam a(cfg, {{0, 10, true}}, {Isa::kScalar, 1, 0});
            }).find("tile"),
            std::string::npos);
  CpuAdam adam(cfg, {{0, 10, true}}, {Isa::kScalar, 1, 16, HalfFormat::kFp16});
  std::vector<float> p(10), g(10, 1.0f);
  EXPECT_NE(message([&] { adam.step(p.data(), g.data(), nullptr, 1e-3); }).find("16-bit"),
            std::string::npos);
}

}  // namespace
}  // namespace tessel::cpu_adam
