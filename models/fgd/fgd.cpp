// FGD's graph over the transformed vocabulary and its top-K search; the SVD-softmax baseline.
#include "models/fgd/fgd.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include <Eigen/Core>
#include <Eigen/SVD>

#include "models/fgd/openblas.h"
#include "runtime/core/error.h"

namespace tessel::fgd {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Sorts the found words by exact logit, descending, ties to the lower id.
void sort_by_logit(int K, int32_t* ids, float* logits) {
  std::vector<int> order(static_cast<std::size_t>(K));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && ids[a] < ids[b]);
  });
  std::vector<int32_t> i2(static_cast<std::size_t>(K));
  std::vector<float> l2(static_cast<std::size_t>(K));
  for (int j = 0; j < K; ++j) i2[j] = ids[order[j]], l2[j] = logits[order[j]];
  std::copy(i2.begin(), i2.end(), ids);
  std::copy(l2.begin(), l2.end(), logits);
}

float dot(const float* a, const float* b, int n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int k = 0;
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[k + j] * b[k + j];
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; k < n; ++k) s += a[k] * b[k];
  return s;
}

}  // namespace

FgdDecoder::FgdDecoder(const OutputLayer& layer, const FgdParams& params) : layer_(layer) {
  const auto t0 = std::chrono::steady_clock::now();
  t_ = ip_to_l2(layer);
  if (params.graph == "hnsw") {
    graph_ = ann::build_hnsw_flat(t_.base, params.hnsw);
  } else if (params.graph == "nsg") {
    ann::NsgParams p = params.nsg;
    p.knn.seed = params.seed;
    graph_ = ann::build_nsg(t_.base, p);
  } else {
    throw Error("fgd: unknown graph \"" + params.graph + "\" (expected hnsw or nsg)", kExitFailure);
  }
  if (params.entry_points > 0) {
    if (params.entries == "spread") {
      graph_.extra_entries = ann::spread_entry_points(t_.base, params.entry_points, params.seed);
    } else if (params.entries == "norm") {
      // Largest norm first; the extra coordinate is U minus that norm in effect, so sort by it.
      std::vector<int32_t> order(static_cast<std::size_t>(layer.vocab));
      std::iota(order.begin(), order.end(), 0);
      const int dim = t_.base.dim;
      const int64_t count = std::min<int64_t>(params.entry_points, layer.vocab);
      std::partial_sort(order.begin(), order.begin() + count, order.end(),
                        [&](int32_t a, int32_t b) {
                          const float sa = t_.base.row(a)[dim - 1], sb = t_.base.row(b)[dim - 1];
                          return sa < sb || (sa == sb && a < b);
                        });
      graph_.extra_entries.assign(order.begin(), order.begin() + count);
    } else {
      throw Error("fgd: unknown entries \"" + params.entries + "\" (expected norm or spread)",
                  kExitFailure);
    }
  }
  if (params.packed) {
    ann::PackOptions o;
    o.codes = params.codes;
    packed_ = std::make_unique<ann::PackedIndex>(graph_, t_.base, o);
    searcher_ = std::make_unique<ann::Searcher>(*packed_);
  } else {
    searcher_ = std::make_unique<ann::Searcher>(graph_, t_.base);
  }
  query_.resize(static_cast<std::size_t>(t_.base.dim));
  build_seconds_ = seconds_since(t0);
}

ann::SearchStats FgdDecoder::topk(const float* h, int K, int beam, int32_t* ids, float* logits) {
  check_k(K, layer_.vocab, "fgd");
  if (beam < K)
    throw Error("fgd: beam " + std::to_string(beam) + " is smaller than K = " + std::to_string(K),
                kExitFailure);
  transform_query(h, layer_.dim, query_.data());
  dist_.resize(static_cast<std::size_t>(K));
  ann::SearchParams sp;
  sp.L = beam;
  sp.k = K;
  const ann::SearchStats st = searcher_->search(query_.data(), sp, ids, dist_.data());
  for (int j = 0; j < K; ++j)
    logits[j] = dot(layer_.row(ids[j]), h, layer_.dim) + layer_.bias[ids[j]];
  sort_by_logit(K, ids, logits);
  return st;
}

SvdSoftmax::SvdSoftmax(const OutputLayer& layer, int preview_dim, int candidates)
    : layer_(layer), preview_dim_(preview_dim), candidates_(candidates) {
  layer.validate();
  if (preview_dim < 1 || preview_dim > layer.dim)
    throw Error("svd-softmax: preview_dim " + std::to_string(preview_dim) + " not in [1, " +
                    std::to_string(layer.dim) + "]",
                kExitFailure);
  check_k(candidates, layer.vocab, "svd-softmax candidates");
  const int64_t n = layer.vocab;
  const int d = layer.dim;
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  RowMajor W(n, d);
  for (int64_t i = 0; i < n; ++i)
    for (int k = 0; k < d; ++k) W(i, k) = layer.row(i)[k];
  // Only V is needed: W = U S Vᵀ gives B = U S = W V, so B is computed from V directly.
  Eigen::BDCSVD<Eigen::MatrixXd> svd(W, Eigen::ComputeThinV);
  const Eigen::MatrixXd V = svd.matrixV();  // d x d, columns by descending singular value
  const Eigen::MatrixXd B = W * V.leftCols(preview_dim);
  preview_.resize(static_cast<std::size_t>(n) * preview_dim);
  for (int64_t i = 0; i < n; ++i)
    for (int k = 0; k < preview_dim; ++k)
      preview_[i * preview_dim + k] = static_cast<float>(B(i, k));
  vt_.resize(static_cast<std::size_t>(preview_dim) * d);
  for (int r = 0; r < preview_dim; ++r)
    for (int k = 0; k < d; ++k) vt_[r * d + k] = static_cast<float>(V(k, r));
  hp_.resize(static_cast<std::size_t>(preview_dim));
  z_.resize(static_cast<std::size_t>(n));
  cand_.resize(static_cast<std::size_t>(n));
  cand_logits_.resize(static_cast<std::size_t>(candidates));
}

void SvdSoftmax::topk(const float* h, int K, int32_t* ids, float* logits) {
  check_k(K, candidates_, "svd-softmax (K against its candidates)");
  const int n = static_cast<int>(layer_.vocab), d = layer_.dim, D = preview_dim_;
  for (int r = 0; r < D; ++r) hp_[r] = dot(vt_.data() + r * d, h, d);
  std::copy(layer_.bias.begin(), layer_.bias.end(), z_.begin());
#if TESSEL_FGD_HAVE_OPENBLAS
  openblas_sgemv()(CblasRowMajor, CblasNoTrans, n, D, 1.0f, preview_.data(), D, hp_.data(), 1, 1.0f,
                   z_.data(), 1);
#else
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const RowMajor> P(preview_.data(), n, D);
  Eigen::Map<const Eigen::VectorXf> x(hp_.data(), D);
  Eigen::Map<Eigen::VectorXf> y(z_.data(), n);
  y.noalias() += P * x;
#endif
  std::iota(cand_.begin(), cand_.end(), 0);
  const int N = candidates_;
  std::nth_element(cand_.begin(), cand_.begin() + (N - 1), cand_.end(), [&](int32_t a, int32_t b) {
    return z_[a] > z_[b] || (z_[a] == z_[b] && a < b);
  });
  for (int j = 0; j < N; ++j)
    cand_logits_[j] = dot(layer_.row(cand_[j]), h, d) + layer_.bias[cand_[j]];
  // The K best of the N exact candidates.
  std::vector<int32_t> local(static_cast<std::size_t>(K));
  std::vector<float> top(static_cast<std::size_t>(K));
  exact_topk(cand_logits_.data(), N, K, local.data(), top.data());
  for (int j = 0; j < K; ++j) ids[j] = cand_[local[j]], logits[j] = top[j];
  sort_by_logit(K, ids, logits);
}

}  // namespace tessel::fgd
