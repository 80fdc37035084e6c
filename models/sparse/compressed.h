// Compressed N:M storage (N values + log2(M)-bit indices per group) and NVIDIA's 2:4 metadata.
//
// Layout of CompressedMatrix (any N:M, M <= 16), for a rows x cols matrix with cols % M == 0:
//   values   rows x (cols/M * N), row-major: group g of row r holds its N kept values at
//            values[r][g*N .. g*N + N), in ascending column order.
//   indices  the position (0..M-1) of each value inside its group, same order, packed
//            little-endian into a bit stream of index_bits() = ceil(log2 M) bits per entry
//            (2 bits for 2:4, 3 for 2:8 / 4:8, 4 for M = 16), so a 2:4 fp16 matrix costs
//            2*16 + 2*2 = 36 bits per group of 4 instead of 64.
// A group with fewer than N non-zeros is padded with explicit zeros at the lowest unused
// positions, so every group has exactly N distinct, ascending indices (what NVIDIA's
// hardware expects, and what keeps the array's schedule independent of the data).
//
// NVIDIA 2:4 metadata (the `e` operand of mma.sp, PTX ISA "Sparse matrix storage"): each
// group of four consecutive K elements of a row becomes a 4-bit nibble, bits [1:0] = index
// of the first kept element, bits [3:2] = index of the second (first < second). Nibbles
// of consecutive groups fill a word from its least significant bits up:
//   fp16 / bf16: one 16-bit word per row per 16 K-columns (4 groups)
//   int8:        one 32-bit word per row per 32 K-columns (8 groups)
// (the word sizes PyTorch's semi-structured format and CUTLASS use for these types).
// Words are stored row-major: meta[r * (cols/W) + w] for W = 16 (fp16) or 32 (int8). The
// per-lane distribution of those words inside an mma.sp fragment is done by the CUDA
// kernel (models/sparse/nm_gemm_kernels.cu). cuSPARSELt's own compressed tile order is
// private to that library and not reproduced.
#pragma once

#include <cstdint>
#include <vector>

#include "models/sparse/nm_pattern.h"

namespace tessel::sparse {

template <typename T>
struct CompressedMatrix {
  using Dense = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Pattern pattern;
  int64_t rows = 0, cols = 0;  // dense shape
  Dense values;                // rows x kept_per_row()
  std::vector<uint8_t> packed_indices;

  int64_t groups_per_row() const { return cols / pattern.m; }
  int64_t kept_per_row() const { return groups_per_row() * pattern.n; }
  // Index (0..M-1) of stored value j of row r, read from the packed bit stream.
  int index(int64_t r, int64_t j) const;
  // Dense column of stored value j of row r.
  int64_t column(int64_t r, int64_t j) const { return (j / pattern.n) * pattern.m + index(r, j); }
  // All indices unpacked to one byte each (what a kernel's inner loop wants).
  std::vector<uint8_t> unpacked_indices() const;
  // Storage in bytes: values plus packed indices.
  int64_t bytes() const {
    return static_cast<int64_t>(values.size() * sizeof(T) + packed_indices.size());
  }
};

// Throws ConfigError naming the first violating group when `dense` is not N:M, or when
// cols is not a multiple of M. `dense` is read in place: a matrix, or a row-major view with
// unit inner stride (an Eigen::Map of a C-contiguous NumPy array), binds without a copy.
template <typename T>
CompressedMatrix<T> compress(
    const Eigen::Ref<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>&
        dense,
    const Pattern& p);
// The same for a matrix, with T deduced (compress(w, p)).
template <typename T>
CompressedMatrix<T> compress(
    const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>& dense,
    const Pattern& p) {
  using Ref = Eigen::Ref<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
  return compress<T>(Ref(dense), p);
}
template <typename T>
Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> decompress(
    const CompressedMatrix<T>& c);

// Bit-stream helpers used by compress() and by the simulator's metadata decoder model.
void pack_indices(const std::vector<uint8_t>& indices, int bits, std::vector<uint8_t>& out);
std::vector<uint8_t> unpack_indices(const std::vector<uint8_t>& packed, int bits, size_t count);

// NVIDIA 2:4 metadata words (layout above). Requires pattern 2:4 and cols % 16 == 0 (fp16)
// or cols % 32 == 0 (int8); ConfigError otherwise.
std::vector<uint16_t> nvidia_metadata_fp16(const CompressedMatrix<Eigen::half>& c);
std::vector<uint32_t> nvidia_metadata_int8(const CompressedMatrix<int8_t>& c);
// Rebuilds the compressed matrix from NVIDIA's values + metadata (the round trip); throws
// ConfigError on a nibble whose indices are not ascending (invalid for mma.sp).
CompressedMatrix<Eigen::half> from_nvidia_fp16(const MatrixH& values,
                                               const std::vector<uint16_t>& meta, int64_t cols);
CompressedMatrix<int8_t> from_nvidia_int8(const MatrixI8& values, const std::vector<uint32_t>& meta,
                                          int64_t cols);

}  // namespace tessel::sparse
