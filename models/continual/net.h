// The engine's MLP (models/nn: MlpClassifier's parameters, layers and AdamW) driven with a
// caller-supplied logits gradient, so one forward/backward serves the replay losses of
// ER (cross-entropy) and DER++ (cross-entropy plus logit MSE).
#pragma once

#include <cstdint>
#include <vector>

#include "models/nn/mlp.h"
#include "models/nn/optimizer.h"

namespace tessel::continual {

class Net {
 public:
  Net(const nn::MlpConfig& config, double lr, uint64_t seed);
  // Logits [rows, classes]; keeps the activations for backward().
  const nn::Matrix<float>& forward(const nn::Matrix<float>& x);
  // Accumulates the parameter gradient for dL/dlogits (after forward on the same x).
  void backward(const nn::Matrix<float>& dlogits);
  // One AdamW step (no weight decay, constant lr), then zeroes the gradients.
  void step();
  int classes() const { return mlp_.config().classes; }
  nn::ParamStore<float>& params() { return mlp_.params(); }

 private:
  nn::MlpClassifier<float> mlp_;
  nn::AdamW opt_;
  double lr_;
  std::vector<nn::Matrix<float>> pre_, post_;
};

// Softmax cross-entropy gradient of rows [r0, r0 + n) against labels, scaled by `scale`
// (written into those rows of dlogits); returns the summed loss of the rows.
double add_cross_entropy(const nn::Matrix<float>& logits, const std::vector<int32_t>& labels,
                         int64_t r0, int64_t n, double scale, nn::Matrix<float>& dlogits);

}  // namespace tessel::continual
