// The CUDA kNN entry points of models/ann/knn.h, run in the CUDA plugin (loaded on first use).
#include <vector>

#include "models/ann/knn.h"
#include "models/ann/knn_cuda_plugin.h"
#include "models/common/cuda_plugin.h"

namespace tessel::ann {
namespace {
const KnnCudaApi& gpu() {
  static const KnnCudaApi& api = cuda_plugin_api<KnnCudaApi>(kKnnCudaApiSymbol);
  return api;
}
}  // namespace

int cuda_device_count() {
  return gpu().device_count();
}

namespace detail {
void cuda_knn_candidates(const VectorSet& base, const VectorSet& queries, int width,
                         bool exclude_self, std::vector<int32_t>& cand) {
  gpu().knn_candidates(base, queries, width, exclude_self, cand);
}
}  // namespace detail

}  // namespace tessel::ann
