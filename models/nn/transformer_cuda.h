// The Transformer on one GPU: cuBLAS GEMMs and own kernels, mirroring Transformer<float>.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

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

  // --- ZeRO-Offload's device side (train.offload on this backend; docs/training.md,
  // "Offloaded training"). After enable_offload, forward_backward also sends the gradients
  // × loss_scale, rounded to 16 bits, into pinned host memory: a bucket as soon as backward
  // has finished it (LN_f's parameters, then each block from the last, then the
  // embeddings), converted on the compute stream and copied on a second stream, so that
  // the copies overlap the rest of backward. Needs precision fp32 or bf16 (fp16's dynamic
  // loss scale would fight loss_scale). ---
  struct OffloadBuffers {
    uint16_t* grads = nullptr;   // pinned, size values: the last backward's 16-bit gradients
    uint16_t* params = nullptr;  // pinned, size values: the 16-bit parameters to upload
    int64_t size = 0;
  };
  OffloadBuffers enable_offload(bool bf16, float loss_scale);
  // Returns when every bucket of the last forward_backward is in OffloadBuffers::grads.
  void wait_offload_gradients();
  // The device parameters become the float values of OffloadBuffers::params (copied over
  // PCIe in 16 bits, widened on the device); returns once the host buffer may be written.
  void upload_offload_params();
  // When the last forward_backward's transfers ran, for the offload timeline: steady_clock
  // nanoseconds, from CUDA events placed against a host time taken at the step's start
  // (the compute stream is idle there). Read after wait_offload_gradients (and, for the
  // upload, after upload_offload_params); a time not yet recorded is 0.
  struct OffloadTimes {
    double forward_begin_ns = 0, backward_end_ns = 0;
    std::vector<double> copy_begin_ns, copy_end_ns;  // per bucket, in the order sent
    double upload_begin_ns = 0, upload_end_ns = 0;
  };
  OffloadTimes offload_times() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessel::nn
