// MLP classifier (Linear → GELU → ... → Linear, softmax cross-entropy) for image tasks.
#pragma once

#include <cstdint>
#include <vector>

#include "models/nn/params.h"
#include "models/nn/tensor.h"
#include "models/nn/tensor_trace.h"

namespace tessel::nn {

struct MlpConfig {
  int inputs = 0;
  std::vector<int> hidden;  // widths of the hidden layers (may be empty: linear model)
  int classes = 0;
  void validate() const;  // throws tessel::Error
};

// Parameters l<i>.w [in, out] and l<i>.b [1, out]; layer i is ParamInfo::layer i. The
// same seams as the Transformer: masks via ParamStore, gradients separate from the
// optimizer, and an optional tensor trace.
template <typename T>
class MlpClassifier {
 public:
  explicit MlpClassifier(const MlpConfig& config);
  // Weights N(0, 1/in) (He-like for GELU), biases 0, from tessel::Rng(seed).
  void init(uint64_t seed);

  const MlpConfig& config() const { return config_; }
  ParamStore<T>& params() { return params_; }
  const ParamStore<T>& params() const { return params_; }

  // x [batch, inputs]; labels [batch]. Adds the mean-loss gradient; returns the loss.
  T forward_backward(const Matrix<T>& x, const std::vector<int32_t>& labels,
                     TensorTrace* trace = nullptr);
  T loss(const Matrix<T>& x, const std::vector<int32_t>& labels);
  const Matrix<T>& logits() const { return logits_; }
  // Fraction of rows whose arg-max logit equals the label (after loss()).
  double accuracy(const std::vector<int32_t>& labels) const;

 private:
  T forward(const Matrix<T>& x, const std::vector<int32_t>& labels, bool need_grad,
            TensorTrace* trace);
  MlpConfig config_;
  ParamStore<T> params_;
  std::vector<Matrix<T>> pre_, post_;  // per layer: input and pre-activation
  Matrix<T> logits_, dlogits_;
};

extern template class MlpClassifier<float>;
extern template class MlpClassifier<double>;

}  // namespace tessel::nn
