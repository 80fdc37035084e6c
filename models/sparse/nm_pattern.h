// N:M semi-structured sparsity: patterns, masks, projection onto the N:M set and checking.
//
// Convention (NVIDIA's, used throughout Tessel): "N:M" keeps at most N non-zeros in every
// group of M consecutive elements along the reduction dimension K. Weight matrices are
// row-major out_features x K, so groups run along each row: group g of row r covers
// columns [g*M, g*M + M).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

namespace tessel::sparse {

using MatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixI8 = Eigen::Matrix<int8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixI32 = Eigen::Matrix<int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixH = Eigen::Matrix<Eigen::half, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// Read-only views the kernels below take: a matrix binds without a copy, and so does any
// row-major buffer with unit inner stride (an Eigen::Map of a C-contiguous NumPy array).
// Other expressions are evaluated into a temporary first.
using RefF = Eigen::Ref<const MatrixF>;
using RefI8 = Eigen::Ref<const MatrixI8>;

inline constexpr int kMaxGroup = 16;  // M <= 16: indices fit in 4 bits

struct Pattern {
  int n = 2;  // kept per group
  int m = 4;  // group size
  // "2:4"; throws ConfigError unless 1 <= N < M <= 16.
  static Pattern parse(const std::string& text);
  std::string str() const { return std::to_string(n) + ":" + std::to_string(m); }
  // Bits per stored index: ceil(log2(M)), at least 1.
  int index_bits() const;
  bool operator==(const Pattern& o) const { return n == o.n && m == o.m; }
};

// Throws ConfigError naming the pattern unless 1 <= n < m <= 16.
void validate(const Pattern& p);

// A keep/drop mask of a rows x cols weight matrix (row-major, 1 = kept).
struct Mask {
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> keep;
  Mask() = default;
  Mask(int64_t r, int64_t c) : rows(r), cols(c), keep(static_cast<size_t>(r * c), 0) {}
  uint8_t operator()(int64_t r, int64_t c) const { return keep[static_cast<size_t>(r * cols + c)]; }
  uint8_t& operator()(int64_t r, int64_t c) { return keep[static_cast<size_t>(r * cols + c)]; }
  int64_t kept() const;
  bool operator==(const Mask& o) const {
    return rows == o.rows && cols == o.cols && keep == o.keep;
  }
};

// Projection onto the N:M set (the Z-update of NxMTransformer's ADMM): in every group keep
// the N largest magnitudes. Ties go to the lower column index, so the result does not
// depend on sort stability or platform. NaN counts as larger than every number (a NaN
// weight is kept, so it stays visible instead of silently vanishing). cols must be a
// multiple of M (ConfigError otherwise).
Mask project_mask(const RefF& w, const Pattern& p);
Mask project_mask(const RefI8& w, const Pattern& p);
// w with the dropped entries set to zero.
MatrixF project(const RefF& w, const Pattern& p);
MatrixI8 project(const RefI8& w, const Pattern& p);
MatrixF apply_mask(const RefF& w, const Mask& mask);
MatrixI8 apply_mask(const RefI8& w, const Mask& mask);
// Mask of the non-zeros of a matrix.
Mask nonzero_mask(const RefF& w);
Mask nonzero_mask(const RefI8& w);

// The first group (row-major order) holding more than N kept entries.
struct Violation {
  bool ok = true;
  int64_t row = 0, group = 0;  // group g covers columns [g*M, g*M + M)
  int kept = 0;
  std::string str(
      const Pattern& p) const;  // "row 3 group 5 (columns 20-23) keeps 3 of 4, 2:4 allows 2"
};
Violation check(const Mask& mask, const Pattern& p);
Violation check(const RefF& w, const Pattern& p);   // non-zeros
Violation check(const RefI8& w, const Pattern& p);  // non-zeros

// Random matrices that satisfy a pattern exactly with N non-zeros per group (seeded, for
// tests, benchmarks and the simulator's functional mode).
MatrixI8 random_nm_int8(int64_t rows, int64_t cols, const Pattern& p, uint64_t seed);
MatrixF random_nm_float(int64_t rows, int64_t cols, const Pattern& p, uint64_t seed);
MatrixI8 random_int8(int64_t rows, int64_t cols, uint64_t seed);
MatrixF random_float(int64_t rows, int64_t cols, uint64_t seed);

}  // namespace tessel::sparse
