// The NxMTransformer kernels in a build without nvcc: asking for them is an error.
#include "models/nm_sparsify/nm_sparsify_cuda.h"
#include "runtime/core/error.h"

namespace tessel::nm_sparsify::cuda {

const Api& api() {
  throw Error(
      "nm_sparsify: backend cuda is unavailable: this build has no CUDA support (nvcc was not "
      "found at configure time)",
      kExitFailure);
}

}  // namespace tessel::nm_sparsify::cuda
