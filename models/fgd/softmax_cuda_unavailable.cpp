// CudaSoftmax in a build without CUDA: no device, and constructing one is an error.
#include "models/fgd/softmax_cuda.h"
#include "runtime/core/error.h"

namespace tessel::fgd {

int cuda_device_count() {
  return 0;
}

CudaSoftmax::CudaSoftmax(const OutputLayer& layer) : vocab_(layer.vocab), dim_(layer.dim) {
  throw Error("fgd cuda: this build has no CUDA support (nvcc was not found at configure time)",
              kExitFailure);
}
CudaSoftmax::~CudaSoftmax() = default;
void CudaSoftmax::decode(const float*, int, int, int32_t*, float*, double*) {}

}  // namespace tessel::fgd
