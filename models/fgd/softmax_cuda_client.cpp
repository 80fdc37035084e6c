// CudaSoftmax (models/fgd/softmax_cuda.h), run in the CUDA plugin (loaded on first use).
#include "models/common/cuda_plugin.h"
#include "models/fgd/softmax_cuda.h"
#include "models/fgd/softmax_cuda_plugin.h"
#include "runtime/core/error.h"

namespace tessel::fgd {
namespace {
const SoftmaxCudaApi& gpu() {
  static const SoftmaxCudaApi& api = cuda_plugin_api<SoftmaxCudaApi>(kSoftmaxCudaApiSymbol);
  return api;
}
}  // namespace

int cuda_device_count() {
  return gpu().device_count();
}

CudaSoftmax::CudaSoftmax(const OutputLayer& layer) : vocab_(layer.vocab), dim_(layer.dim) {
  layer.validate();
  if (cuda_device_count() == 0) throw Error("fgd cuda: no GPU visible", kExitFailure);
  state_ = gpu().create(layer.weight.data(), layer.bias.data(), layer.vocab, layer.dim);
}

CudaSoftmax::~CudaSoftmax() {
  if (state_) gpu().destroy(state_);
}

void CudaSoftmax::decode(const float* h, int n, int K, int32_t* ids, float* top, double* log_z) {
  check_k(K, vocab_, "fgd cuda");
  if (n < 1) throw Error("fgd cuda: need at least one hidden state", kExitFailure);
  gpu().decode(state_, h, n, K, ids, top, log_z);
}

}  // namespace tessel::fgd
