// MLP classifier forward and backward.
#include "models/nn/mlp.h"

#include <cmath>
#include <string>

#include "models/nn/layers.h"
#include "models/nn/transformer.h"
#include "runtime/core/error.h"

namespace tessel::nn {

void MlpConfig::validate() const {
  if (inputs <= 0) throw Error("nn: mlp config: inputs must be positive", kExitConfig);
  if (classes <= 1) throw Error("nn: mlp config: classes must be >= 2", kExitConfig);
  for (int h : hidden)
    if (h <= 0) throw Error("nn: mlp config: hidden widths must be positive", kExitConfig);
}

template <typename T>
MlpClassifier<T>::MlpClassifier(const MlpConfig& config) : config_(config) {
  config_.validate();
  int in = config_.inputs;
  std::vector<int> outs = config_.hidden;
  outs.push_back(config_.classes);
  for (std::size_t i = 0; i < outs.size(); ++i) {
    const std::string p = "l" + std::to_string(i) + ".";
    params_.add(p + "w", in, outs[i], static_cast<int>(i), true);
    params_.add(p + "b", 1, outs[i], static_cast<int>(i), false);
    in = outs[i];
  }
  params_.finalize();
}

template <typename T>
void MlpClassifier<T>::init(uint64_t seed) {
  const auto z = normal_values(static_cast<std::size_t>(params_.size()), 1.0, seed);
  for (const auto& p : params_.infos()) {
    const bool bias = p.rows == 1;
    const double stddev = 1.0 / std::sqrt(static_cast<double>(p.rows));
    for (int64_t k = 0; k < p.size(); ++k)
      params_.values()[static_cast<std::size_t>(p.offset + k)] =
          bias ? T(0) : static_cast<T>(stddev * z[static_cast<std::size_t>(p.offset + k)]);
  }
  params_.prepare_forward();
}

template <typename T>
T MlpClassifier<T>::forward(const Matrix<T>& x, const std::vector<int32_t>& labels, bool need_grad,
                            TensorTrace* tr) {
  if (x.cols() != config_.inputs || static_cast<Eigen::Index>(labels.size()) != x.rows())
    throw Error(
        "nn: mlp batch: expected [n, " + std::to_string(config_.inputs) + "] inputs and n labels",
        kExitFailure);
  for (int32_t y : labels)
    if (y >= config_.classes) throw Error("nn: mlp batch: label out of range", kExitFailure);
  params_.prepare_forward();
  const int layers = params_.count() / 2;
  pre_.resize(static_cast<std::size_t>(layers));
  post_.resize(static_cast<std::size_t>(layers));
  Matrix<T> h = x;
  for (int i = 0; i < layers; ++i) {
    pre_[static_cast<std::size_t>(i)] = h;
    Matrix<T>& z = post_[static_cast<std::size_t>(i)];
    linear_forward(h, params_.forward_value(2 * i), params_.forward_value(2 * i + 1).data(), z);
    if (i + 1 < layers) gelu_forward(z, h);
    if (tr) {
      const std::string n = "l" + std::to_string(i);
      tr->read(i, "param:" + n + ".w", params_.info(2 * i).size() * int64_t(sizeof(T)));
      tr->alloc(i, n + ".z", z.size() * int64_t(sizeof(T)));
      tr->write(i, n + ".z", z.size() * int64_t(sizeof(T)));
    }
  }
  logits_ = post_.back();
  return need_grad ? softmax_cross_entropy(logits_, labels, dlogits_)
                   : softmax_cross_entropy_loss(logits_, labels);
}

template <typename T>
T MlpClassifier<T>::forward_backward(const Matrix<T>& x, const std::vector<int32_t>& labels,
                                     TensorTrace* tr) {
  const T loss = forward(x, labels, true, tr);
  const int layers = params_.count() / 2;
  Matrix<T> dz = dlogits_, dh;
  for (int i = layers - 1; i >= 0; --i) {
    const auto ui = static_cast<std::size_t>(i);
    linear_backward(dz, pre_[ui], params_.forward_value(2 * i), i > 0 ? &dh : nullptr,
                    params_.grad(2 * i), params_.grad(2 * i + 1).data());
    if (tr) {
      const std::string n = "l" + std::to_string(i);
      tr->write(i, "grad:" + n + ".w", params_.info(2 * i).size() * int64_t(sizeof(T)));
      tr->read(i, n + ".z", post_[ui].size() * int64_t(sizeof(T)));
      tr->free(i, n + ".z", post_[ui].size() * int64_t(sizeof(T)));
    }
    if (i > 0) gelu_backward(dh, post_[ui - 1], dz);
  }
  params_.mask_gradients();
  return loss;
}

template <typename T>
T MlpClassifier<T>::loss(const Matrix<T>& x, const std::vector<int32_t>& labels) {
  return forward(x, labels, false, nullptr);
}

template <typename T>
double MlpClassifier<T>::accuracy(const std::vector<int32_t>& labels) const {
  if (labels.empty()) return 0;
  int64_t right = 0;
  for (Eigen::Index r = 0; r < logits_.rows(); ++r) {
    Eigen::Index arg = 0;
    logits_.row(r).maxCoeff(&arg);
    right += arg == labels[static_cast<std::size_t>(r)];
  }
  return static_cast<double>(right) / static_cast<double>(labels.size());
}

template class MlpClassifier<float>;
template class MlpClassifier<double>;

}  // namespace tessel::nn
