// Transformer forward and backward, one layer after another, as a readable reference.
#include "models/nn/transformer.h"

#include <cmath>

#include "models/common/rng.h"
#include "models/nn/layers.h"
#include "runtime/core/error.h"

namespace tessel::nn {

void TransformerConfig::validate() const {
  auto bad = [](const std::string& what) {
    throw Error("nn: transformer config: " + what, kExitConfig);
  };
  if (vocab_size <= 0) bad("vocab_size must be positive");
  if (max_seq <= 0) bad("max_seq must be positive");
  if (layers < 0) bad("layers must be >= 0");
  if (width <= 0 || heads <= 0) bad("width and heads must be positive");
  if (width % heads)
    bad("width " + std::to_string(width) + " is not divisible by heads " + std::to_string(heads));
  if (mlp_ratio <= 0) bad("mlp_ratio must be positive");
  if (head == Head::kClassifier && classes <= 1) bad("a classifier needs classes >= 2");
}

const char* layout_name(Norm norm) {
  return norm == Norm::kPostLN ? "post_ln" : "pre_ln";
}

std::vector<double> normal_values(std::size_t n, double stddev, uint64_t seed) {
  Rng rng(seed);
  std::vector<double> out(n);
  const double two_pi = 6.283185307179586;
  for (std::size_t i = 0; i < n; i += 2) {
    // 1 - u keeps the logarithm's argument in (0, 1].
    const double r = std::sqrt(-2.0 * std::log(1.0 - rng.uniform()));
    const double a = two_pi * rng.uniform();
    out[i] = stddev * r * std::cos(a);
    if (i + 1 < n) out[i + 1] = stddev * r * std::sin(a);
  }
  return out;
}

template <typename T>
Transformer<T>::Transformer(const TransformerConfig& config) : config_(config) {
  config_.validate();
  const int c = config_.width, f = config_.mlp_ratio * config_.width;
  wte_ = params_.add("wte", config_.vocab_size, c, -1, true);
  wpe_ = params_.add("wpe", config_.max_seq, c, -1, true);
  for (int l = 0; l < config_.layers; ++l) {
    const std::string p = "h" + std::to_string(l) + ".";
    BlockIds b;
    b.ln1_g = params_.add(p + "ln1_g", 1, c, l, false);
    b.ln1_b = params_.add(p + "ln1_b", 1, c, l, false);
    b.w_qkv = params_.add(p + "w_qkv", c, 3 * c, l, true);
    b.b_qkv = params_.add(p + "b_qkv", 1, 3 * c, l, false);
    b.w_proj = params_.add(p + "w_proj", c, c, l, true);
    b.b_proj = params_.add(p + "b_proj", 1, c, l, false);
    b.ln2_g = params_.add(p + "ln2_g", 1, c, l, false);
    b.ln2_b = params_.add(p + "ln2_b", 1, c, l, false);
    b.w_fc = params_.add(p + "w_fc", c, f, l, true);
    b.b_fc = params_.add(p + "b_fc", 1, f, l, false);
    b.w_fc2 = params_.add(p + "w_fc2", f, c, l, true);
    b.b_fc2 = params_.add(p + "b_fc2", 1, c, l, false);
    blocks_.push_back(b);
  }
  lnf_g_ = params_.add("lnf_g", 1, c, -1, false);
  lnf_b_ = params_.add("lnf_b", 1, c, -1, false);
  if (config_.head == Head::kClassifier) {
    w_cls_ = params_.add("w_cls", c, config_.classes, -1, true);
    b_cls_ = params_.add("b_cls", 1, config_.classes, -1, false);
  }
  params_.finalize();
}

template <typename T>
void Transformer<T>::init(uint64_t seed) {
  const auto z = normal_values(static_cast<std::size_t>(params_.size()), 1.0, seed);
  const double resid =
      config_.norm == Norm::kPostLN ? 0.02 : 0.02 / std::sqrt(2.0 * std::max(1, config_.layers));
  for (const auto& p : params_.infos()) {
    const std::string tail = p.name.substr(p.name.find('.') + 1);
    double stddev = 0.02;
    if (tail == "w_proj" || tail == "w_fc2") stddev = resid;
    const bool gain = tail.size() > 2 && tail.compare(tail.size() - 2, 2, "_g") == 0;
    const bool bias = p.rows == 1 && !gain;
    for (int64_t k = 0; k < p.size(); ++k) {
      T& v = params_.values()[static_cast<std::size_t>(p.offset + k)];
      v = gain ? T(1) : bias ? T(0) : static_cast<T>(stddev * z[p.offset + k]);
    }
  }
  params_.prepare_forward();
}

namespace {
template <typename M>
int64_t bytes_of(const M& m) {
  return static_cast<int64_t>(m.size()) * static_cast<int64_t>(sizeof(typename M::Scalar));
}
}  // namespace

template <typename T>
void Transformer<T>::trace_params(TensorTrace* t, int layer, TensorOp op,
                                  const char* prefix) const {
  if (!t) return;
  for (const auto& p : params_.infos())
    if (p.layer == layer)
      t->add(layer, op, std::string(prefix) + p.name, p.size() * static_cast<int64_t>(sizeof(T)));
}

template <typename T>
void Transformer<T>::check_batch(const data::TokenBatch& b, const StepOptions& o) const {
  auto bad = [](const std::string& what) { throw Error("nn: batch: " + what, kExitFailure); };
  if (b.batch <= 0 || b.seq <= 0) bad("empty batch");
  if (b.seq > config_.max_seq)
    bad("sequence length " + std::to_string(b.seq) + " exceeds max_seq " +
        std::to_string(config_.max_seq));
  if (static_cast<int64_t>(b.tokens.size()) != b.size()) bad("tokens size != batch * seq");
  for (int32_t t : b.tokens)
    if (t < 0 || t >= config_.vocab_size) bad("token id " + std::to_string(t) + " out of range");
  if (config_.head == Head::kLanguageModel) {
    if (static_cast<int64_t>(b.targets.size()) != b.size()) bad("targets size != batch * seq");
    for (int32_t t : b.targets)
      if (t >= config_.vocab_size) bad("target id " + std::to_string(t) + " out of range");
  } else {
    if (static_cast<int>(b.labels.size()) != b.batch) bad("labels size != batch");
    for (int32_t t : b.labels)
      if (t >= config_.classes) bad("label " + std::to_string(t) + " out of range");
  }
  if (!o.layer_scale.empty() && config_.norm == Norm::kPostLN)
    bad("layer dropping needs the pre-LN layout (PLD's switchable block)");
  if (o.trace && config_.norm == Norm::kPostLN)
    bad("the tensor trace records the pre-LN layout's tensors");
  if (!o.layer_scale.empty() && static_cast<int>(o.layer_scale.size()) != config_.layers)
    bad("layer_scale has " + std::to_string(o.layer_scale.size()) + " entries for " +
        std::to_string(config_.layers) + " layers");
}

template <typename T>
T Transformer<T>::forward(const data::TokenBatch& b, const StepOptions& o, bool need_grad) {
  check_batch(b, o);
  params_.prepare_forward();
  TensorTrace* tr = o.trace;
  const int c = config_.width;
  batch_ = b.batch;
  seq_ = b.seq;
  tokens_ = b.tokens;
  targets_ = config_.head == Head::kLanguageModel ? b.targets : b.labels;
  const Eigen::Index n = b.size();

  // Token + position embedding.
  Matrix<T> x(n, c);
  ConstMatMap<T> wte = params_.forward_value(wte_), wpe = params_.forward_value(wpe_);
  for (Eigen::Index r = 0; r < n; ++r)
    x.row(r) = wte.row(tokens_[static_cast<std::size_t>(r)]) + wpe.row(r % seq_);
  if (tr) {
    trace_params(tr, -1, TensorOp::kRead, "param:");
    tr->alloc(-1, "x0", bytes_of(x));
    tr->write(-1, "x0", bytes_of(x));
  }

  cache_.resize(static_cast<std::size_t>(config_.layers));
  for (int l = 0; l < config_.layers; ++l) {
    BlockCache& k = cache_[static_cast<std::size_t>(l)];
    k.scale = o.layer_scale.empty() ? 1.0 : o.layer_scale[static_cast<std::size_t>(l)];
    if (k.scale == 0) continue;  // skipped block: identity
    ++blocks_forward_;
    const BlockIds& p = blocks_[static_cast<std::size_t>(l)];
    k.x_in = std::move(x);
    if (config_.norm == Norm::kPostLN) {
      x = post_ln_block_forward(k, p);
      continue;
    }
    const T s = static_cast<T>(k.scale);
    layernorm_forward(k.x_in, fwd(p.ln1_g), fwd(p.ln1_b), k.ln1, k.ln1_mean, k.ln1_rstd);
    linear_forward(k.ln1, params_.forward_value(p.w_qkv), fwd(p.b_qkv), k.qkv);
    attention_forward(k.qkv, batch_, seq_, config_.heads, k.atty, k.att);
    linear_forward(k.atty, params_.forward_value(p.w_proj), fwd(p.b_proj), k.proj);
    k.x_mid = k.x_in + s * k.proj;
    layernorm_forward(k.x_mid, fwd(p.ln2_g), fwd(p.ln2_b), k.ln2, k.ln2_mean, k.ln2_rstd);
    linear_forward(k.ln2, params_.forward_value(p.w_fc), fwd(p.b_fc), k.fc);
    gelu_forward(k.fc, k.act);
    linear_forward(k.act, params_.forward_value(p.w_fc2), fwd(p.b_fc2), k.fc2);
    x = k.x_mid + s * k.fc2;
    if (tr) {
      trace_params(tr, l, TensorOp::kRead, "param:");
      const std::string h = "h" + std::to_string(l) + ".";
      for (auto [name, m] : {std::pair<const char*, const Matrix<T>*>{"ln1", &k.ln1},
                             {"qkv", &k.qkv},
                             {"att", &k.att},
                             {"atty", &k.atty},
                             {"x_mid", &k.x_mid},
                             {"ln2", &k.ln2},
                             {"fc", &k.fc},
                             {"act", &k.act}}) {
        tr->alloc(l, h + name, bytes_of(*m));
        tr->write(l, h + name, bytes_of(*m));
      }
    }
  }

  x_final_ = std::move(x);
  layernorm_forward(x_final_, fwd(lnf_g_), fwd(lnf_b_), lnf_, lnf_mean_, lnf_rstd_);
  if (config_.head == Head::kLanguageModel) {
    logits_.noalias() = lnf_ * wte.transpose();
  } else {
    pooled_.resize(batch_, c);
    for (int bi = 0; bi < batch_; ++bi)
      pooled_.row(bi) =
          lnf_.middleRows(static_cast<Eigen::Index>(bi) * seq_, seq_).colwise().mean();
    linear_forward(pooled_, params_.forward_value(w_cls_), fwd(b_cls_), logits_);
  }
  if (tr) {
    tr->alloc(-1, "lnf", bytes_of(lnf_));
    tr->write(-1, "lnf", bytes_of(lnf_));
    tr->alloc(-1, "logits", bytes_of(logits_));
    tr->write(-1, "logits", bytes_of(logits_));
  }
  if (need_grad) {
    const T loss = softmax_cross_entropy(logits_, targets_, dlogits_, &counted_);
    return logit_loss ? logit_loss(b, logits_, loss, dlogits_) : loss;
  }
  return softmax_cross_entropy_loss(logits_, targets_, &counted_);
}

template <typename T>
void Transformer<T>::backward(const StepOptions& o) {
  TensorTrace* tr = o.trace;
  const int c = config_.width;
  Matrix<T> dlnf;
  if (config_.head == Head::kLanguageModel) {
    ConstMatMap<T> wte = params_.forward_value(wte_);
    dlnf.noalias() = dlogits_ * wte;
    params_.grad(wte_).noalias() += dlogits_.transpose() * lnf_;
  } else {
    Matrix<T> dpooled;
    linear_backward(dlogits_, pooled_, params_.forward_value(w_cls_), &dpooled,
                    params_.grad(w_cls_), params_.grad(b_cls_).data());
    dlnf.resize(static_cast<Eigen::Index>(batch_) * seq_, c);
    for (int bi = 0; bi < batch_; ++bi)
      dlnf.middleRows(static_cast<Eigen::Index>(bi) * seq_, seq_).rowwise() =
          dpooled.row(bi) / static_cast<T>(seq_);
  }
  Matrix<T> dx;
  layernorm_backward(dlnf, x_final_, fwd(lnf_g_), lnf_mean_, lnf_rstd_, dx,
                     params_.grad(lnf_g_).data(), params_.grad(lnf_b_).data());
  if (tr) {
    tr->read(-1, "logits", bytes_of(logits_));
    tr->read(-1, "lnf", bytes_of(lnf_));
    tr->free(-1, "logits", bytes_of(logits_));
    tr->free(-1, "lnf", bytes_of(lnf_));
  }

  BackwardScratch scratch;
  auto& [dtmp, dact, dfc, dln, dxm, datty, dqkv] = scratch;
  for (int l = config_.layers - 1; l >= 0; --l) {
    BlockCache& k = cache_[static_cast<std::size_t>(l)];
    if (k.scale == 0) continue;  // skipped in the forward pass: no gradient, no work
    ++blocks_backward_;
    const BlockIds& p = blocks_[static_cast<std::size_t>(l)];
    if (config_.norm == Norm::kPostLN) {
      post_ln_block_backward(k, p, scratch, dx);
      continue;
    }
    const T s = static_cast<T>(k.scale);
    // x_out = x_mid + s · fc2(gelu(fc(ln2(x_mid))))
    dtmp = s * dx;
    linear_backward(dtmp, k.act, params_.forward_value(p.w_fc2), &dact, params_.grad(p.w_fc2),
                    params_.grad(p.b_fc2).data());
    gelu_backward(dact, k.fc, dfc);
    linear_backward(dfc, k.ln2, params_.forward_value(p.w_fc), &dln, params_.grad(p.w_fc),
                    params_.grad(p.b_fc).data());
    layernorm_backward(dln, k.x_mid, fwd(p.ln2_g), k.ln2_mean, k.ln2_rstd, dxm,
                       params_.grad(p.ln2_g).data(), params_.grad(p.ln2_b).data());
    dxm += dx;
    // x_mid = x_in + s · proj(attn(qkv(ln1(x_in))))
    dtmp = s * dxm;
    linear_backward(dtmp, k.atty, params_.forward_value(p.w_proj), &datty, params_.grad(p.w_proj),
                    params_.grad(p.b_proj).data());
    attention_backward(datty, k.qkv, k.att, batch_, seq_, config_.heads, dqkv);
    linear_backward(dqkv, k.ln1, params_.forward_value(p.w_qkv), &dln, params_.grad(p.w_qkv),
                    params_.grad(p.b_qkv).data());
    layernorm_backward(dln, k.x_in, fwd(p.ln1_g), k.ln1_mean, k.ln1_rstd, dx,
                       params_.grad(p.ln1_g).data(), params_.grad(p.ln1_b).data());
    dx += dxm;
    if (tr) {
      trace_params(tr, l, TensorOp::kRead, "param:");
      trace_params(tr, l, TensorOp::kWrite, "grad:");
      const std::string h = "h" + std::to_string(l) + ".";
      for (auto [name, m] : {std::pair<const char*, const Matrix<T>*>{"act", &k.act},
                             {"fc", &k.fc},
                             {"ln2", &k.ln2},
                             {"x_mid", &k.x_mid},
                             {"atty", &k.atty},
                             {"att", &k.att},
                             {"qkv", &k.qkv},
                             {"ln1", &k.ln1}}) {
        tr->read(l, h + name, bytes_of(*m));
        tr->free(l, h + name, bytes_of(*m));
      }
    }
  }

  MatMap<T> dwte = params_.grad(wte_), dwpe = params_.grad(wpe_);
  for (Eigen::Index r = 0; r < dx.rows(); ++r) {
    dwte.row(tokens_[static_cast<std::size_t>(r)]) += dx.row(r);
    dwpe.row(r % seq_) += dx.row(r);
  }
  if (tr) {
    tr->free(-1, "x0", bytes_of(dx));
    trace_params(tr, -1, TensorOp::kWrite, "grad:");
  }
  params_.mask_gradients();
}

// Post-LN: x_mid = LN1(x_in + proj(attn(qkv(x_in)))), out = LN2(x_mid + fc2(gelu(fc(x_mid)))).
// Layer dropping is refused for this layout (check_batch), so every block runs at scale 1.
template <typename T>
Matrix<T> Transformer<T>::post_ln_block_forward(BlockCache& k, const BlockIds& p) {
  linear_forward(k.x_in, params_.forward_value(p.w_qkv), fwd(p.b_qkv), k.qkv);
  attention_forward(k.qkv, batch_, seq_, config_.heads, k.atty, k.att);
  linear_forward(k.atty, params_.forward_value(p.w_proj), fwd(p.b_proj), k.proj);
  k.sum1 = k.x_in + k.proj;
  layernorm_forward(k.sum1, fwd(p.ln1_g), fwd(p.ln1_b), k.x_mid, k.ln1_mean, k.ln1_rstd);
  linear_forward(k.x_mid, params_.forward_value(p.w_fc), fwd(p.b_fc), k.fc);
  gelu_forward(k.fc, k.act);
  linear_forward(k.act, params_.forward_value(p.w_fc2), fwd(p.b_fc2), k.fc2);
  k.sum2 = k.x_mid + k.fc2;
  Matrix<T> out;
  layernorm_forward(k.sum2, fwd(p.ln2_g), fwd(p.ln2_b), out, k.ln2_mean, k.ln2_rstd);
  return out;
}

template <typename T>
void Transformer<T>::post_ln_block_backward(BlockCache& k, const BlockIds& p, BackwardScratch& s,
                                            Matrix<T>& dx) {
  Matrix<T>& dsum = s.dtmp;    // the gradient of the residual sum a LayerNorm reads
  Matrix<T>& dbranch = s.dxm;  // the gradient of x_mid
  layernorm_backward(dx, k.sum2, fwd(p.ln2_g), k.ln2_mean, k.ln2_rstd, dsum,
                     params_.grad(p.ln2_g).data(), params_.grad(p.ln2_b).data());
  linear_backward(dsum, k.act, params_.forward_value(p.w_fc2), &s.dact, params_.grad(p.w_fc2),
                  params_.grad(p.b_fc2).data());
  gelu_backward(s.dact, k.fc, s.dfc);
  linear_backward(s.dfc, k.x_mid, params_.forward_value(p.w_fc), &dbranch, params_.grad(p.w_fc),
                  params_.grad(p.b_fc).data());
  dbranch += dsum;  // the gradient of x_mid: the MLP branch plus the residual path
  layernorm_backward(dbranch, k.sum1, fwd(p.ln1_g), k.ln1_mean, k.ln1_rstd, dsum,
                     params_.grad(p.ln1_g).data(), params_.grad(p.ln1_b).data());
  linear_backward(dsum, k.atty, params_.forward_value(p.w_proj), &s.datty, params_.grad(p.w_proj),
                  params_.grad(p.b_proj).data());
  attention_backward(s.datty, k.qkv, k.att, batch_, seq_, config_.heads, s.dqkv);
  linear_backward(s.dqkv, k.x_in, params_.forward_value(p.w_qkv), &dx, params_.grad(p.w_qkv),
                  params_.grad(p.b_qkv).data());
  dx += dsum;  // the residual path around attention
}

template <typename T>
T Transformer<T>::forward_backward(const data::TokenBatch& batch, const StepOptions& options) {
  const T loss = forward(batch, options, true);
  backward(options);
  return loss;
}

template <typename T>
T Transformer<T>::loss(const data::TokenBatch& batch, const StepOptions& options) {
  return forward(batch, options, false);
}

template class Transformer<float>;
template class Transformer<double>;

}  // namespace tessel::nn
