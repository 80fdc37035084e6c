// Compressed N:M format: round trips, packed index bits, and NVIDIA 2:4 metadata words.
#include <gtest/gtest.h>

#include "models/sparse/compressed.h"
#include "runtime/core/error.h"

namespace tessel::sparse {
namespace {

TEST(Compressed, RoundTripsEveryPattern) {
  const Pattern patterns[] = {{1, 4}, {2, 4}, {2, 8}, {4, 8}, {3, 16}, {2, 3}};
  uint64_t seed = 3;
  for (const Pattern& p : patterns) {
    MatrixI8 w = random_nm_int8(7, p.m * 5, p, seed++);
    auto c = compress(w, p);
    EXPECT_EQ(c.values.cols(), 5 * p.n);
    EXPECT_TRUE(decompress(c) == w) << p.str();
    MatrixF f = random_nm_float(5, p.m * 3, p, seed++);
    EXPECT_TRUE(decompress(compress(f, p)) == f) << p.str();
    // Storage: N values + N indices of ceil(log2 M) bits per group.
    const size_t bits = static_cast<size_t>(7 * 5 * p.n * p.index_bits());
    EXPECT_EQ(c.packed_indices.size(), (bits + 7) / 8) << p.str();
  }
}

TEST(Compressed, PacksTwoBitIndicesLittleEndian) {
  MatrixI8 w(1, 8);
  w << 0, 5, 0, 6, 7, 0, 0, 8;  // groups keep (1, 3) and (0, 3)
  auto c = compress(w, {2, 4});
  ASSERT_EQ(c.packed_indices.size(), 1u);
  // Indices 1, 3, 0, 3 at bits 0-1, 2-3, 4-5, 6-7: 0b11'00'11'01.
  EXPECT_EQ(c.packed_indices[0], 0xCD);
  EXPECT_EQ(c.values(0, 0), 5);
  EXPECT_EQ(c.values(0, 3), 8);
  EXPECT_EQ(c.column(0, 2), 4);
}

TEST(Compressed, PadsSparseGroupsWithZerosAtLowestFreePositions) {
  MatrixI8 w(1, 8);
  w << 0, 0, 9, 0, 0, 0, 0, 0;
  auto c = compress(w, {2, 4});
  std::vector<uint8_t> idx = c.unpacked_indices();
  EXPECT_EQ(idx, (std::vector<uint8_t>{0, 2, 0, 1}));
  EXPECT_EQ(c.values(0, 0), 0);
  EXPECT_EQ(c.values(0, 1), 9);
}

TEST(Compressed, RejectsNonNmInputNamingTheGroup) {
  MatrixI8 w = MatrixI8::Zero(2, 8);
  w(1, 4) = w(1, 5) = w(1, 6) = 1;
  try {
    compress(w, {2, 4});
    FAIL() << "no exception";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("row 1 group 1 (columns 4-7) keeps 3 of 4"),
              std::string::npos)
        << e.what();
  }
}

TEST(NvidiaMetadata, Fp16WordsHoldOneNibblePerGroup) {
  // Groups keep (0,1), (2,3), (0,3), (1,2): nibbles 0x4, 0xE, 0xC, 0x9 from the LSB up.
  MatrixH w = MatrixH::Zero(2, 16);
  const int keep[4][2] = {{0, 1}, {2, 3}, {0, 3}, {1, 2}};
  for (int g = 0; g < 4; ++g)
    for (int i : keep[g]) {
      w(0, g * 4 + i) = Eigen::half(1.5f + g);
      w(1, (3 - g) * 4 + i) = Eigen::half(-2.0f);
    }
  auto c = compress(w, {2, 4});
  std::vector<uint16_t> meta = nvidia_metadata_fp16(c);
  ASSERT_EQ(meta.size(), 2u);
  EXPECT_EQ(meta[0], 0x9CE4);
  EXPECT_EQ(meta[1], 0x4EC9);  // row 1 has the groups in reverse order
  auto back = from_nvidia_fp16(c.values, meta, 16);
  EXPECT_TRUE(decompress(back) == w);
}

TEST(NvidiaMetadata, Int8WordsRoundTripOnRandomMatrices) {
  MatrixI8 w = random_nm_int8(16, 96, {2, 4}, 21);
  auto c = compress(w, {2, 4});
  std::vector<uint32_t> meta = nvidia_metadata_int8(c);
  ASSERT_EQ(meta.size(), 16u * 3);
  // Every nibble holds two ascending indices (the only ones mma.sp accepts).
  for (uint32_t word : meta)
    for (int g = 0; g < 8; ++g) {
      unsigned nib = (word >> (4 * g)) & 0xF;
      EXPECT_LT(nib & 3, nib >> 2);
    }
  auto back = from_nvidia_int8(c.values, meta, 96);
  EXPECT_TRUE(decompress(back) == w);
  EXPECT_EQ(back.packed_indices, c.packed_indices);
}

TEST(NvidiaMetadata, RejectsOtherPatternsAndBadNibbles) {
  MatrixI8 w = random_nm_int8(2, 32, {2, 8}, 1);
  EXPECT_THROW(nvidia_metadata_int8(compress(w, {2, 8})), ConfigError);
  MatrixI8 w24 = random_nm_int8(2, 16, {2, 4}, 1);
  EXPECT_THROW(nvidia_metadata_int8(compress(w24, {2, 4})), ConfigError);  // K % 32 != 0
  MatrixI8 vals = MatrixI8::Zero(1, 16);
  std::vector<uint32_t> bad = {0x44444441u};  // first nibble: indices 1, 0
  EXPECT_THROW(from_nvidia_int8(vals, bad, 32), ConfigError);
}

}  // namespace
}  // namespace tessel::sparse
