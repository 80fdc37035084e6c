// The kNN table the CUDA plugin exports (knn_cuda.cu) and knn_cuda_client.cpp calls through.
#pragma once

#include <cstdint>
#include <vector>

#include "models/ann/vectors.h"

namespace tessel::ann {

// Symbol of `const KnnCudaApi* tessel_cuda_ann_api()` in libtessel_cuda.so.
inline constexpr const char* kKnnCudaApiSymbol = "tessel_cuda_ann_api";

struct KnnCudaApi {
  int (*device_count)();
  // detail::cuda_knn_candidates (models/ann/knn.h).
  void (*knn_candidates)(const VectorSet& base, const VectorSet& queries, int width,
                         bool exclude_self, std::vector<int32_t>& cand);
};

}  // namespace tessel::ann
