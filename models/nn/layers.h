// Forward and backward of every Transformer/MLP layer, written out (no autograd), CPU Eigen.
#pragma once

#include <cstdint>
#include <vector>

#include "models/nn/tensor.h"

namespace tessel::nn {

// All functions take row-major [rows, features] activations. Backward functions
// *accumulate* parameter gradients (so several uses of one parameter, e.g. the tied
// embedding, add up) and *overwrite* input gradients. Instantiated for float and double
// (double for the finite-difference checks).

// y = x W + b. x [N, in], W [in, out], b [1, out] (may be empty for no bias).
template <typename T>
void linear_forward(const Matrix<T>& x, const ConstMatMap<T>& w, const T* b, Matrix<T>& y);
// dx = dy Wᵀ; dW += xᵀ dy; db += Σ_rows dy. `dx` may be null when not needed.
template <typename T>
void linear_backward(const Matrix<T>& dy, const Matrix<T>& x, const ConstMatMap<T>& w,
                     Matrix<T>* dx, MatMap<T> dw, T* db);

// y = (x - mean) * rstd * g + b per row, eps 1e-5; keeps mean and rstd for backward.
template <typename T>
void layernorm_forward(const Matrix<T>& x, const T* g, const T* b, Matrix<T>& y,
                       std::vector<T>& mean, std::vector<T>& rstd);
template <typename T>
void layernorm_backward(const Matrix<T>& dy, const Matrix<T>& x, const T* g,
                        const std::vector<T>& mean, const std::vector<T>& rstd, Matrix<T>& dx,
                        T* dg, T* db);

// GELU, tanh approximation (GPT-2): 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³))).
template <typename T>
void gelu_forward(const Matrix<T>& x, Matrix<T>& y);
template <typename T>
void gelu_backward(const Matrix<T>& dy, const Matrix<T>& x, Matrix<T>& dx);

// Causal multi-head self-attention core. qkv [B*T, 3C] holds q, k, v side by side, head h
// using columns [h*hd, (h+1)*hd) of each; out [B*T, C]; att [B*H, T*T] keeps the softmax
// probabilities for backward (row t of a head's T×T block, entries > t are zero).
template <typename T>
void attention_forward(const Matrix<T>& qkv, int batch, int seq, int heads, Matrix<T>& out,
                       Matrix<T>& att);
template <typename T>
void attention_backward(const Matrix<T>& dout, const Matrix<T>& qkv, const Matrix<T>& att,
                        int batch, int seq, int heads, Matrix<T>& dqkv);

// Mean softmax cross-entropy of logits [N, V] against targets (negative = ignored).
// Returns the mean loss over counted rows and writes dlogits = (p - onehot) / count.
// Also reports the count (0 gives loss 0 and zero gradient).
template <typename T>
T softmax_cross_entropy(const Matrix<T>& logits, const std::vector<int32_t>& targets,
                        Matrix<T>& dlogits, int64_t* counted = nullptr);
// Loss only (no gradient), for evaluation.
template <typename T>
T softmax_cross_entropy_loss(const Matrix<T>& logits, const std::vector<int32_t>& targets,
                             int64_t* counted = nullptr);

}  // namespace tessel::nn
