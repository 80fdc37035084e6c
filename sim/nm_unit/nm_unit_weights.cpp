// .npy operands of the N:M unit and their symmetric int8 quantisation.
#include "sim/nm_unit/nm_unit_weights.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "models/common/npy.h"
#include "runtime/core/error.h"

namespace tessel::nm_unit {
namespace {

// One symmetric scale for v[0..n): max|v| / 127, 1 for all zeros. A scale that underflows
// to zero (max|v| among the smallest denormals) becomes the smallest positive float; the
// clamp below then holds the quotients.
float symmetric_scale(const float* v, int64_t n) {
  float amax = 0;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(v[i]));
  if (amax == 0) return 1.0f;
  const float s = amax / 127.0f;
  return s > 0 ? s : std::numeric_limits<float>::denorm_min();
}

int8_t quantize(float v, float scale) {
  // nearbyint rounds in the current mode; Tessel never changes it from the default
  // round-to-nearest-even.
  const float r = std::nearbyint(v / scale);
  return static_cast<int8_t>(std::clamp(r, -127.0f, 127.0f));
}

}  // namespace

std::string value_text(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
  return buf;
}

Int8Quantized quantize_int8_per_row(const sparse::MatrixF& w) {
  Int8Quantized out;
  out.q.resize(w.rows(), w.cols());
  out.scales.resize(static_cast<size_t>(w.rows()));
  for (int64_t r = 0; r < w.rows(); ++r) {
    const float s = symmetric_scale(w.row(r).data(), w.cols());
    out.scales[static_cast<size_t>(r)] = s;
    for (int64_t c = 0; c < w.cols(); ++c) out.q(r, c) = quantize(w(r, c), s);
  }
  return out;
}

Int8Quantized quantize_int8_per_tensor(const sparse::MatrixF& x) {
  Int8Quantized out;
  const float s = symmetric_scale(x.data(), x.size());
  out.scales = {s};
  out.q.resize(x.rows(), x.cols());
  for (int64_t i = 0; i < x.size(); ++i) out.q.data()[i] = quantize(x.data()[i], s);
  return out;
}

Int8Quantized int8_as_is(const sparse::MatrixF& v, int64_t scales) {
  Int8Quantized out;
  out.q = v.cast<int8_t>();
  out.scales.assign(static_cast<size_t>(scales), 1.0f);
  return out;
}

std::shared_ptr<const sparse::MatrixF> read_operand(const Config& workload, const std::string& key,
                                                    int64_t rows, int64_t cols,
                                                    const std::string& what, bool* int8) {
  const std::string path = workload.get_path(key);
  NpyArray a;
  try {
    a = read_npy(path);
  } catch (const IoError& e) {
    // read_npy names the file; add where the config asked for it.
    const std::string prefix = workload.at(key).location().str() + ": " +
                               (workload.key_path().empty() ? "" : workload.key_path() + ".") +
                               key + ": ";
    throw IoError(prefix + e.what());
  }
  if (a.shape.size() != 2 || a.shape[0] != rows || a.shape[1] != cols)
    workload.fail(key, path + " has shape " + a.shape_string() + ", the workload's " + what +
                           " is [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
  if (int8) *int8 = a.is_int8();
  auto m = std::make_shared<sparse::MatrixF>(rows, cols);
  std::copy(a.data.begin(), a.data.end(), m->data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      if (!std::isfinite((*m)(r, c)))
        workload.fail(key, path + ": row " + std::to_string(r) + " col " + std::to_string(c) +
                               " is " + value_text((*m)(r, c)) + ", not a finite number");
  return m;
}

}  // namespace tessel::nm_unit
