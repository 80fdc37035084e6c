// binary16 conversions and kernels against IEEE 754 by hand and by ldexp/nearbyint, and packed
// searches whose re-rank reads binary16 rows against the float32 re-rank and brute force.
#include "models/ann/fp16.h"

#include <gtest/gtest.h>

#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <random>
#include <string>

#include "models/ann/knn.h"
#include "models/ann/nsg.h"
#include "models/ann/packed_index.h"
#include "models/ann/search.h"
#include "tests/models/ann/test_util.h"

namespace tessel::ann {
namespace {

using testing::ref_dist;

// binary16 decoded from its fields by the definition: (-1)^s * 2^(e - 15) * (1 + f / 1024), or
// 2^-14 * f / 1024 when e = 0.
double ref_half_value(uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 31, f = h & 1023;
  const double magnitude = e == 0 ? std::ldexp(f, -24) : std::ldexp(1024 + f, e - 25);
  return s ? -magnitude : magnitude;
}

// x rounded to binary16's grid, to nearest with ties to even (std::nearbyint in the default
// rounding mode), as a double; infinity past the overflow threshold 65520.
double ref_round_to_half(float x) {
  const double a = std::fabs(static_cast<double>(x));
  int exponent = 0;
  std::frexp(a, &exponent);  // a = m * 2^exponent, m in [0.5, 1)
  const int e = std::max(exponent - 1, -14);
  const double ulp = std::ldexp(1.0, e - 10);
  const double r = std::nearbyint(a / ulp) * ulp;
  const double v = r >= 65520.0 ? std::numeric_limits<double>::infinity() : r;
  return std::signbit(x) ? -v : v;
}

TEST(Fp16, KnownBitPatterns) {
  EXPECT_EQ(float_to_half(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half(-2.0f), 0xC000);
  EXPECT_EQ(float_to_half(0.5f), 0x3800);
  EXPECT_EQ(float_to_half(65504.0f), 0x7BFF);  // the largest finite
  EXPECT_EQ(float_to_half(65519.0f), 0x7BFF);  // below the midpoint to 2^16: rounds down
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);  // the midpoint, ties to even: infinity
  EXPECT_EQ(float_to_half(1e6f), 0x7C00);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -14)), 0x0400);  // the smallest normal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);  // the smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1023.0f, -24)), 0x03FF);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);     // half of 2^-24: ties to 0 (even)
  EXPECT_EQ(float_to_half(std::ldexp(3.0f, -26)), 0x0001);     // 0.75 * 2^-24: up
  EXPECT_EQ(float_to_half(std::ldexp(3.0f, -25)), 0x0002);     // 1.5 * 2^-24: tie, to 2 (even)
  EXPECT_EQ(float_to_half(std::ldexp(2047.0f, -25)), 0x0400);  // 1023.5 * 2^-24: to the normal
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3C00);          // tie: to 1 (even)
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(3.0f, -11)), 0x3C02);          // tie: to 1 + 2^-9
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11) + 1e-7f), 0x3C01);  // past the tie
  EXPECT_EQ(float_to_half(1.0f / 3.0f), 0x3555);
  EXPECT_EQ(float_to_half(0.1f), 0x2E66);
  EXPECT_EQ(float_to_half(0.0f), 0x0000);
  EXPECT_EQ(float_to_half(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -140)), 0x0000);  // float subnormal: to zero
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(float_to_half(-std::numeric_limits<float>::infinity()), 0xFC00);
  const uint16_t nan = float_to_half(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);

  EXPECT_EQ(half_to_float(0x3C00), 1.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(half_to_float(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(half_to_float(0x7BFF), 65504.0f);
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(half_to_float(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::signbit(half_to_float(0x8000)));
  EXPECT_TRUE(std::isnan(half_to_float(0x7E00)));
  EXPECT_EQ(kHalfMax, half_to_float(0x7BFF));
}

TEST(Fp16, EveryHalfDecodesByTheDefinitionAndRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto b = static_cast<uint16_t>(h);
    if (((b >> 10) & 31) == 31) continue;  // infinities and NaNs: checked above
    ASSERT_EQ(static_cast<double>(half_to_float(b)), ref_half_value(b)) << std::hex << h;
    ASSERT_EQ(float_to_half(half_to_float(b)), b) << std::hex << h;
  }
}

TEST(Fp16, RoundingMatchesNearbyintOnRandomFloats) {
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  std::mt19937 rng(3);
  std::uniform_int_distribution<uint32_t> bits(0, 0x477FFFFF);  // |x| up to 65535.9
  std::uniform_real_distribution<float> unit(-2.0f, 2.0f);
  for (int i = 0; i < 200000; ++i) {
    float x;
    if (i % 2) {
      const uint32_t b = bits(rng) | (i % 4 == 1 ? 0x80000000u : 0);
      std::memcpy(&x, &b, sizeof x);
    } else {
      x = unit(rng);
    }
    ASSERT_EQ(static_cast<double>(half_to_float(float_to_half(x))), ref_round_to_half(x)) << x;
  }
  // Every midpoint between neighbouring normal halves of [1, 2) goes to the even one.
  for (uint16_t h = 0x3C00; h < 0x3FFF; ++h) {
    const float mid = (half_to_float(h) + half_to_float(h + 1)) / 2;  // exact in float
    EXPECT_EQ(float_to_half(mid), (h & 1) ? h + 1 : h);
  }
}

TEST(Fp16, KernelsMatchALongDoubleReferenceForEveryTail) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  std::uniform_int_distribution<int> byte(0, 255);
  const float offset = -1.5f, step = 3.0f / 255;
  for (const HalfKernels& kernels : half_kernels()) {
    for (int dim : {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 128, 784}) {
      std::vector<float> q(dim), x(dim), residual_x(dim);
      std::vector<uint16_t> h(dim), r(dim);
      std::vector<uint8_t> c(dim);
      for (int k = 0; k < dim; ++k) {
        q[k] = u(rng), h[k] = float_to_half(u(rng)), x[k] = half_to_float(h[k]);
        c[k] = static_cast<uint8_t>(byte(rng));
        r[k] = float_to_half(u(rng) * step / 6);
        residual_x[k] = code_value(offset, step, c[k]) + half_to_float(r[k]);
      }
      // The rows as the kernels must see them; only float summation order may differ.
      const long double want = ref_dist(q.data(), x.data(), dim);
      EXPECT_NEAR(kernels.l2(q.data(), h.data(), dim), want, 1e-5 * want)
          << kernels.name << " dim " << dim;
      const long double want_r = ref_dist(q.data(), residual_x.data(), dim);
      EXPECT_NEAR(kernels.l2_residual(q.data(), c.data(), r.data(), offset, step, dim), want_r,
                  1e-5 * want_r)
          << kernels.name << " dim " << dim;
    }
  }
  EXPECT_STREQ(best_half_kernels().name, half_kernels().front().name);
}

// A clustered set whose NSG recovers float recall once re-ranked (as packed_test's).
struct Clustered {
  VectorSet base, queries;
  Graph graph;
  KnnResult truth;
  Clustered() {
    MixtureSpec spec;
    spec.dim = 48, spec.centres = 10;
    base = gaussian_mixture(spec, 6000, 0), queries = gaussian_mixture(spec, 300, 1);
    NsgParams np;
    np.knn.k = 16, np.L = 40, np.R = 24, np.C = 200, np.entry_points = 16;
    graph = build_nsg(base, np);
    truth = exact_knn(base, queries, 10);
  }
};
const Clustered& clustered() {
  static const Clustered c;
  return c;
}

PackOptions with(RerankVectors v) {
  PackOptions o;
  o.rerank_vectors = v;
  return o;
}

// |sqrt(d~) - sqrt(d)| <= |x~ - x| (triangle inequality), so a row off by at most e_k per
// component has a squared distance off by at most 2 sqrt(d) E + E^2, E = sqrt(sum e_k^2); a
// relative 1e-5 covers float summation.
void expect_within_bound(const VectorSet& base, const VectorSet& queries, const KnnResult& found,
                         const std::function<double(float)>& component_error) {
  const int dim = base.dim;
  int64_t checked = 0;
  for (int64_t q = 0; q < queries.n; q += 3)
    for (int j = 0; j < 10; ++j) {
      const float* x = base.row(found.ids_of(q)[j]);
      double e2 = 0;
      for (int k = 0; k < dim; ++k) e2 += component_error(x[k]) * component_error(x[k]);
      const double d = static_cast<double>(ref_dist(queries.row(q), x, dim));
      const double bound = 2 * std::sqrt(d * e2) + e2 + 1e-5 * d;
      ASSERT_LE(std::fabs(found.dist_of(q)[j] - d), bound) << "query " << q << " rank " << j;
      ++checked;
    }
  EXPECT_GT(checked, 900);
}

TEST(PackedFp16, RerankedDistancesWithinTheBinary16Bound) {
  const Clustered& c = clustered();
  const PackedIndex half(c.graph, c.base, with(RerankVectors::kHalf));
  const PackedIndex residual(c.graph, c.base, with(RerankVectors::kHalfResidual));
  ASSERT_EQ(half.rerank_vectors(), RerankVectors::kHalf);
  ASSERT_EQ(residual.rerank_vectors(), RerankVectors::kHalfResidual);
  const SearchParams sp{48, 10};
  // Values: relative 2^-11 (normal) or absolute 2^-25 (subnormal) per component.
  expect_within_bound(c.base, c.queries, search_batch(half, c.queries, sp, 1), [](float x) {
    return std::max(std::ldexp(std::fabs(static_cast<double>(x)), -11), std::ldexp(1.0, -25));
  });
  // Residuals of at most step / 2: 2^-11 of that, plus float's rounding of code + residual.
  const double step = residual.quantizer().step;
  expect_within_bound(c.base, c.queries, search_batch(residual, c.queries, sp, 1), [step](float x) {
    return std::ldexp(step / 2, -11) + std::ldexp(std::fabs(static_cast<double>(x)), -23);
  });
  // The residual bound is the tighter one by far on this set (values up to ~2, step ~0.01).
  EXPECT_LT(std::ldexp(step / 2, -11) * 50, std::ldexp(1.0, -11));
}

TEST(PackedFp16, RecallWithinHalfAPercentOfTheFloat32Rerank) {
  const Clustered& c = clustered();
  const PackedIndex f32(c.graph, c.base, with(RerankVectors::kFloat32));
  for (RerankVectors v : {RerankVectors::kHalf, RerankVectors::kHalfResidual}) {
    const PackedIndex half(c.graph, c.base, with(v));
    for (int L : {16, 48, 96}) {
      const SearchParams sp{L, 10};
      const double r32 = recall_at(search_batch(f32, c.queries, sp, 1), c.truth, 10);
      const double r16 = recall_at(search_batch(half, c.queries, sp, 1), c.truth, 10);
      EXPECT_NEAR(r16, r32, 0.005) << "kind " << static_cast<int>(v) << " L " << L;
      if (L == 96) {
        EXPECT_GT(r32, 0.95);
      }
    }
  }
}

TEST(PackedFp16, MemoryHalvesTheRerankCopyAndOutOfRangeKeepsFloats) {
  const Clustered& c = clustered();
  const PackedIndex f32(c.graph, c.base, with(RerankVectors::kFloat32));
  const PackedIndex res(c.graph, c.base);  // the default
  EXPECT_EQ(res.rerank_vectors(), RerankVectors::kHalfResidual);
  // Same slots, overflow lists, codes and ids; 2 bytes less per component.
  EXPECT_EQ(f32.bytes() - res.bytes(), 6000u * 48 * 2);
  // One component of 1e6 has no binary16 value, but its residual fits (the others' residuals
  // stay below a step of ~3,900, that one's is float rounding): kHalf keeps float32,
  // kHalfResidual does not need to. The whole base scaled by 1e8 has residuals spread over
  // +-step / 2 ~ +-390,000, beyond 65504: float32 both times.
  VectorSet wide = c.base;
  wide.data[5] = 1e6f;
  EXPECT_EQ(PackedIndex(c.graph, wide, with(RerankVectors::kHalf)).rerank_vectors(),
            RerankVectors::kFloat32);
  EXPECT_EQ(PackedIndex(c.graph, wide, with(RerankVectors::kHalfResidual)).rerank_vectors(),
            RerankVectors::kHalfResidual);
  VectorSet scaled = c.base;
  for (float& x : scaled.data) x *= 1e8f;
  EXPECT_EQ(PackedIndex(c.graph, scaled, with(RerankVectors::kHalfResidual)).rerank_vectors(),
            RerankVectors::kFloat32);
  // Float searches keep float32.
  PackOptions floats;
  floats.codes = false;
  EXPECT_EQ(PackedIndex(c.graph, c.base, floats).rerank_vectors(), RerankVectors::kFloat32);
}

TEST(PackedFp16, SaveLoadKeepsTheKindAndRefusesAnother) {
  const Clustered& c = clustered();
  const uint64_t key = PackedIndex::source_key(c.graph, vector_checksum(c.base));
  const std::string path = ::testing::TempDir() + "fp16_test.packed";
  const RerankVectors kinds[] = {RerankVectors::kFloat32, RerankVectors::kHalf,
                                 RerankVectors::kHalfResidual};
  for (RerankVectors saved : kinds) {
    const PackedIndex packed(c.graph, c.base, with(saved));
    packed.save(path, key);
    for (RerankVectors asked : kinds) {
      const auto loaded = PackedIndex::load(path, key, with(asked));
      if (asked != saved) {
        EXPECT_EQ(loaded, nullptr) << static_cast<int>(saved) << " as " << static_cast<int>(asked);
        continue;
      }
      ASSERT_NE(loaded, nullptr);
      EXPECT_EQ(loaded->rerank_vectors(), saved);
      EXPECT_EQ(loaded->bytes(), packed.bytes());
      const SearchParams sp{32, 10};
      const KnnResult a = search_batch(packed, c.queries, sp, 1);
      const KnnResult b = search_batch(*loaded, c.queries, sp, 1);
      EXPECT_EQ(a.ids, b.ids);
      EXPECT_EQ(a.dist, b.dist);
    }
  }
  // A version-1 file (the layout before binary16) is a stale cache entry: nullptr, not an error.
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[7] = '1';
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_EQ(PackedIndex::load(path, key, PackOptions{}), nullptr);
  // A saved kind that names no kind is damage.
  const PackedIndex packed(c.graph, c.base);
  packed.save(path, key);
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // The kind sits just before the vectors' 8-byte size; find it as the last int32 equal to 2
  // before the binary16 array (its size: 6000 * 48 * 2 bytes).
  const uint64_t vector_bytes = 6000u * 48 * 2;
  std::size_t at = std::string::npos;
  for (std::size_t i = 0; i + 12 <= bytes.size(); ++i) {
    int32_t kind = 0;
    uint64_t size = 0;
    std::memcpy(&kind, &bytes[i], 4);
    std::memcpy(&size, &bytes[i + 4], 8);
    if (kind == 2 && size == vector_bytes) at = i;
  }
  ASSERT_NE(at, std::string::npos);
  const int32_t bogus = 7;
  std::memcpy(&bytes[at], &bogus, 4);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_EQ(testing::error_of([&] { PackedIndex::load(path, key, PackOptions{}); }),
            path + ": corrupt packed index (sizes do not match its shape)");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace tessel::ann
