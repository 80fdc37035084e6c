// The GPU Transformer in a build without CUDA: no device, and constructing one is an error.
#include "models/nn/transformer_cuda.h"

#include "runtime/core/error.h"

namespace tessel::nn {
namespace {
[[noreturn]] void no_cuda() {
  throw Error(
      "nn: backend cuda is unavailable: this build has no CUDA support (nvcc was not found at "
      "configure time)",
      kExitFailure);
}
}  // namespace

int cuda_device_count() {
  return 0;
}

struct CudaTransformer::Impl {};
CudaTransformer::CudaTransformer(const TransformerConfig&, int64_t, Precision) {
  no_cuda();
}
CudaTransformer::~CudaTransformer() = default;
const TransformerConfig& CudaTransformer::config() const {
  no_cuda();
}
Precision CudaTransformer::precision() const {
  no_cuda();
}
void CudaTransformer::upload_params(const ParamStore<float>&) {
  no_cuda();
}
void CudaTransformer::download_params(ParamStore<float>&) const {
  no_cuda();
}
void CudaTransformer::download_grads(ParamStore<float>&) const {
  no_cuda();
}
void CudaTransformer::zero_grad() {
  no_cuda();
}
float CudaTransformer::forward_backward(const data::TokenBatch&, const StepOptions&) {
  no_cuda();
}
float CudaTransformer::loss(const data::TokenBatch&, const StepOptions&) {
  no_cuda();
}
Matrix<float> CudaTransformer::logits() const {
  no_cuda();
}
double CudaTransformer::clip_and_adamw(const AdamWConfig&, double, int64_t, double,
                                       const std::function<void()>&) {
  no_cuda();
}
void CudaTransformer::download_adam(float*, float*) const {
  no_cuda();
}
void CudaTransformer::upload_adam(const float*, const float*) {
  no_cuda();
}
float CudaTransformer::loss_scale() const {
  no_cuda();
}
CudaTransformer::DeviceParams CudaTransformer::device_params() {
  no_cuda();
}
float* CudaTransformer::device_mask() {
  no_cuda();
}
void CudaTransformer::values_changed() {
  no_cuda();
}
CudaTransformer::DeviceLogits CudaTransformer::device_logits() {
  no_cuda();
}
void CudaTransformer::set_logit_loss(LogitLoss) {
  no_cuda();
}
CudaTransformer::OffloadBuffers CudaTransformer::enable_offload(bool, float) {
  no_cuda();
}
void CudaTransformer::wait_offload_gradients() {
  no_cuda();
}
void CudaTransformer::upload_offload_params() {
  no_cuda();
}
CudaTransformer::OffloadTimes CudaTransformer::offload_times() const {
  no_cuda();
}

}  // namespace tessel::nn
