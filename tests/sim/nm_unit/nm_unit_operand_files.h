// Test support for real N:M unit operands: .npy and mask files in a temp folder, and an
// int8 quantisation written independently of sim/nm_unit/nm_unit_weights.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "models/common/npy.h"
#include "models/sparse/mask_io.h"
#include "models/sparse/nm_pattern.h"

namespace tessel::nm_unit::testing {

inline void write_matrix(const std::string& path, const sparse::MatrixF& m) {
  NpyArray a;
  a.shape = {m.rows(), m.cols()};
  a.data.assign(m.data(), m.data() + m.size());
  write_npy(path, a);
}

// Round half to even written out with floor and a parity test (the code under test uses
// std::nearbyint), then the symmetric clamp.
inline int8_t ref_quantize(float v, float scale) {
  const double t = static_cast<double>(v / scale);  // the quotient rounded to float, as documented
  const double f = std::floor(t), frac = t - f;
  double r = frac > 0.5 ? f + 1 : frac < 0.5 ? f : (std::fmod(f, 2.0) == 0 ? f : f + 1);
  return static_cast<int8_t>(std::max(-127.0, std::min(127.0, r)));
}

inline float ref_scale(const float* v, int64_t n) {
  float amax = 0;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(v[i]));
  return amax == 0 ? 1.0f : amax / 127.0f;
}

inline sparse::MatrixI8 ref_quantize_rows(const sparse::MatrixF& w, std::vector<float>* scales) {
  sparse::MatrixI8 q(w.rows(), w.cols());
  for (int64_t r = 0; r < w.rows(); ++r) {
    const float s = ref_scale(w.row(r).data(), w.cols());
    if (scales) scales->push_back(s);
    for (int64_t c = 0; c < w.cols(); ++c) q(r, c) = ref_quantize(w(r, c), s);
  }
  return q;
}

inline sparse::MatrixI8 ref_quantize_tensor(const sparse::MatrixF& x, float* scale) {
  const float s = ref_scale(x.data(), x.size());
  if (scale) *scale = s;
  sparse::MatrixI8 q(x.rows(), x.cols());
  for (int64_t i = 0; i < x.size(); ++i) q.data()[i] = ref_quantize(x.data()[i], s);
  return q;
}

// Seeded 2:4-style float weights whose rows span several magnitudes (so the per-row
// scales differ), with exact .5 quotients planted in row 0 to exercise the ties.
inline sparse::MatrixF layer_weights(int64_t m, int64_t k, const sparse::Pattern& p,
                                     uint64_t seed) {
  sparse::MatrixF w = sparse::random_nm_float(m, k, p, seed);
  for (int64_t r = 0; r < m; ++r) w.row(r) *= std::pow(2.0f, static_cast<float>(r % 7) - 3.0f);
  // Row 0: max 127 gives scale 1, so 2.5 -> 2, 3.5 -> 4, -0.5 -> 0 (kept positions only).
  sparse::Mask keep = sparse::nonzero_mask(w);
  const float ties[] = {127.0f, 2.5f, -3.5f, -0.5f, 1.5f, -2.5f};
  int t = 0;
  for (int64_t c = 0; c < k && t < 6; ++c)
    if (keep(0, c)) w(0, c) = ties[t++];
  return w;
}

}  // namespace tessel::nm_unit::testing
