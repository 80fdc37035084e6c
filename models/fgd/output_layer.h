// A language model's output layer (logits = W h + b) and the exact baselines FGD is measured
// against: the full softmax by one GEMV, exact top-K over every logit, and the
// inner-product-to-L2 transform that lets a Euclidean graph search find the largest logits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/ann/vectors.h"

namespace tessel::fgd {

// W is vocab x dim, row-major (row i is word i's output vector), b has vocab entries. A tied
// head (the training engine's LM: logits = LN_f(x) · wteᵀ) has b = 0.
struct OutputLayer {
  int64_t vocab = 0;
  int dim = 0;
  std::vector<float> weight;
  std::vector<float> bias;

  const float* row(int64_t i) const { return weight.data() + i * dim; }
  // Throws tessel::Error when the sizes disagree or the layer is empty.
  void validate() const;
};

// The transform of FGD (arXiv 1806.04189, section 3.1; the same as Bachrach et al. 2014):
// word i becomes x̃_i = [x_i; b_i; sqrt(U² - |x_i|² - b_i²)] with U = max_i |[x_i; b_i]|, so
// every x̃_i has norm U, and a query h becomes q̃ = [h; 1; 0]. Then
//   |q̃ - x̃_i|² = |h|² + 1 + U² - 2 (x_i·h + b_i),
// a decreasing function of the logit: the nearest transformed words are the largest logits.
struct TransformedVocab {
  ann::VectorSet base;  // vocab x (dim + 2)
  double U = 0;
};
TransformedVocab ip_to_l2(const OutputLayer& layer);
// q̃ = [h; 1; 0] into out (dim + 2 floats).
void transform_query(const float* h, int dim, float* out);

// Which GEMV computes the logits: OpenBLAS cblas_sgemv (one thread) when the build found it,
// otherwise Eigen's matrix-vector product. Named in every result.
const char* gemv_backend();
// Loads the BLAS with one thread (the decoding baselines are single-thread) before a timed
// loop; no-op for Eigen.
void set_blas_single_thread();
// logits[i] = W_i·h + b_i for every word, one GEMV.
void compute_logits(const OutputLayer& layer, const float* h, float* logits);

// The full softmax of one decoding step: logits by GEMV, then p_i = exp(l_i - max) / Σ.
// Returns log Σ_i exp(l_i) (the log partition, for perplexity). probs may alias logits.
double full_softmax(const OutputLayer& layer, const float* h, float* logits, float* probs);

// The K largest of `logits` (n entries), descending, ties to the lower id. Throws on K < 1 or
// K > n.
void exact_topk(const float* logits, int64_t n, int K, int32_t* ids, float* top);

// Checks 1 <= K <= vocab; `what` names the caller in the message.
void check_k(int K, int64_t vocab, const std::string& what);

// Softmax over the found set only (FGD's normalisation): p_j = exp(l_j - max) / Σ_found.
// Returns log Σ_found exp(l_j).
double normalise_found(const float* logits, int K, float* probs);

}  // namespace tessel::fgd
