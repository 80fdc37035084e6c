// The CUDA kNN entry points in a build without CUDA: no device, and calling one is an error.
#include <vector>

#include "models/ann/knn.h"
#include "runtime/core/error.h"

namespace tessel::ann {

int cuda_device_count() {
  return 0;
}

namespace detail {
void cuda_knn_candidates(const VectorSet&, const VectorSet&, int, bool, std::vector<int32_t>&) {
  throw Error("exact_knn: this build has no CUDA support (nvcc was not found at configure time)",
              kExitFailure);
}
}  // namespace detail

}  // namespace tessel::ann
