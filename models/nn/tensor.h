// Eigen matrix aliases shared by the training engine: row-major activations and weights.
#pragma once

#include <Eigen/Core>

namespace tessel::nn {

// Activations are [rows = batch * time, cols = features], row-major, so one token's
// features are contiguous and a [B, T] batch truncated to fewer tokens stays one block.
template <typename T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using MatMap = Eigen::Map<Matrix<T>>;
template <typename T>
using ConstMatMap = Eigen::Map<const Matrix<T>>;
template <typename T>
using RowVec = Eigen::Matrix<T, 1, Eigen::Dynamic>;
template <typename T>
using VecMap = Eigen::Map<RowVec<T>>;
template <typename T>
using ConstVecMap = Eigen::Map<const RowVec<T>>;

}  // namespace tessel::nn
