// Reference GEMMs (Eigen) that hardware models are checked against.
#pragma once

#include <cstdint>
#include <vector>

#include <Eigen/Core>

namespace tessel::linalg {

using MatrixI8 = Eigen::Matrix<int8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixI32 = Eigen::Matrix<int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// C = A·B with int8 operands and exact int32 accumulation (Eigen's product on widened
// operands, independent of any hardware loop order).
inline MatrixI32 gemm_int8(const MatrixI8& a, const MatrixI8& b) {
  return a.cast<int32_t>() * b.cast<int32_t>();
}

}  // namespace tessel::linalg
