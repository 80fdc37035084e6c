// Forward and backward of the engine's MLP with an external logits gradient.
#include "models/continual/net.h"

#include <cmath>

#include "models/nn/layers.h"

namespace tessel::continual {

namespace {
nn::AdamWConfig no_decay() {
  nn::AdamWConfig c;
  c.beta2 = 0.999;  // the usual Adam default; the engine's 0.95 targets LM pre-training
  c.weight_decay = 0;
  return c;
}
}  // namespace

Net::Net(const nn::MlpConfig& config, double lr, uint64_t seed)
    : mlp_(config), opt_(no_decay(), size_t(mlp_.params().size())), lr_(lr) {
  mlp_.init(seed);
  mlp_.params().zero_grad();
}

const nn::Matrix<float>& Net::forward(const nn::Matrix<float>& x) {
  auto& p = mlp_.params();
  const int layers = p.count() / 2;
  pre_.resize(size_t(layers));
  post_.resize(size_t(layers));
  nn::Matrix<float> h = x;
  for (int i = 0; i < layers; ++i) {
    pre_[size_t(i)] = h;
    nn::linear_forward(h, p.forward_value(2 * i), p.forward_value(2 * i + 1).data(),
                       post_[size_t(i)]);
    if (i + 1 < layers) nn::gelu_forward(post_[size_t(i)], h);
  }
  return post_.back();
}

void Net::backward(const nn::Matrix<float>& dlogits) {
  auto& p = mlp_.params();
  const int layers = p.count() / 2;
  nn::Matrix<float> dz = dlogits, dh;
  for (int i = layers - 1; i >= 0; --i) {
    nn::linear_backward(dz, pre_[size_t(i)], p.forward_value(2 * i), i > 0 ? &dh : nullptr,
                        p.grad(2 * i), p.grad(2 * i + 1).data());
    if (i > 0) nn::gelu_backward(dh, post_[size_t(i - 1)], dz);
  }
}

void Net::step() {
  opt_.step(mlp_.params(), lr_);
  mlp_.params().zero_grad();
}

double add_cross_entropy(const nn::Matrix<float>& logits, const std::vector<int32_t>& labels,
                         int64_t r0, int64_t n, double scale, nn::Matrix<float>& dlogits) {
  double total = 0;
  for (int64_t r = r0; r < r0 + n; ++r) {
    const float mx = logits.row(r).maxCoeff();
    const nn::RowVec<float> e = (logits.row(r).array() - mx).exp().matrix();
    const float sum = e.sum();
    const int32_t y = labels[size_t(r)];
    total += double(std::log(sum) + mx - logits(r, y));
    dlogits.row(r) = e * float(scale / sum);
    dlogits(r, y) -= float(scale);
  }
  return total;
}

}  // namespace tessel::continual
