// The Transformer on one GPU: cuBLAS GEMMs and own kernels, mirroring Transformer<float>.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "models/data/batch.h"
#include "models/nn/optimizer.h"
#include "models/nn/params.h"
#include "models/nn/transformer.h"

namespace tessel::nn {

// Which implementation a trainer runs.
enum class Backend { kCpu, kCuda };
const char* backend_name(Backend b);

// GEMM arithmetic on the GPU. Activations, gradients and master weights are fp32 in
// every mode; kBf16 and kFp16 run the GEMMs on tensor cores with 16-bit inputs and fp32
// accumulation (cuBLAS CUBLAS_COMPUTE_32F_FAST_16BF / _16F). kFp16 also scales the loss
// (dynamic: halve and skip the step on overflow, double after 1000 clean steps), since
// fp16's range would flush small gradients to zero.
enum class Precision { kFp32, kBf16, kFp16 };
const char* precision_name(Precision p);

// Number of usable CUDA devices; 0 without CUDA support or without a GPU.
int cuda_device_count();

// Forward and backward of the same model as Transformer<float> (LM head; the classifier
// head and the tensor trace are CPU-only), with parameters, gradients and activations
// on the device. The optimizer is separate, as on the CPU: either adamw_step() runs
// with the moments on the GPU, or the caller downloads the gradients, runs AdamW where it
// keeps the state (host memory: ZeRO-Offload's placement), and uploads the parameters.
class CudaTransformer {
 public:
  // `max_tokens` bounds batch * seq of every batch (activation buffers are sized once).
  CudaTransformer(const TransformerConfig& config, int64_t max_tokens, Precision precision);
  ~CudaTransformer();
  CudaTransformer(const CudaTransformer&) = delete;
  CudaTransformer& operator=(const CudaTransformer&) = delete;

  const TransformerConfig& config() const;
  Precision precision() const;
  // Parameter values (and masks: the device keeps value ⊙ mask for the forward pass and
  // masks gradients) from a host store with this model's layout.
  void upload_params(const ParamStore<float>& params);
  void download_params(ParamStore<float>& params) const;
  void download_grads(ParamStore<float>& params) const;
  void zero_grad();

  // Adds the gradient of the mean loss to the device gradients (unscaled, whatever the
  // precision) and returns the loss. StepOptions::layer_scale is honoured; a batch with
  // seq < max_seq is the truncation seam. StepOptions::trace must be null.
  float forward_backward(const data::TokenBatch& batch, const StepOptions& options = {});
  float loss(const data::TokenBatch& batch, const StepOptions& options = {});
  // Logits of the last forward, [batch * seq, vocab], copied to the host.
  Matrix<float> logits() const;

  // Optimizer with state on the device: clip to max_norm (<= 0: no clipping), then AdamW
  // at step t >= 1. Returns the gradient norm before clipping. With kFp16, a step whose
  // gradients overflowed is skipped (returns +inf) and the loss scale halves.
  // `before_update`, when set, runs between the two on the clipped gradients (where
  // Trainer::on_gradients runs on the CPU: ADMM's penalty is added after clipping, so
  // clipping never shrinks it); it is not called on a skipped step.
  double clip_and_adamw(const AdamWConfig& c, double lr, int64_t t, double max_norm,
                        const std::function<void()>& before_update = nullptr);
  // Moments of the device optimizer, for checkpoints.
  void download_adam(float* m, float* v) const;
  void upload_adam(const float* m, const float* v);
  float loss_scale() const;

  // --- Seams for training algorithms whose kernels live in the same plugin (nm_sparsify:
  // ADMM, masks, distillation). They hand out raw device addresses so that such state
  // stays on the GPU instead of crossing to the host every step. ---

  // The parameters on the device, each `size` floats in the host store's layout; valid
  // while this model lives.
  struct DeviceParams {
    float* values = nullptr;  // the weights AdamW updates
    float* grads = nullptr;   // their gradients
    float* mask = nullptr;    // 0/1 per value; null while the model has no mask
    int64_t size = 0;
  };
  DeviceParams device_params();
  // The mask's device address, created all ones when the model has none. Kernels clear
  // entries and then call values_changed(); the forward pass uses values ⊙ mask and
  // forward_backward multiplies the gradients by it, as with a mask from upload_params
  // (which replaces it with the host store's masks, or none).
  float* device_mask();
  // After kernels wrote values or the mask: the forward copy (values ⊙ mask) follows.
  void values_changed();

  // The last forward's logits on the device.
  struct DeviceLogits {
    const float* logits = nullptr;     // [rows, vocab]
    float* dlogits = nullptr;          // what backward starts from (see set_logit_loss)
    const int32_t* targets = nullptr;  // [rows]; rows with a target < 0 are not counted
    int64_t rows = 0, counted = 0;
    int vocab = 0;
    float loss_scale = 1;  // dlogits carry this factor (kFp16), the loss does not
  };
  DeviceLogits device_logits();
  // The CUDA form of Transformer<T>::logit_loss: forward_backward calls it after the
  // cross-entropy (dlogits = loss_scale · (p − onehot) / counted) and before backward, with
  // the batch; it may rewrite dlogits (keeping the loss_scale factor) and returns the loss
  // to report. Evaluation (loss()) never calls it. Empty: plain cross-entropy.
  using LogitLoss =
      std::function<float(const data::TokenBatch& batch, const DeviceLogits& logits, float ce)>;
  void set_logit_loss(LogitLoss f);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessel::nn
