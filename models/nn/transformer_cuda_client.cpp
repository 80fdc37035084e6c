// CudaTransformer forwards to the GPU model in the CUDA plugin (loaded on first use).
#include <utility>

#include "models/common/cuda_plugin.h"
#include "models/nn/transformer_cuda.h"
#include "models/nn/transformer_cuda_plugin.h"
#include "runtime/core/error.h"

namespace tessel::nn {
namespace {
const NnCudaApi& gpu() {
  static const NnCudaApi& api = cuda_plugin_api<NnCudaApi>(kNnCudaApiSymbol);
  return api;
}
}  // namespace

int cuda_device_count() {
  return gpu().device_count();
}

CudaTransformer::CudaTransformer(const TransformerConfig& config, int64_t max_tokens,
                                 Precision precision) {
  const NnCudaApi& api = gpu();
  if (api.device_count() == 0)
    throw Error("nn: backend cuda needs a CUDA device and none is available", kExitFailure);
  const Transformer<float> layout(config);
  impl_ = api.make_transformer(config, layout.params(), max_tokens, precision);
}
CudaTransformer::~CudaTransformer() = default;

const TransformerConfig& CudaTransformer::config() const {
  return impl_->cfg;
}
Precision CudaTransformer::precision() const {
  return impl_->precision;
}
float CudaTransformer::loss_scale() const {
  return impl_->loss_scale;
}
void CudaTransformer::upload_params(const ParamStore<float>& params) {
  impl_->upload_params(params);
}
void CudaTransformer::download_params(ParamStore<float>& params) const {
  impl_->download_params(params);
}
void CudaTransformer::download_grads(ParamStore<float>& params) const {
  impl_->download_grads(params);
}
void CudaTransformer::zero_grad() {
  impl_->zero_grad();
}
float CudaTransformer::forward_backward(const data::TokenBatch& batch, const StepOptions& options) {
  return impl_->forward_backward(batch, options);
}
float CudaTransformer::loss(const data::TokenBatch& batch, const StepOptions& options) {
  return impl_->loss(batch, options);
}
Matrix<float> CudaTransformer::logits() const {
  return impl_->download_logits();
}
double CudaTransformer::clip_and_adamw(const AdamWConfig& c, double lr, int64_t t, double max_norm,
                                       const std::function<void()>& before_update) {
  return impl_->clip_and_adamw(c, lr, t, max_norm, before_update);
}
void CudaTransformer::download_adam(float* m, float* v) const {
  impl_->download_adam(m, v);
}
void CudaTransformer::upload_adam(const float* m, const float* v) {
  impl_->upload_adam(m, v);
}
CudaTransformer::DeviceParams CudaTransformer::device_params() {
  return impl_->device_params();
}
float* CudaTransformer::device_mask() {
  return impl_->device_mask();
}
void CudaTransformer::values_changed() {
  impl_->values_changed();
}
CudaTransformer::DeviceLogits CudaTransformer::device_logits() {
  return impl_->device_logits();
}
void CudaTransformer::set_logit_loss(LogitLoss f) {
  impl_->logit_loss = std::move(f);
}
CudaTransformer::OffloadBuffers CudaTransformer::enable_offload(bool bf16, float loss_scale) {
  return impl_->enable_offload(bf16, loss_scale);
}
void CudaTransformer::wait_offload_gradients() {
  impl_->wait_offload_gradients();
}
void CudaTransformer::upload_offload_params() {
  impl_->upload_offload_params();
}
CudaTransformer::OffloadTimes CudaTransformer::offload_times() const {
  return impl_->offload_times();
}

}  // namespace tessel::nn
