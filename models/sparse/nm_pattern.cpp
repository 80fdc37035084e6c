// Projection onto N:M, the N:M checker and seeded N:M matrix generators.
#include "models/sparse/nm_pattern.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "runtime/core/error.h"
#include "runtime/core/seed.h"

namespace tessel::sparse {
namespace {

void require_divisible(int64_t cols, const Pattern& p, const char* what) {
  validate(p);
  if (cols % p.m != 0)
    throw ConfigError(std::string(what) + ": " + std::to_string(cols) +
                      " columns are not a multiple of the group size M=" + std::to_string(p.m) +
                      " of pattern " + p.str());
}

// Magnitude ordering with NaN largest; equal magnitudes keep column order.
template <typename Mag>
Mask project_impl(int64_t rows, int64_t cols, const Pattern& p, Mag magnitude) {
  require_divisible(cols, p, "project_mask");
  Mask mask(rows, cols);
  std::array<int, kMaxGroup> order{};
  std::array<double, kMaxGroup> mag{};
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c0 = 0; c0 < cols; c0 += p.m) {
      for (int i = 0; i < p.m; ++i) {
        double v = magnitude(r, c0 + i);
        mag[i] = std::isnan(v) ? INFINITY : v;
        order[i] = i;
      }
      // Partial selection of the N largest; the comparator is a strict total order
      // (magnitude descending, then index ascending), so the result is unique.
      std::partial_sort(order.begin(), order.begin() + p.n, order.begin() + p.m, [&](int a, int b) {
        return mag[a] > mag[b] || (mag[a] == mag[b] && a < b);
      });
      for (int i = 0; i < p.n; ++i) mask(r, c0 + order[i]) = 1;
    }
  }
  return mask;
}

template <typename M>
Mask nonzero_impl(const M& w) {
  Mask mask(w.rows(), w.cols());
  for (int64_t r = 0; r < w.rows(); ++r)
    for (int64_t c = 0; c < w.cols(); ++c) mask(r, c) = w(r, c) != 0 ? 1 : 0;
  return mask;
}

// M is the owning matrix type of the result; W a matrix or a view of one.
template <typename M, typename W>
M apply_impl(const W& w, const Mask& mask) {
  if (mask.rows != w.rows() || mask.cols != w.cols())
    throw ConfigError("apply_mask: mask is " + std::to_string(mask.rows) + "x" +
                      std::to_string(mask.cols) + ", matrix is " + std::to_string(w.rows()) + "x" +
                      std::to_string(w.cols()));
  M out = w;
  for (int64_t r = 0; r < w.rows(); ++r)
    for (int64_t c = 0; c < w.cols(); ++c)
      if (!mask(r, c)) out(r, c) = 0;
  return out;
}

// Distinct positions for the N kept entries of a group: a seeded partial Fisher-Yates.
template <typename Fill>
void random_positions(int64_t rows, int64_t cols, const Pattern& p, uint64_t& state, Fill fill) {
  require_divisible(cols, p, "random_nm");
  std::array<int, kMaxGroup> pos{};
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c0 = 0; c0 < cols; c0 += p.m) {
      for (int i = 0; i < p.m; ++i) pos[i] = i;
      for (int i = 0; i < p.n; ++i) {
        int j = i + static_cast<int>(splitmix64(state) % static_cast<uint64_t>(p.m - i));
        std::swap(pos[i], pos[j]);
        fill(r, c0 + pos[i]);
      }
    }
}

int8_t nonzero_int8(uint64_t& state) {
  // 255 non-zero values: -128..-1 and 1..127.
  int v = static_cast<int>(splitmix64(state) % 255) - 128;
  return static_cast<int8_t>(v >= 0 ? v + 1 : v);
}

float unit_float(uint64_t& state) {
  // Uniform in [-1, 1) from the top 24 bits; never exactly zero after the shift below.
  float u = static_cast<float>(splitmix64(state) >> 40) / 16777216.0f;
  return 2.0f * u - 1.0f + 1.0f / 33554432.0f;
}

}  // namespace

Pattern Pattern::parse(const std::string& text) {
  Pattern p;
  size_t colon = text.find(':');
  try {
    if (colon == std::string::npos) throw std::invalid_argument("no colon");
    size_t used = 0;
    p.n = std::stoi(text.substr(0, colon), &used);
    if (used != colon) throw std::invalid_argument("trailing");
    std::string rest = text.substr(colon + 1);
    p.m = std::stoi(rest, &used);
    if (used != rest.size()) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    throw ConfigError("N:M pattern: expected \"N:M\" such as \"2:4\", got \"" + text + "\"");
  }
  validate(p);
  return p;
}

void validate(const Pattern& p) {
  if (p.n < 1 || p.m > kMaxGroup || p.n >= p.m)
    throw ConfigError("N:M pattern " + p.str() +
                      ": need 1 <= N < M <= " + std::to_string(kMaxGroup));
}

int Pattern::index_bits() const {
  int bits = 1;
  while ((1 << bits) < m) ++bits;
  return bits;
}

int64_t Mask::kept() const {
  int64_t k = 0;
  for (uint8_t v : keep) k += v != 0;
  return k;
}

Mask project_mask(const RefF& w, const Pattern& p) {
  return project_impl(w.rows(), w.cols(), p,
                      [&](int64_t r, int64_t c) { return std::fabs(double{w(r, c)}); });
}
Mask project_mask(const RefI8& w, const Pattern& p) {
  // |-128| = 128 is representable in the double, so int8 magnitudes never wrap.
  return project_impl(w.rows(), w.cols(), p,
                      [&](int64_t r, int64_t c) { return std::abs(static_cast<double>(w(r, c))); });
}
MatrixF project(const RefF& w, const Pattern& p) {
  return apply_mask(w, project_mask(w, p));
}
MatrixI8 project(const RefI8& w, const Pattern& p) {
  return apply_mask(w, project_mask(w, p));
}
MatrixF apply_mask(const RefF& w, const Mask& mask) {
  return apply_impl<MatrixF>(w, mask);
}
MatrixI8 apply_mask(const RefI8& w, const Mask& mask) {
  return apply_impl<MatrixI8>(w, mask);
}
Mask nonzero_mask(const RefF& w) {
  return nonzero_impl(w);
}
Mask nonzero_mask(const RefI8& w) {
  return nonzero_impl(w);
}

std::string Violation::str(const Pattern& p) const {
  if (ok) return "satisfies " + p.str();
  return "row " + std::to_string(row) + " group " + std::to_string(group) + " (columns " +
         std::to_string(group * p.m) + "-" + std::to_string(group * p.m + p.m - 1) + ") keeps " +
         std::to_string(kept) + " of " + std::to_string(p.m) + ", " + p.str() + " allows " +
         std::to_string(p.n);
}

Violation check(const Mask& mask, const Pattern& p) {
  require_divisible(mask.cols, p, "check");
  Violation v;
  for (int64_t r = 0; r < mask.rows; ++r)
    for (int64_t g = 0; g < mask.cols / p.m; ++g) {
      int kept = 0;
      for (int i = 0; i < p.m; ++i) kept += mask(r, g * p.m + i) != 0;
      if (kept > p.n) return Violation{false, r, g, kept};
    }
  return v;
}
Violation check(const RefF& w, const Pattern& p) {
  return check(nonzero_mask(w), p);
}
Violation check(const RefI8& w, const Pattern& p) {
  return check(nonzero_mask(w), p);
}

MatrixI8 random_nm_int8(int64_t rows, int64_t cols, const Pattern& p, uint64_t seed) {
  MatrixI8 w = MatrixI8::Zero(rows, cols);
  uint64_t state = seed;
  random_positions(rows, cols, p, state,
                   [&](int64_t r, int64_t c) { w(r, c) = nonzero_int8(state); });
  return w;
}

MatrixF random_nm_float(int64_t rows, int64_t cols, const Pattern& p, uint64_t seed) {
  MatrixF w = MatrixF::Zero(rows, cols);
  uint64_t state = seed;
  random_positions(rows, cols, p, state,
                   [&](int64_t r, int64_t c) { w(r, c) = unit_float(state); });
  return w;
}

MatrixI8 random_int8(int64_t rows, int64_t cols, uint64_t seed) {
  MatrixI8 m(rows, cols);
  uint64_t state = seed;
  for (int64_t i = 0; i < m.size(); ++i)
    m.data()[i] = static_cast<int8_t>(static_cast<uint8_t>(splitmix64(state) >> 56));
  return m;
}

MatrixF random_float(int64_t rows, int64_t cols, uint64_t seed) {
  MatrixF m(rows, cols);
  uint64_t state = seed;
  for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = unit_float(state);
  return m;
}

}  // namespace tessel::sparse
