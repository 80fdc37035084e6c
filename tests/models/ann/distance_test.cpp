// Every float L2 kernel this CPU runs (AVX-512F, AVX2 + FMA, portable) against the double-
// precision reference, at every dimension from 1 to 300 (full vectors and every tail length);
// the byte-row kernels against exact integer sums, and l2_sq_bytes against the float kernel bit
// for bit.
#include "models/ann/distance.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "models/common/rng.h"

namespace tessel::ann {
namespace {

TEST(L2Kernel, MatchesTheDoubleReferenceAndIsSymmetric) {
  Rng rng(5);
  for (int dim = 1; dim <= 300; ++dim) {
    std::vector<float> a(dim), b(dim);
    for (int k = 0; k < dim; ++k) {
      a[k] = static_cast<float>(rng.uniform() * 2 - 1);
      b[k] = static_cast<float>(rng.uniform() * 2 - 1);
    }
    const double exact = l2_sq_exact(a.data(), b.data(), dim);
    for (const detail::L2Kernel& k : detail::l2_sq_kernels()) {
      const float d = k.fn(a.data(), b.data(), dim);
      // float rounding of at most `dim` terms of size <= 4: relative error well under 1e-5.
      EXPECT_NEAR(d, exact, 1e-5 * exact + 1e-7) << k.name << " dim " << dim;
      // NN-descent relies on d(a, b) == d(b, a) bit for bit.
      EXPECT_EQ(d, k.fn(b.data(), a.data(), dim)) << k.name << " dim " << dim;
    }
    EXPECT_EQ(l2_sq(a.data(), b.data(), dim),
              detail::l2_sq_kernels().front().fn(a.data(), b.data(), dim));
  }
}

// Exact integer reference for byte rows.
uint64_t byte_l2(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  uint64_t s = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    const int64_t d = static_cast<int64_t>(a[k]) - static_cast<int64_t>(b[k]);
    s += static_cast<uint64_t>(d * d);
  }
  return s;
}

TEST(L2BytesKernel, MatchesTheExactIntegerSum) {
  Rng rng(13);
  for (int dim = 1; dim <= 300; ++dim)
    for (int extreme = 0; extreme < 2; ++extreme) {
      std::vector<uint8_t> a(dim), b(dim);
      for (int k = 0; k < dim; ++k) {
        // Random bytes, or the largest differences (0 against 255) the lanes must hold.
        a[k] = extreme ? 0 : static_cast<uint8_t>(rng.next_u64() % 256);
        b[k] = extreme ? 255 : static_cast<uint8_t>(rng.next_u64() % 256);
      }
      for (const detail::L2BytesKernel& k : detail::l2_sq_bytes_kernels())
        EXPECT_EQ(k.fn(a.data(), b.data(), dim), byte_l2(a, b)) << k.name << " dim " << dim;
    }
}

// l2_sq_bytes returns l2_sq's float bit for bit, on both sides of 2^24 (where it falls back).
TEST(L2BytesKernel, EqualsTheFloatKernelBitForBit) {
  Rng rng(17);
  int above = 0, below = 0;
  for (int dim : {1, 2, 7, 16, 31, 33, 64, 100, 128, 255, 256, 300, 784, 1000, 3000})
    for (int trial = 0; trial < 20; ++trial) {
      // Spread values (MNIST-like: many 0 and 255) so some sums pass 2^24.
      std::vector<uint8_t> a(dim), b(dim);
      std::vector<float> fa(dim), fb(dim);
      for (int k = 0; k < dim; ++k) {
        const uint64_t r = rng.next_u64();
        a[k] = r % 3 == 0 ? 0 : r % 3 == 1 ? 255 : static_cast<uint8_t>(r >> 8);
        b[k] = static_cast<uint8_t>(r >> 16) < 128 ? 0 : static_cast<uint8_t>(r >> 24);
        fa[k] = a[k], fb[k] = b[k];
      }
      const float want = l2_sq(fa.data(), fb.data(), dim);
      EXPECT_EQ(l2_sq_bytes(a.data(), b.data(), fa.data(), fb.data(), dim), want) << dim;
      (byte_l2(a, b) > (uint64_t{1} << 24) ? above : below) += 1;
    }
  EXPECT_GT(above, 20);
  EXPECT_GT(below, 20);
}

TEST(L2BytesKernel, ByteRowsOnlyForIntegersFrom0To255) {
  const std::vector<float> ok = {0, 1, 254, 255, 17};
  EXPECT_EQ(exact_byte_rows(ok.data(), 1, 5), (std::vector<uint8_t>{0, 1, 254, 255, 17}));
  for (const float bad : {0.5f, -1.0f, 256.0f, NAN, INFINITY}) {
    const std::vector<float> v = {3, bad};
    EXPECT_TRUE(exact_byte_rows(v.data(), 1, 2).empty()) << bad;
  }
}

}  // namespace
}  // namespace tessel::ann
