// The Transformer table the CUDA plugin exports (transformer_cuda.cu) and
// transformer_cuda_client.cpp calls through: the GPU model behind CudaTransformer.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "models/nn/transformer_cuda.h"

namespace tessel::nn {

// Symbol of `const NnCudaApi* tessel_cuda_nn_api()` in libtessel_cuda.so.
inline constexpr const char* kNnCudaApiSymbol = "tessel_cuda_nn_api";

// What CudaTransformer forwards to; implemented in the plugin. The fields are plain state the
// client reads directly (the plugin keeps loss_scale current).
struct CudaTransformer::Impl {
  TransformerConfig cfg;
  Precision precision = Precision::kFp32;
  float loss_scale = 1.0f;
  CudaTransformer::LogitLoss logit_loss;  // set by the client, called by forward_backward

  virtual ~Impl() = default;
  virtual void upload_params(const ParamStore<float>& params) = 0;
  virtual void download_params(ParamStore<float>& params) const = 0;
  virtual void download_grads(ParamStore<float>& params) const = 0;
  virtual void zero_grad() = 0;
  virtual float forward_backward(const data::TokenBatch& batch, const StepOptions& options) = 0;
  virtual float loss(const data::TokenBatch& batch, const StepOptions& options) = 0;
  virtual Matrix<float> download_logits() const = 0;
  virtual double clip_and_adamw(const AdamWConfig& c, double lr, int64_t t, double max_norm,
                                const std::function<void()>& before_update) = 0;
  virtual void download_adam(float* m, float* v) const = 0;
  virtual void upload_adam(const float* m, const float* v) = 0;
  virtual CudaTransformer::DeviceParams device_params() = 0;
  virtual float* device_mask() = 0;
  virtual void values_changed() = 0;
  virtual CudaTransformer::DeviceLogits device_logits() = 0;
  virtual CudaTransformer::OffloadBuffers enable_offload(bool bf16, float loss_scale) = 0;
  virtual void wait_offload_gradients() = 0;
  virtual void upload_offload_params() = 0;
  virtual CudaTransformer::OffloadTimes offload_times() const = 0;
};

struct NnCudaApi {
  int (*device_count)();
  // `layout` is the parameter store of Transformer<float>(config) (the host model defines the
  // layout, so both backends share checkpoints); only its infos are read.
  std::unique_ptr<CudaTransformer::Impl> (*make_transformer)(const TransformerConfig& config,
                                                             const ParamStore<float>& layout,
                                                             int64_t max_tokens,
                                                             Precision precision);
};

}  // namespace tessel::nn
