// Decoder-only Transformer with explicit forward and backward on CPU: GPT-2's pre-LN layout,
// or the original Transformer's (and BERT's) post-LN layout as a baseline.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/data/batch.h"
#include "models/nn/params.h"
#include "models/nn/tensor.h"
#include "models/nn/tensor_trace.h"

namespace tessel::nn {

enum class Head {
  kLanguageModel,  // logits = LN_f(x) · wteᵀ (tied with the token embedding)
  kClassifier      // logits = mean_t LN_f(x) · w_cls + b_cls, one label per sequence
};

// Where each block's LayerNorms sit.
enum class Norm {
  kPreLN,  // x + f(LN(x)) for both branches (GPT-2; PLD's switchable block)
  kPostLN  // LN(x + f(x)) for both branches (Vaswani et al. 2017, BERT: PLD's paper baseline)
};

struct TransformerConfig {
  int vocab_size = 0;
  int max_seq = 0;  // positions in the position embedding
  int layers = 0;
  int width = 0;  // C; must be divisible by heads
  int heads = 0;
  int mlp_ratio = 4;  // MLP hidden = mlp_ratio * C
  Head head = Head::kLanguageModel;
  int classes = 0;  // classifier head only
  // Both layouts end in LN_f before the head (redundant but harmless after a post-LN block,
  // and it keeps the parameter set identical).
  Norm norm = Norm::kPreLN;
  // Throws tessel::Error naming the first inconsistent field.
  void validate() const;
};

// Per-step switches the training algorithms set; the defaults run the plain model.
struct StepOptions {
  // Progressive layer dropping: per block, the factor on its residual branches. 0 skips
  // the block (identity, no compute, no gradient); 1/p_l rescales a block kept with
  // probability p_l. Empty means every block runs with factor 1.
  std::vector<double> layer_scale;
  // Sentinel: when set, every tensor allocation, free and access is recorded.
  TensorTrace* trace = nullptr;
};

// The model: parameters (ParamStore: wte, wpe, per block h<l>.{ln1_g, ln1_b, w_qkv,
// b_qkv, w_proj, b_proj, ln2_g, ln2_b, w_fc, b_fc, w_fc2, b_fc2}, lnf_g, lnf_b and for
// the classifier w_cls, b_cls) and the activations of the last forward pass.
//
// Gradient production and the optimizer are separate: forward_backward() only fills
// params().grads() (accumulating, so several micro-batches can add up); what updates
// the values, and where its state lives, is the caller's business.
template <typename T>
class Transformer {
 public:
  explicit Transformer(const TransformerConfig& config);

  // Seam for extra loss terms on the logits (knowledge distillation): called by
  // forward_backward() after the cross-entropy, with the batch, the logits, the mean
  // cross-entropy and its gradient dlogits = (p - onehot) / counted. It may rewrite
  // dlogits (the backward pass starts from whatever it leaves) and returns the loss that
  // forward_backward() reports. Evaluation (loss()) never calls it. CPU model only.
  std::function<T(const data::TokenBatch& batch, const Matrix<T>& logits, T loss,
                  Matrix<T>& dlogits)>
      logit_loss;

  // GPT-2 initialisation from tessel::Rng(seed): weights N(0, 0.02), residual
  // projections N(0, 0.02 / sqrt(2 * layers)), biases 0, LayerNorm gains 1. Post-LN uses
  // BERT's N(0, 0.02) for the residual projections too: the depth scaling is GPT-2's remedy
  // for the pre-LN residual stream's growth, which a post-LN block normalises away.
  void init(uint64_t seed);

  const TransformerConfig& config() const { return config_; }
  ParamStore<T>& params() { return params_; }
  const ParamStore<T>& params() const { return params_; }

  // Forward and backward over one batch (any seq <= max_seq: a truncated batch is the
  // sequence-length seam). Adds the gradient of the mean loss to params().grads() and
  // returns the mean loss.
  T forward_backward(const data::TokenBatch& batch, const StepOptions& options = {});
  // Forward only; returns the mean loss and keeps the logits.
  T loss(const data::TokenBatch& batch, const StepOptions& options = {});
  // Logits of the last forward: [batch*seq, vocab] (LM) or [batch, classes].
  const Matrix<T>& logits() const { return logits_; }
  // LN_f(x) of the last forward, [batch*seq, width]: the input to the output head (FGD
  // decodes from these hidden states, docs/fgd.md).
  const Matrix<T>& final_hidden() const { return lnf_; }
  // Number of loss terms of the last forward (counted targets, or sequences).
  int64_t counted() const { return counted_; }
  // Blocks run since construction, in forward passes (training and evaluation) and in
  // backward passes. A block skipped by StepOptions::layer_scale adds to neither: this is
  // how the trainer reports, and the tests check, that a dropped block costs no work.
  int64_t blocks_forward() const { return blocks_forward_; }
  int64_t blocks_backward() const { return blocks_backward_; }

 private:
  struct BlockIds {
    int ln1_g, ln1_b, w_qkv, b_qkv, w_proj, b_proj, ln2_g, ln2_b, w_fc, b_fc, w_fc2, b_fc2;
  };
  struct BlockCache {
    double scale = 1;  // 0: skipped
    // Pre-LN: ln1 = LN1(x_in), x_mid = x_in + proj, ln2 = LN2(x_mid).
    // Post-LN: sum1 = x_in + proj, x_mid = LN1(sum1), sum2 = x_mid + fc2 (ln1, ln2 unused).
    Matrix<T> x_in, ln1, qkv, att, atty, proj, x_mid, ln2, fc, act, fc2, sum1, sum2;
    std::vector<T> ln1_mean, ln1_rstd, ln2_mean, ln2_rstd;
  };

  // Backward temporaries, shared by every block of one backward pass.
  struct BackwardScratch {
    Matrix<T> dtmp, dact, dfc, dln, dxm, datty, dqkv;
  };

  T forward(const data::TokenBatch& batch, const StepOptions& options, bool need_grad);
  void backward(const StepOptions& options);
  // One block of the post-LN layout: forward returns the block's output; backward takes the
  // gradient of that output in dx and leaves the gradient of its input there.
  Matrix<T> post_ln_block_forward(BlockCache& k, const BlockIds& p);
  void post_ln_block_backward(BlockCache& k, const BlockIds& p, BackwardScratch& s, Matrix<T>& dx);
  void check_batch(const data::TokenBatch& batch, const StepOptions& options) const;
  void trace_params(TensorTrace* t, int layer, TensorOp op, const char* prefix) const;
  const T* fwd(int id) const { return params_.forward_value(id).data(); }

  TransformerConfig config_;
  ParamStore<T> params_;
  int wte_ = 0, wpe_ = 0, lnf_g_ = 0, lnf_b_ = 0, w_cls_ = -1, b_cls_ = -1;
  std::vector<BlockIds> blocks_;

  // Activations of the last forward.
  int batch_ = 0, seq_ = 0;
  std::vector<int32_t> tokens_, targets_;
  std::vector<BlockCache> cache_;
  Matrix<T> x_final_, lnf_, pooled_, logits_, dlogits_;
  std::vector<T> lnf_mean_, lnf_rstd_;
  int64_t counted_ = 0;
  int64_t blocks_forward_ = 0, blocks_backward_ = 0;
};

extern template class Transformer<float>;
extern template class Transformer<double>;

// `model.layout`'s name of a layout: "pre_ln" or "post_ln".
const char* layout_name(Norm norm);

// Draws n values ~ N(0, std²) from tessel::Rng(seed) by Box–Muller, identical on every
// platform (std::normal_distribution is not).
std::vector<double> normal_values(std::size_t n, double stddev, uint64_t seed);

}  // namespace tessel::nn
