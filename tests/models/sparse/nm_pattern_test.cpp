// Projection onto N:M against a rank-counting definition, tie-breaking, and the checker.
#include <gtest/gtest.h>

#include <cmath>

#include "models/sparse/nm_pattern.h"
#include "runtime/core/error.h"

namespace tessel::sparse {
namespace {

// Independent definition of the projection: entry i of a group is kept iff fewer than N
// entries of its group beat it (larger magnitude, or equal magnitude at a lower index).
Mask rank_reference(const MatrixF& w, const Pattern& p) {
  Mask m(w.rows(), w.cols());
  for (int64_t r = 0; r < w.rows(); ++r)
    for (int64_t c = 0; c < w.cols(); ++c) {
      const int64_t g0 = c / p.m * p.m;
      int beaten_by = 0;
      for (int64_t j = g0; j < g0 + p.m; ++j) {
        float a = std::fabs(w(r, j)), b = std::fabs(w(r, c));
        if (a > b || (a == b && j < c)) ++beaten_by;
      }
      m(r, c) = beaten_by < p.n;
    }
  return m;
}

TEST(NmPattern, ParsesAndValidates) {
  Pattern p = Pattern::parse("2:4");
  EXPECT_EQ(p.n, 2);
  EXPECT_EQ(p.m, 4);
  EXPECT_EQ(p.index_bits(), 2);
  EXPECT_EQ(Pattern::parse("4:8").index_bits(), 3);
  EXPECT_EQ(Pattern::parse("1:16").index_bits(), 4);
  EXPECT_EQ(Pattern::parse("2:3").index_bits(), 2);
  EXPECT_EQ(Pattern::parse("1:2").index_bits(), 1);
  EXPECT_THROW(Pattern::parse("4:4"), ConfigError);
  EXPECT_THROW(Pattern::parse("2:32"), ConfigError);
  EXPECT_THROW(Pattern::parse("0:4"), ConfigError);
  EXPECT_THROW(Pattern::parse("2-4"), ConfigError);
  EXPECT_THROW(Pattern::parse("2:4x"), ConfigError);
}

TEST(NmPattern, ProjectionMatchesRankDefinitionForAllPatterns) {
  const Pattern patterns[] = {{1, 2}, {1, 4}, {2, 4}, {3, 4}, {2, 8}, {4, 8}, {7, 16}, {2, 3}};
  uint64_t seed = 11;
  for (const Pattern& p : patterns) {
    MatrixF w = random_float(9, p.m * 7, seed++);
    // Quantise to a coarse grid so that ties really occur.
    w = (w * 4.0f).array().round() / 4.0f;
    Mask got = project_mask(w, p);
    EXPECT_TRUE(got == rank_reference(w, p)) << p.str();
    EXPECT_EQ(got.kept(), 9 * 7 * p.n) << p.str();
    EXPECT_TRUE(check(project(w, p), p).ok) << p.str();
  }
}

TEST(NmPattern, ViewsOfABufferAreReadInPlace) {
  // A row-major buffer with unit inner stride (a C-contiguous NumPy array) binds to RefF
  // without a copy; a strided view (every other row) is read through its outer stride.
  const Pattern p{2, 4};
  MatrixF w = random_float(6, 16, 3);
  const Eigen::Map<const MatrixF> map(w.data(), 6, 16);
  const RefF ref(map);
  EXPECT_EQ(ref.data(), w.data());
  EXPECT_TRUE(project_mask(map, p) == rank_reference(w, p));
  const auto rows =
      Eigen::Map<const MatrixF, 0, Eigen::OuterStride<>>(w.data(), 3, 16, Eigen::OuterStride<>(32));
  const RefF strided(rows);
  EXPECT_EQ(strided.data(), w.data());
  const MatrixF even = rows;  // rows 0, 2, 4
  EXPECT_TRUE(project_mask(strided, p) == rank_reference(even, p));
  EXPECT_TRUE(project(strided, p) == project(even, p));
}

TEST(NmPattern, TiesGoToTheLowerIndex) {
  MatrixF w(1, 8);
  w << 0.5f, -0.5f, 0.5f, 0.1f, 0, 0, 0, 0;
  Mask m = project_mask(w, {2, 4});
  EXPECT_EQ(m(0, 0), 1);
  EXPECT_EQ(m(0, 1), 1);
  EXPECT_EQ(m(0, 2), 0);
  EXPECT_EQ(m(0, 3), 0);
  // An all-zero group still keeps exactly N entries: the first two.
  EXPECT_EQ(m(0, 4), 1);
  EXPECT_EQ(m(0, 5), 1);
  EXPECT_EQ(m(0, 6), 0);
}

TEST(NmPattern, Int8ProjectionTreatsMinus128AsLargest) {
  MatrixI8 w(1, 4);
  w << 127, -128, 3, -127;
  Mask m = project_mask(w, {2, 4});
  EXPECT_EQ(m(0, 0), 1);
  EXPECT_EQ(m(0, 1), 1);
  EXPECT_EQ(m(0, 3), 0);
}

TEST(NmPattern, CheckerReportsFirstViolatingGroup) {
  MatrixF w = MatrixF::Zero(3, 12);
  w(1, 4) = w(1, 5) = w(1, 7) = 1;  // row 1 group 1: 3 of 4
  w(2, 0) = w(2, 1) = w(2, 2) = 1;  // a later violation
  Violation v = check(w, {2, 4});
  ASSERT_FALSE(v.ok);
  EXPECT_EQ(v.row, 1);
  EXPECT_EQ(v.group, 1);
  EXPECT_EQ(v.kept, 3);
  EXPECT_EQ(v.str({2, 4}), "row 1 group 1 (columns 4-7) keeps 3 of 4, 2:4 allows 2");
  EXPECT_TRUE(check(w, {3, 4}).ok);
  EXPECT_THROW(check(w, {2, 8}), ConfigError);  // 12 columns are not groups of 8
}

TEST(NmPattern, RandomNmHasExactlyNNonZerosPerGroup) {
  MatrixI8 w = random_nm_int8(16, 64, {2, 8}, 5);
  for (int64_t r = 0; r < 16; ++r)
    for (int64_t g = 0; g < 8; ++g) {
      int nz = 0;
      for (int i = 0; i < 8; ++i) nz += w(r, g * 8 + i) != 0;
      EXPECT_EQ(nz, 2);
    }
}

}  // namespace
}  // namespace tessel::sparse
