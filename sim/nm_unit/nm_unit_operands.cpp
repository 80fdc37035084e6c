// Seeded operands for functional runs and checks against the models/sparse reference GEMMs.
#include "sim/nm_unit/nm_unit_operands.h"

#include <algorithm>
#include <cmath>

#include "models/linalg/gemm_reference.h"
#include "models/sparse/mask_io.h"
#include "models/sparse/nm_gemm.h"
#include "runtime/core/seed.h"
#include "sim/nm_unit/nm_unit_weights.h"

namespace tessel::nm_unit {
namespace {

// Weights as float for either dtype (int8 values are integers in [-128, 127]).
sparse::MatrixI8 int8_weights(const NmUnitWorkload& w, uint64_t seed) {
  if (w.dense) return sparse::random_int8(w.m, w.k, seed);
  if (w.mask_path.empty()) return sparse::random_nm_int8(w.m, w.k, w.pattern, seed);
  // Shape and pattern were checked by read_workload.
  sparse::MaskFile mf = sparse::load_mask(w.mask_path);
  sparse::MatrixI8 v = sparse::random_int8(w.m, w.k, seed);
  for (int64_t r = 0; r < w.m; ++r)
    for (int64_t c = 0; c < w.k; ++c)
      v(r, c) = mf.mask(r, c) ? (v(r, c) == 0 ? int8_t{1} : v(r, c)) : int8_t{0};
  return v;
}

template <typename M>
Check compare(const char* name, const M& got, const M& ref, double tol) {
  Check c{name, true, 0, tol, ""};
  for (int64_t i = 0; i < ref.rows(); ++i)
    for (int64_t j = 0; j < ref.cols(); ++j) {
      const double g = static_cast<double>(got(i, j)), r = static_cast<double>(ref(i, j));
      const double err = std::fabs(g - r);
      c.max_error = std::max(c.max_error, err);
      if (err > tol && c.passed) {
        c.passed = false;
        c.detail = "Y[" + std::to_string(i) + "][" + std::to_string(j) +
                   "] = " + std::to_string(g) + ", reference " + std::to_string(r);
      }
    }
  return c;
}

}  // namespace

Operands make_operands(const NmUnitParams& p, const NmUnitWorkload& w, const Mapping& map,
                       uint64_t seed) {
  Operands ops;
  uint64_t state = seed;
  const uint64_t wseed = splitmix64(state), xseed = splitmix64(state);
  const sparse::Pattern pat = w.dense ? sparse::Pattern{1, 2} : w.pattern;
  if (p.dtype == DType::kInt8) {
    sparse::MatrixI8 w8;
    if (w.weights) {
      Int8Quantized q =
          w.weights_int8 ? int8_as_is(*w.weights, w.m) : quantize_int8_per_row(*w.weights);
      w8 = std::move(q.q);
      ops.weight_scales = std::move(q.scales);
    } else {
      w8 = int8_weights(w, wseed);
    }
    if (w.activations) {
      Int8Quantized q = w.activations_int8 ? int8_as_is(*w.activations, 1)
                                           : quantize_int8_per_tensor(*w.activations);
      ops.x8 = std::move(q.q);
      ops.act_scale = q.scales[0];
    } else {
      ops.x8 = sparse::random_int8(w.k, w.n, xseed);
    }
    // Quantisation only turns non-zeros into zeros, so quantised weights keep the pattern;
    // compress pads a group left with fewer than N non-zeros.
    if (map.sparse)
      ops.w8 = sparse::compress(w8, pat);
    else
      ops.w8_dense = w8;
  } else {
    // fp16 weights: real ones converted to the nearest fp16 (map_workload checked the
    // range), else the int8 pattern scaled to [-1, 1), so the same positions are kept.
    sparse::MatrixH wh =
        w.weights ? w.weights->cast<Eigen::half>()
                  : (int8_weights(w, wseed).cast<float>() / 128.0f).cast<Eigen::half>().eval();
    ops.xh = w.activations ? w.activations->cast<Eigen::half>().eval()
                           : sparse::random_float(w.k, w.n, xseed).cast<Eigen::half>().eval();
    if (map.sparse)
      ops.wh = sparse::compress(wh, pat);
    else
      ops.wh_dense = wh;
  }
  return ops;
}

Check check_int8(const Operands& ops, const Mapping& map, const sparse::MatrixI32& y) {
  if (map.sparse)
    return compare("Y == nm_gemm_reference(W, X) (int8, int32 accumulation)", y,
                   sparse::nm_gemm_reference(ops.w8, ops.x8), 0.0);
  return compare("Y == W*X dense (int8, int32 accumulation)", y,
                 linalg::gemm_int8(ops.w8_dense, ops.x8), 0.0);
}

Check check_fp16(const Operands& ops, const Mapping& map, const sparse::MatrixF& y) {
  sparse::MatrixF x = ops.xh.cast<float>();
  // The unit adds the products in the reference's order; the bound covers a different fp32
  // rounding of each of the K additions of terms up to max|w|·max|x| (below 1 for the
  // seeded operands, any size for real ones).
  const double wmax = static_cast<double>(
                   (map.sparse ? ops.wh.values.cast<float>() : ops.wh_dense.cast<float>())
                       .cwiseAbs()
                       .maxCoeff()),
               xmax = static_cast<double>(x.cwiseAbs().maxCoeff());
  const double tol = 1e-6 * static_cast<double>(x.rows()) * std::max(1.0, wmax * xmax);
  if (map.sparse) {
    sparse::CompressedMatrix<float> wf;
    wf.pattern = ops.wh.pattern;
    wf.rows = ops.wh.rows;
    wf.cols = ops.wh.cols;
    wf.values = ops.wh.values.cast<float>();
    wf.packed_indices = ops.wh.packed_indices;
    return compare("Y ~= nm_gemm_reference(W, X) (fp16 operands, fp32 accumulation)", y,
                   sparse::nm_gemm_reference(wf, x), tol);
  }
  sparse::MatrixF ref = ops.wh_dense.cast<float>() * x;
  return compare("Y ~= W*X dense (fp16 operands, fp32 accumulation)", y, ref, tol);
}

}  // namespace tessel::nm_unit
