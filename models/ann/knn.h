// Exact k-nearest-neighbour search (ground truth) on the CPU and on CUDA.
#pragma once

#include <cstdint>
#include <vector>

#include "models/ann/vectors.h"

namespace tessel::ann {

// k neighbours per query, nearest first; distances are squared L2.
struct KnnResult {
  int64_t nq = 0;
  int k = 0;
  std::vector<int32_t> ids;
  std::vector<float> dist;
  const int32_t* ids_of(int64_t q) const { return ids.data() + q * k; }
  const float* dist_of(int64_t q) const { return dist.data() + q * k; }
};

// A read-only view of n row-major, contiguous vectors of `dim` floats: a VectorSet (converts
// implicitly, nothing copied) or any caller's buffer, such as a C-contiguous NumPy (n, dim)
// array. The data must outlive the call it is passed to.
struct VectorView {
  int64_t n = 0;
  int dim = 0;
  const float* data = nullptr;
  VectorView() = default;
  VectorView(const float* data_, int64_t n_, int dim_) : n(n_), dim(dim_), data(data_) {}
  VectorView(const VectorSet& s) : n(s.n), dim(s.dim), data(s.data.data()) {}  // NOLINT
  const float* row(int64_t i) const { return data + i * dim; }
};

enum class Backend { kCpu, kCuda };
const char* backend_name(Backend b);

struct KnnOptions {
  // Skip base vector i for query i (the queries are the base itself: kNN graphs, recall of
  // NN-descent).
  bool exclude_self = false;
  // OpenMP threads for the CPU path; 0 = OpenMP's default.
  int threads = 0;
};

// Exact kNN. Both backends compute all distances as ||q||^2 + ||b||^2 - 2 q.b with one float
// GEMM per block (Eigen on the CPU, cuBLAS on the GPU), keep the best k + slack candidates per
// query (partial selection), then re-rank those candidates by the exact double distance with
// ties broken by smaller id. The re-ranking makes both backends return identical ids and
// distances unless more than `slack` vectors fall within float rounding of the k-th distance.
// Throws tessel::Error for k < 1, k > base size, mismatched dimensions, or kCuda without a GPU.
KnnResult exact_knn(const VectorSet& base, const VectorSet& queries, int k,
                    Backend backend = Backend::kCpu, const KnnOptions& options = {});
// The same on views: the CPU path reads base and queries in place; kCuda copies them into
// VectorSets first (the CUDA plugin's interface takes sets).
KnnResult exact_knn(const VectorView& base, const VectorView& queries, int k,
                    Backend backend = Backend::kCpu, const KnnOptions& options = {});

// Candidates kept per query before exact re-ranking.
int knn_candidates(int k);

// recall@k of `found` against exact neighbours `truth` (first k columns of each): the mean over
// queries of |found_q[0..k) intersect truth_q[0..k)| / k.
double recall_at(const KnnResult& found, const KnnResult& truth, int k);

// Number of usable CUDA devices (0 without CUDA support or without a GPU).
int cuda_device_count();

namespace detail {
// Re-ranks `cand` (per query `width` ids, -1 = empty) by the exact distance and writes the best
// k into `out` row q; shared by both backends so their final order is the same code.
void finish_candidates(const VectorView& base, const VectorView& queries, const int32_t* cand,
                       int width, int64_t q, int k, KnnResult& out);
// The CUDA path: fills `cand` (nq x width candidate ids) from cuBLAS distances.
void cuda_knn_candidates(const VectorSet& base, const VectorSet& queries, int width,
                         bool exclude_self, std::vector<int32_t>& cand);
}  // namespace detail

}  // namespace tessel::ann
