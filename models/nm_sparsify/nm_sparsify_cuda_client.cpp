// The NxMTransformer kernels' table in the CUDA plugin (models/common/cuda_plugin.h), loaded
// on the first call.
#include "models/common/cuda_plugin.h"
#include "models/nm_sparsify/nm_sparsify_cuda.h"

namespace tessel::nm_sparsify::cuda {

const Api& api() {
  static const Api& table = cuda_plugin_api<Api>(kApiSymbol);
  return table;
}

}  // namespace tessel::nm_sparsify::cuda
