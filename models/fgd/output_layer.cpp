// The output layer's exact baselines (GEMV logits, full softmax, exact top-K) and FGD's
// inner-product-to-L2 transform.
#include "models/fgd/output_layer.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <Eigen/Core>

#include "runtime/core/error.h"

#include "models/fgd/openblas.h"

namespace tessel::fgd {

void OutputLayer::validate() const {
  if (vocab < 1 || dim < 1)
    throw Error("fgd: output layer is empty (vocab " + std::to_string(vocab) + ", dim " +
                    std::to_string(dim) + ")",
                kExitFailure);
  if (static_cast<int64_t>(weight.size()) != vocab * dim ||
      static_cast<int64_t>(bias.size()) != vocab)
    throw Error("fgd: output layer holds " + std::to_string(weight.size()) + " weights and " +
                    std::to_string(bias.size()) + " biases, expected " +
                    std::to_string(vocab * dim) + " and " + std::to_string(vocab),
                kExitFailure);
}

TransformedVocab ip_to_l2(const OutputLayer& layer) {
  layer.validate();
  const int dim = layer.dim;
  std::vector<double> norm2(static_cast<std::size_t>(layer.vocab));
  double U2 = 0;
  for (int64_t i = 0; i < layer.vocab; ++i) {
    double s = static_cast<double>(layer.bias[i]) * layer.bias[i];
    for (int k = 0; k < dim; ++k) s += static_cast<double>(layer.row(i)[k]) * layer.row(i)[k];
    norm2[i] = s;
    U2 = std::max(U2, s);
  }
  TransformedVocab t;
  t.U = std::sqrt(U2);
  t.base = ann::VectorSet(layer.vocab, dim + 2);
  for (int64_t i = 0; i < layer.vocab; ++i) {
    float* out = t.base.row(i);
    std::copy(layer.row(i), layer.row(i) + dim, out);
    out[dim] = layer.bias[i];
    // U² - |x|² - b² >= 0 by the choice of U; max() only guards the rounding of the longest row.
    out[dim + 1] = static_cast<float>(std::sqrt(std::max(0.0, U2 - norm2[i])));
  }
  return t;
}

void transform_query(const float* h, int dim, float* out) {
  std::copy(h, h + dim, out);
  out[dim] = 1.0f;
  out[dim + 1] = 0.0f;
}

const char* gemv_backend() {
#if TESSEL_FGD_HAVE_OPENBLAS
  return "openblas_sgemv";
#else
  return "eigen_gemv";
#endif
}

void set_blas_single_thread() {
#if TESSEL_FGD_HAVE_OPENBLAS
  openblas_sgemv();  // loads the library with one thread
#endif
}

void compute_logits(const OutputLayer& layer, const float* h, float* logits) {
  const int n = static_cast<int>(layer.vocab);
  std::copy(layer.bias.begin(), layer.bias.end(), logits);
#if TESSEL_FGD_HAVE_OPENBLAS
  openblas_sgemv()(CblasRowMajor, CblasNoTrans, n, layer.dim, 1.0f, layer.weight.data(), layer.dim,
                   h, 1, 1.0f, logits, 1);
#else
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const RowMajor> W(layer.weight.data(), n, layer.dim);
  Eigen::Map<const Eigen::VectorXf> x(h, layer.dim);
  Eigen::Map<Eigen::VectorXf> y(logits, n);
  y.noalias() += W * x;
#endif
}

double full_softmax(const OutputLayer& layer, const float* h, float* logits, float* probs) {
  compute_logits(layer, h, logits);
  const int64_t n = layer.vocab;
  const float m = *std::max_element(logits, logits + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float e = std::exp(logits[i] - m);
    probs[i] = e;
    sum += e;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) probs[i] *= inv;
  return m + std::log(sum);
}

void check_k(int K, int64_t vocab, const std::string& what) {
  if (K < 1)
    throw Error(what + ": K must be at least 1 (got " + std::to_string(K) + ")", kExitFailure);
  if (K > vocab)
    throw Error(what + ": K = " + std::to_string(K) + " exceeds the vocabulary of " +
                    std::to_string(vocab) + " words",
                kExitFailure);
}

void exact_topk(const float* logits, int64_t n, int K, int32_t* ids, float* top) {
  check_k(K, n, "exact top-K");
  // A min-heap of the K best seen: one pass, K log K work per replacement, no O(n) copy.
  auto worse = [&](int32_t a, int32_t b) {  // a ranks below b
    return logits[a] < logits[b] || (logits[a] == logits[b] && a > b);
  };
  auto heap_cmp = [&](int32_t a, int32_t b) { return worse(b, a); };  // top = worst kept
  std::vector<int32_t> heap(static_cast<std::size_t>(K));
  std::iota(heap.begin(), heap.end(), 0);
  std::make_heap(heap.begin(), heap.end(), heap_cmp);
  for (int64_t i = K; i < n; ++i) {
    const int32_t v = static_cast<int32_t>(i);
    if (worse(heap.front(), v)) {
      std::pop_heap(heap.begin(), heap.end(), heap_cmp);
      heap.back() = v;
      std::push_heap(heap.begin(), heap.end(), heap_cmp);
    }
  }
  std::sort(heap.begin(), heap.end(), [&](int32_t a, int32_t b) { return worse(b, a); });
  for (int j = 0; j < K; ++j) {
    ids[j] = heap[j];
    top[j] = logits[heap[j]];
  }
}

double normalise_found(const float* logits, int K, float* probs) {
  const float m = *std::max_element(logits, logits + K);
  double sum = 0;
  for (int j = 0; j < K; ++j) sum += std::exp(static_cast<double>(logits[j]) - m);
  for (int j = 0; j < K; ++j)
    probs[j] = static_cast<float>(std::exp(static_cast<double>(logits[j]) - m) / sum);
  return m + std::log(sum);
}

}  // namespace tessel::fgd
