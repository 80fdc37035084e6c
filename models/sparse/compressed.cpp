// Compressing N:M matrices, the packed index stream, and NVIDIA 2:4 metadata words.
#include "models/sparse/compressed.h"

#include <array>

#include "runtime/core/error.h"

namespace tessel::sparse {
namespace {

template <typename T>
bool is_zero(const T& v) {
  return static_cast<float>(v) == 0.0f;
}

// Metadata words: nibble per group, `groups_per_word` groups per word, row-major words.
template <typename Word, typename T>
std::vector<Word> nvidia_metadata(const CompressedMatrix<T>& c, int k_per_word, const char* what) {
  if (!(c.pattern == Pattern{2, 4}))
    throw ConfigError(std::string(what) + ": NVIDIA metadata exists for 2:4 only, matrix is " +
                      c.pattern.str());
  if (c.cols % k_per_word != 0)
    throw ConfigError(std::string(what) + ": " + std::to_string(c.cols) +
                      " columns are not a multiple of " + std::to_string(k_per_word) +
                      " (the K extent of one mma.sp operand row)");
  const int64_t words_per_row = c.cols / k_per_word;
  const int groups_per_word = k_per_word / 4;
  std::vector<Word> meta(static_cast<size_t>(c.rows * words_per_row), 0);
  std::vector<uint8_t> idx = c.unpacked_indices();
  for (int64_t r = 0; r < c.rows; ++r)
    for (int64_t g = 0; g < c.groups_per_row(); ++g) {
      const size_t j = static_cast<size_t>(r * c.kept_per_row() + g * 2);
      unsigned nibble = idx[j] | (idx[j + 1] << 2);
      meta[static_cast<size_t>(r * words_per_row + g / groups_per_word)] |=
          static_cast<Word>(nibble << (4 * (g % groups_per_word)));
    }
  return meta;
}

template <typename Word, typename T>
CompressedMatrix<T> from_nvidia(const typename CompressedMatrix<T>::Dense& values,
                                const std::vector<Word>& meta, int64_t cols, int k_per_word,
                                const char* what) {
  CompressedMatrix<T> c;
  c.pattern = Pattern{2, 4};
  c.rows = values.rows();
  c.cols = cols;
  if (cols % k_per_word != 0 || values.cols() != cols / 2)
    throw ConfigError(std::string(what) + ": values are " + std::to_string(values.rows()) + "x" +
                      std::to_string(values.cols()) + ", expected " + std::to_string(cols / 2) +
                      " columns for K=" + std::to_string(cols) + " (a multiple of " +
                      std::to_string(k_per_word) + ")");
  const int64_t words_per_row = cols / k_per_word;
  if (static_cast<int64_t>(meta.size()) != c.rows * words_per_row)
    throw ConfigError(std::string(what) + ": " + std::to_string(meta.size()) +
                      " metadata words, expected " + std::to_string(c.rows * words_per_row));
  const int groups_per_word = k_per_word / 4;
  std::vector<uint8_t> idx(static_cast<size_t>(c.rows * c.kept_per_row()));
  for (int64_t r = 0; r < c.rows; ++r)
    for (int64_t g = 0; g < c.groups_per_row(); ++g) {
      unsigned nibble = (meta[static_cast<size_t>(r * words_per_row + g / groups_per_word)] >>
                         (4 * (g % groups_per_word))) &
                        0xF;
      uint8_t i0 = nibble & 3, i1 = (nibble >> 2) & 3;
      if (i0 >= i1)
        throw ConfigError(std::string(what) + ": row " + std::to_string(r) + " group " +
                          std::to_string(g) + ": metadata nibble 0x" + "0123456789abcdef"[nibble] +
                          " does not hold two ascending indices");
      const size_t j = static_cast<size_t>(r * c.kept_per_row() + g * 2);
      idx[j] = i0;
      idx[j + 1] = i1;
    }
  c.values = values;
  pack_indices(idx, c.pattern.index_bits(), c.packed_indices);
  return c;
}

}  // namespace

void pack_indices(const std::vector<uint8_t>& indices, int bits, std::vector<uint8_t>& out) {
  out.assign((indices.size() * static_cast<size_t>(bits) + 7) / 8, 0);
  size_t bit = 0;
  for (uint8_t v : indices)
    for (int b = 0; b < bits; ++b, ++bit)
      if ((v >> b) & 1) out[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
}

std::vector<uint8_t> unpack_indices(const std::vector<uint8_t>& packed, int bits, size_t count) {
  std::vector<uint8_t> out(count, 0);
  size_t bit = 0;
  for (size_t i = 0; i < count; ++i)
    for (int b = 0; b < bits; ++b, ++bit)
      out[i] |= static_cast<uint8_t>(((packed[bit / 8] >> (bit % 8)) & 1) << b);
  return out;
}

template <typename T>
int CompressedMatrix<T>::index(int64_t r, int64_t j) const {
  const int bits = pattern.index_bits();
  size_t bit = static_cast<size_t>(r * kept_per_row() + j) * static_cast<size_t>(bits);
  int v = 0;
  for (int b = 0; b < bits; ++b, ++bit) v |= ((packed_indices[bit / 8] >> (bit % 8)) & 1) << b;
  return v;
}

template <typename T>
std::vector<uint8_t> CompressedMatrix<T>::unpacked_indices() const {
  return unpack_indices(packed_indices, pattern.index_bits(),
                        static_cast<size_t>(rows * kept_per_row()));
}

template <typename T>
CompressedMatrix<T> compress(
    const Eigen::Ref<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>&
        dense,
    const Pattern& p) {
  validate(p);
  if (dense.cols() % p.m != 0)
    throw ConfigError("compress: " + std::to_string(dense.cols()) +
                      " columns are not a multiple of the group size M=" + std::to_string(p.m) +
                      " of pattern " + p.str());
  CompressedMatrix<T> c;
  c.pattern = p;
  c.rows = dense.rows();
  c.cols = dense.cols();
  c.values = CompressedMatrix<T>::Dense::Zero(c.rows, c.kept_per_row());
  std::vector<uint8_t> idx(static_cast<size_t>(c.rows * c.kept_per_row()));
  for (int64_t r = 0; r < c.rows; ++r)
    for (int64_t g = 0; g < c.groups_per_row(); ++g) {
      const int64_t c0 = g * p.m;
      int kept = 0;
      for (int i = 0; i < p.m; ++i) kept += !is_zero(dense(r, c0 + i));
      if (kept > p.n)
        throw ConfigError("compress: matrix is not " + p.str() + ": " +
                          Violation{false, r, g, kept}.str(p));
      // Zero padding goes to the lowest positions not holding a non-zero, then the N
      // positions are emitted in ascending order.
      int pad = p.n - kept;
      int j = 0;
      for (int i = 0; i < p.m; ++i) {
        bool nz = !is_zero(dense(r, c0 + i));
        if (!nz && pad > 0) {
          --pad;
          nz = true;
        }
        if (!nz) continue;
        c.values(r, g * p.n + j) = dense(r, c0 + i);
        idx[static_cast<size_t>(r * c.kept_per_row() + g * p.n + j)] = static_cast<uint8_t>(i);
        ++j;
      }
    }
  pack_indices(idx, p.index_bits(), c.packed_indices);
  return c;
}

template <typename T>
Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> decompress(
    const CompressedMatrix<T>& c) {
  using Dense = typename CompressedMatrix<T>::Dense;
  Dense d = Dense::Zero(c.rows, c.cols);
  std::vector<uint8_t> idx = c.unpacked_indices();
  for (int64_t r = 0; r < c.rows; ++r)
    for (int64_t j = 0; j < c.kept_per_row(); ++j)
      d(r, (j / c.pattern.n) * c.pattern.m + idx[static_cast<size_t>(r * c.kept_per_row() + j)]) =
          c.values(r, j);
  return d;
}

std::vector<uint16_t> nvidia_metadata_fp16(const CompressedMatrix<Eigen::half>& c) {
  return nvidia_metadata<uint16_t>(c, 16, "nvidia_metadata_fp16");
}
std::vector<uint32_t> nvidia_metadata_int8(const CompressedMatrix<int8_t>& c) {
  return nvidia_metadata<uint32_t>(c, 32, "nvidia_metadata_int8");
}
CompressedMatrix<Eigen::half> from_nvidia_fp16(const MatrixH& values,
                                               const std::vector<uint16_t>& meta, int64_t cols) {
  return from_nvidia<uint16_t, Eigen::half>(values, meta, cols, 16, "from_nvidia_fp16");
}
CompressedMatrix<int8_t> from_nvidia_int8(const MatrixI8& values, const std::vector<uint32_t>& meta,
                                          int64_t cols) {
  return from_nvidia<uint32_t, int8_t>(values, meta, cols, 32, "from_nvidia_int8");
}

#define TESSEL_SPARSE_INSTANTIATE(T)                                                              \
  template struct CompressedMatrix<T>;                                                            \
  template CompressedMatrix<T> compress<T>(                                                       \
      const Eigen::Ref<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>&, \
      const Pattern&);                                                                            \
  template Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> decompress<T>(       \
      const CompressedMatrix<T>&);
TESSEL_SPARSE_INSTANTIATE(float)
TESSEL_SPARSE_INSTANTIATE(int8_t)
TESSEL_SPARSE_INSTANTIATE(Eigen::half)
#undef TESSEL_SPARSE_INSTANTIATE

}  // namespace tessel::sparse
