// NxMTransformer on the CUDA backend: the interface of the device kernels (projection, ADMM
// penalty and Z/U update, hard prune and mask enforcement, distillation on the logits) in
// the CUDA plugin, and the table the plugin exports them in. Raw pointers and plain types
// only, so nvcc never parses Eigen; nm_sparsify.cpp calls it with the device addresses a
// CudaTransformer hands out (CudaTransformer::device_params, device_logits).
//
// Every kernel reproduces the CPU arithmetic of nm_sparsify.cpp element by element (the
// same single-precision operations in the same order, with contraction into fused
// multiply-adds switched off), so Z, U, the masks and the penalty gradient equal the CPU's
// bit for bit on equal inputs; only the norm sums run in another order.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace tessel::nm_sparsify::cuda {

// One sparsified parameter as the kernels see it: `offset` into the model's flat buffers;
// [k, out] row-major when k_is_rows (a linear weight [in, out]), else [out, k] (the tied
// embedding); groups of M consecutive entries along K.
struct DeviceTarget {
  int64_t offset = 0, k = 0, out = 0;
  bool k_is_rows = true;
};

// Squared Frobenius norms of one Z/U update over every target, summed on the device.
struct Residuals {
  double primal2 = 0;  // ‖W − Z‖²
  double dual2 = 0;    // ‖Z − Z_prev‖²
  double w2 = 0;       // ‖W‖²
};

// NmSparsifier's state on the device: Z and U (one buffer each over all targets, allocated
// while ADMM runs) and the keep masks (after prune). `values`, `grads` and `mask` are the
// device addresses of the model's whole flat buffers (CudaTransformer::device_params);
// Π is the N:M projection (the N largest magnitudes of each group, ties to the lower K
// index, NaN counted as the largest: models/sparse's project_mask).
class AdmmDevice {
 public:
  virtual ~AdmmDevice() = default;
  // Z = Π(W), U = 0.
  virtual void start(const float* values) = 0;
  // grads += ρ (W − Z + U) on every target.
  virtual void add_penalty(const float* values, float* grads, float rho) = 0;
  // Z = Π(W + U), U += W − Z; the norms of this update.
  virtual Residuals update(const float* values) = 0;
  // U *= s (ρ grew: the scaled dual is rescaled).
  virtual void scale_u(float s) = 0;
  // keep = Π(W); W = +0.0f and mask = 0 where dropped, mask = 1 where kept. Frees Z and U.
  virtual void prune(float* values, float* mask) = 0;
  // W and its gradient = +0.0f where the kept masks drop an entry.
  virtual void enforce(float* values, float* grads) = 0;
  // Host copies per target (k · out entries in the parameter's own layout), for the state
  // file, the mask files and tests; uploads restore a saved state.
  virtual void download_zu(int target, float* z, float* u) const = 0;
  virtual void upload_zu(int target, const float* z, const float* u) = 0;
  virtual void download_keep(int target, uint8_t* keep) const = 0;
  virtual void upload_keep(int target, const uint8_t* keep) = 0;
};

// Distillation on the logits (nm_sparsify.h, distill_loss): per row with a target >= 0,
// p = softmax(teacher/τ), q = softmax(student/τ) in double, and
//   dlogits = ce_factor · dlogits + kd_factor · (q − p),
// on the other rows dlogits = ce_factor · dlogits. Returns Σ over the counted rows of
// KL(p ‖ q); the caller forms the loss.
struct DistillArgs {
  const float* student = nullptr;  // [rows, vocab]
  const float* teacher = nullptr;  // [rows, vocab]
  const int32_t* targets = nullptr;
  float* dlogits = nullptr;  // [rows, vocab], in and out
  int64_t rows = 0;
  int vocab = 0;
  double temperature = 1;
  float ce_factor = 1;   // 1 − α
  double kd_factor = 0;  // α τ · loss_scale / counted
};

// Symbol of `const Api* tessel_cuda_nm_sparsify_api()` in libtessel_cuda.so.
inline constexpr const char* kApiSymbol = "tessel_cuda_nm_sparsify_api";

struct Api {
  // The state for these targets of pattern n:m.
  std::unique_ptr<AdmmDevice> (*make_admm)(const std::vector<DeviceTarget>& targets, int n, int m);
  // Π of one host matrix laid out as `target` says (offset ignored) through the kernel the
  // state uses; keep (host, k · out bytes) receives 1 where kept. For tests.
  void (*project_host)(const float* w, const DeviceTarget& target, int n, int m, uint8_t* keep);
  // Distillation with device addresses.
  double (*distill)(const DistillArgs& args);
  // The same kernel on host arrays (uploaded, dlogits downloaded back). For tests.
  double (*distill_host)(const DistillArgs& args);
};

// The plugin's table (nm_sparsify_cuda_client.cpp, loading the plugin on the first call);
// a build without nvcc throws tessel::Error (nm_sparsify_cuda_unavailable.cpp).
const Api& api();

}  // namespace tessel::nm_sparsify::cuda
