// Exact kNN on the CPU: blocked Eigen GEMM distances, bounded-heap selection, exact re-ranking.
#include "models/ann/knn.h"

#include <omp.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <queue>
#include <string>

#include "models/ann/distance.h"
#include "runtime/core/error.h"

namespace tessel::ann {
namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Block sizes: a 64 x 2048 float tile of distances (512 KiB) plus the 2048-vector base block
// stay within L2, and 64 queries amortise each base block's load 64 times.
constexpr int kQueryBlock = 64;
constexpr int kBaseBlock = 2048;

void validate(const VectorView& base, const VectorView& queries, int k) {
  if (base.n <= 0) throw Error("exact_knn: empty base set", kExitFailure);
  if (base.dim != queries.dim)
    throw Error("exact_knn: base dimension " + std::to_string(base.dim) + " != query dimension " +
                    std::to_string(queries.dim),
                kExitFailure);
  if (k < 1 || k > base.n)
    throw Error(
        "exact_knn: k = " + std::to_string(k) + " outside [1, " + std::to_string(base.n) + "]",
        kExitFailure);
  if (base.n > INT32_MAX) throw Error("exact_knn: more than 2^31 base vectors", kExitFailure);
}

std::vector<float> squared_norms(const VectorView& v) {
  std::vector<float> out(static_cast<std::size_t>(v.n));
  for (int64_t i = 0; i < v.n; ++i) {
    double s = 0;
    for (int k = 0; k < v.dim; ++k) s += static_cast<double>(v.row(i)[k]) * v.row(i)[k];
    out[i] = static_cast<float>(s);
  }
  return out;
}

void cpu_candidates(const VectorView& base, const VectorView& queries, int width, bool exclude_self,
                    int threads, std::vector<int32_t>& cand) {
  const int dim = base.dim;
  const std::vector<float> bnorm = squared_norms(base);
  const std::vector<float> qnorm = squared_norms(queries);
  const int64_t nq = queries.n;
  const int64_t nblocks = (nq + kQueryBlock - 1) / kQueryBlock;
  cand.assign(static_cast<std::size_t>(nq) * width, -1);
  if (threads <= 0) threads = omp_get_max_threads();
#pragma omp parallel num_threads(threads)
  {
    // Each thread runs whole GEMMs. This sets only the nested-region ICV of this thread: in a
    // one-thread team Eigen would otherwise take its multi-threaded GEMM path (it sees
    // omp_get_num_threads() == 1) and run it on one thread at about a fifth of the speed.
    omp_set_num_threads(1);
    RowMat tile(kQueryBlock, kBaseBlock);
    using Entry = std::pair<float, int32_t>;  // max-heap on distance: top() is the worst kept
    std::vector<std::priority_queue<Entry>> heaps(kQueryBlock);
#pragma omp for schedule(dynamic, 1)
    for (int64_t qb = 0; qb < nblocks; ++qb) {
      const int64_t q0 = qb * kQueryBlock;
      const int qn = static_cast<int>(std::min<int64_t>(kQueryBlock, nq - q0));
      Eigen::Map<const RowMat> Q(queries.row(q0), qn, dim);
      for (auto& h : heaps) h = {};
      for (int64_t b0 = 0; b0 < base.n; b0 += kBaseBlock) {
        const int bn = static_cast<int>(std::min<int64_t>(kBaseBlock, base.n - b0));
        Eigen::Map<const RowMat> B(base.row(b0), bn, dim);
        tile.topLeftCorner(qn, bn).noalias() = Q * B.transpose();
        for (int i = 0; i < qn; ++i) {
          auto& heap = heaps[i];
          const float* g = tile.data() + static_cast<std::size_t>(i) * kBaseBlock;
          const float qnn = qnorm[q0 + i];
          for (int j = 0; j < bn; ++j) {
            const int32_t id = static_cast<int32_t>(b0 + j);
            if (exclude_self && id == q0 + i) continue;
            const float d = qnn + bnorm[id] - 2.0f * g[j];
            if (static_cast<int>(heap.size()) < width) {
              heap.emplace(d, id);
            } else if (d < heap.top().first) {
              heap.pop();
              heap.emplace(d, id);
            }
          }
        }
      }
      for (int i = 0; i < qn; ++i) {
        int32_t* dst = cand.data() + (q0 + i) * width;
        auto& heap = heaps[i];
        for (int j = 0; !heap.empty(); ++j, heap.pop()) dst[j] = heap.top().second;
      }
    }
  }
}

}  // namespace

const char* backend_name(Backend b) {
  return b == Backend::kCuda ? "cuda" : "cpu";
}

int knn_candidates(int k) {
  return k + std::max(8, k / 2);
}

namespace detail {
void finish_candidates(const VectorView& base, const VectorView& queries, const int32_t* cand,
                       int width, int64_t q, int k, KnnResult& out) {
  std::vector<std::pair<double, int32_t>> scored;
  scored.reserve(width);
  for (int j = 0; j < width; ++j)
    if (cand[j] >= 0)
      scored.emplace_back(l2_sq_exact(queries.row(q), base.row(cand[j]), base.dim), cand[j]);
  std::sort(scored.begin(), scored.end());
  for (int j = 0; j < k; ++j) {
    out.ids[q * k + j] = j < static_cast<int>(scored.size()) ? scored[j].second : -1;
    out.dist[q * k + j] =
        j < static_cast<int>(scored.size()) ? static_cast<float>(scored[j].first) : INFINITY;
  }
}
}  // namespace detail

namespace {

// Both overloads of exact_knn; the sets, when given, go to the CUDA path as they are (null:
// the views are copied into sets for it).
KnnResult knn_impl(const VectorView& base, const VectorView& queries, int k, Backend backend,
                   const KnnOptions& options, const VectorSet* base_set,
                   const VectorSet* query_set) {
  validate(base, queries, k);
  const int64_t available = base.n - (options.exclude_self ? 1 : 0);
  if (k > available) throw Error("exact_knn: k exceeds the vectors available", kExitFailure);
  const int width = static_cast<int>(std::min<int64_t>(knn_candidates(k), available));
  std::vector<int32_t> cand;
  if (backend == Backend::kCuda) {
    if (cuda_device_count() == 0)
      throw Error("exact_knn: backend 'cuda' needs a CUDA device and none is available",
                  kExitFailure);
    auto to_set = [](const VectorView& v) {
      VectorSet s(v.n, v.dim);
      std::copy(v.data, v.data + v.n * v.dim, s.data.begin());
      return s;
    };
    if (base_set && query_set) {
      detail::cuda_knn_candidates(*base_set, *query_set, width, options.exclude_self, cand);
    } else {
      detail::cuda_knn_candidates(to_set(base), to_set(queries), width, options.exclude_self, cand);
    }
  } else {
    cpu_candidates(base, queries, width, options.exclude_self, options.threads, cand);
  }
  KnnResult out;
  out.nq = queries.n;
  out.k = k;
  out.ids.resize(static_cast<std::size_t>(queries.n) * k);
  out.dist.resize(out.ids.size());
  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t q = 0; q < queries.n; ++q)
    detail::finish_candidates(base, queries, cand.data() + q * width, width, q, k, out);
  return out;
}

}  // namespace

KnnResult exact_knn(const VectorSet& base, const VectorSet& queries, int k, Backend backend,
                    const KnnOptions& options) {
  return knn_impl(base, queries, k, backend, options, &base, &queries);
}

KnnResult exact_knn(const VectorView& base, const VectorView& queries, int k, Backend backend,
                    const KnnOptions& options) {
  return knn_impl(base, queries, k, backend, options, nullptr, nullptr);
}

double recall_at(const KnnResult& found, const KnnResult& truth, int k) {
  if (found.nq != truth.nq || k > found.k || k > truth.k || k < 1)
    throw Error("recall_at: result shapes do not match (" + std::to_string(found.nq) + " x " +
                    std::to_string(found.k) + " vs " + std::to_string(truth.nq) + " x " +
                    std::to_string(truth.k) + ", k = " + std::to_string(k) + ")",
                kExitFailure);
  if (found.nq == 0) return 1.0;
  int64_t hits = 0;
  for (int64_t q = 0; q < found.nq; ++q) {
    const int32_t* t = truth.ids_of(q);
    const int32_t* f = found.ids_of(q);
    for (int i = 0; i < k; ++i)
      for (int j = 0; j < k; ++j)
        if (f[i] == t[j] && f[i] >= 0) {
          ++hits;
          break;
        }
  }
  return static_cast<double>(hits) / (static_cast<double>(found.nq) * k);
}

}  // namespace tessel::ann
