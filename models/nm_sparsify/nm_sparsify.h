// NxMTransformer (arXiv 2110.15766): N:M sparsification of a pretrained Transformer by
// ADMM, against the ASP baseline (one-shot magnitude projection + masked fine-tuning),
// either one optionally distilled from a dense teacher. Runs inside nn::Trainer through
// its on_gradients / on_step_end hooks and the Transformer's logit_loss seam; with backend
// cuda through on_device_gradients / on_device_step_end and the CudaTransformer's logit
// seam, with its state on the GPU (kernels: nm_sparsify_cuda.h).
//
// Layout: the engine stores a linear weight as [in, out] (y = x W), so its reduction
// dimension K runs down the rows; models/sparse works on out x K. Every projection here is
// models/sparse's project_mask applied to the transposed view, so both libraries choose
// exactly the same entries (ties to the lower K index).
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "models/nn/params.h"
#include "models/nn/trainer.h"
#include "models/nn/transformer.h"
#include "models/nn/transformer_cuda.h"
#include "models/sparse/nm_pattern.h"
#include "runtime/core/config.h"

namespace tessel::nm_sparsify {

namespace cuda {
class AdmmDevice;  // nm_sparsify_cuda.h
}

enum class Method { kAdmm, kAsp };

// Everything a sparsification run reads from its `sparsify:` mapping
// (docs/nxm_transformer.md lists the keys).
struct SparsifyConfig {
  Method method = Method::kAdmm;
  sparse::Pattern pattern{2, 4};
  // Parameter names to sparsify, '*' matching any run of characters. The default is every
  // block's linear weight (h<l>.w_qkv, w_proj, w_fc, w_fc2); embeddings and head stay dense.
  std::vector<std::string> params = {"h*.w_*"};
  // Dense training before sparsification, inside the same run (one learning-rate schedule
  // over train.steps): steps [0, dense_steps) train the dense model, then ASP prunes /
  // ADMM starts from the weights after step dense_steps.
  int64_t dense_steps = 0;
  // ADMM: steps [dense_steps, dense_steps + admm_steps) run ADMM, then W is projected, the
  // masks are fixed and the remaining train.steps are masked fine-tuning. Z and U are
  // updated every `interval` steps with ρ_k = min(rho · rho_growth^k, rho_max) after k
  // updates.
  int64_t admm_steps = 0;
  int64_t interval = 10;
  double rho = 1e-3;
  double rho_growth = 1.0;
  double rho_max = std::numeric_limits<double>::infinity();
  // Knowledge distillation from a dense teacher: loss = (1 - alpha) CE
  // + alpha T² KL(softmax(teacher / T) || softmax(student / T)).
  bool distill = false;
  double temperature = 2.0;
  double alpha = 0.5;
  // Checkpoints (nn::Trainer's checkpoint.bin): the dense weights to start from (empty: the
  // model's seeded initialisation) and the teacher's (empty: the starting weights).
  std::string init, teacher;
  // Where each key came from ("file:line:col: sparsify.pattern"), for errors found once
  // the model is known.
  std::string pattern_source = "sparsify.pattern";
  std::string params_source = "sparsify.params";
  std::string admm_steps_source = "sparsify.admm.steps";
  std::string dense_steps_source = "sparsify.dense_steps";
  std::string init_source = "sparsify.init", teacher_source = "sparsify.distill.teacher";

  // Reads the `sparsify:` mapping, first checked against sparsify_keys() (a key it does not
  // declare is an error with file:line:col); `method` defaults to `default_method`, and is
  // an error when `method_fixed` (a registered experiment's name chooses it).
  static SparsifyConfig from_config(const Config& cfg, Method default_method = Method::kAdmm,
                                    bool method_fixed = false);
};

// The keys of the `sparsify:` mapping (its root is that mapping).
const KeySet& sparsify_keys();

// The parameter values of a checkpoint written by nn::Trainer, checked against `layout`
// (same names and shapes in the same order) and `norm` (the block layout it was trained
// in). Throws IoError naming the file when it cannot be read, ConfigError
// "<source>: <path>: ..." naming the first mismatching parameter or the other layout.
std::vector<float> read_weights(const nn::ParamStore<float>& layout, nn::Norm norm,
                                const std::string& path, const std::string& source);

// One sparsified parameter.
struct Target {
  int param = 0;  // index in the ParamStore
  std::string name;
  int64_t k = 0, out = 0;  // reduction dimension and output features
  bool k_is_rows = true;   // [in, out] linear weights; false for the tied embedding wte
  int64_t offset = 0;      // into the ParamStore's flat buffers (the device kernels' view)
};

// '*' matches any run of characters (dots included), everything else itself.
bool glob_match(const std::string& pattern, const std::string& name);

// The parameters config.params selects, in ParamStore order. Throws ConfigError naming
// config.params_source when a pattern matches nothing or matches a parameter that is not a
// linear weight, and config.pattern_source when M does not divide a layer's K.
std::vector<Target> select_targets(const nn::ParamStore<float>& params,
                                   const SparsifyConfig& config);

// A target's values in models/sparse's layout (out x K, groups along the rows).
sparse::MatrixF to_sparse_layout(const float* w, const Target& t);
// The N:M keep mask of a target in the engine's layout (same element order as the
// parameter): models/sparse's project_mask on the out x K view.
std::vector<uint8_t> project_mask(const float* w, const Target& t, const sparse::Pattern& p);
// models/sparse's checker on a target's non-zeros.
sparse::Violation check(const nn::ParamStore<float>& params, const Target& t,
                        const sparse::Pattern& p);
// project_mask computed by the CUDA kernel the device ADMM uses (for tests). Needs a GPU
// (tessel::Error otherwise).
std::vector<uint8_t> project_mask_cuda(const float* w, const Target& t, const sparse::Pattern& p);

// One Z/U update: residuals over all targets together (Frobenius norms).
struct AdmmRecord {
  int64_t update = 0;      // 1, 2, ...
  int64_t step = 0;        // the training step it followed
  double rho = 0;          // ρ in force during the W-steps before this update
  double primal = 0;       // ‖W − Z‖
  double dual = 0;         // ρ ‖Z − Z_prev‖
  double weight_norm = 0;  // ‖W‖, to read the primal residual relative to the weights
  nlohmann::json to_json() const;
};
// One JSON object per line.
std::string records_jsonl(const std::vector<AdmmRecord>& records);

// The ADMM / ASP state over the selected targets of one ParamStore.
class NmSparsifier {
 public:
  // Resolves and validates the targets (ConfigError as select_targets).
  NmSparsifier(const SparsifyConfig& config, const nn::ParamStore<float>& params);
  ~NmSparsifier();
  NmSparsifier(NmSparsifier&&) noexcept;
  NmSparsifier& operator=(NmSparsifier&&) noexcept;

  // ADMM: Z = Π(W), U = 0, ρ = rho; resets the records.
  void start_admm(const nn::ParamStore<float>& params);
  // grads += ρ (W − Z + U) on every target: the gradient of ρ/2 ‖W − Z + U‖².
  void add_penalty_gradient(nn::ParamStore<float>& params) const;
  // Z = Π(W + U), U += W − Z, then ρ grows (U rescaled by ρ_old / ρ_new, so the unscaled
  // dual ρU is unchanged). Appends and returns the record.
  const AdmmRecord& update(int64_t step, const nn::ParamStore<float>& params);
  // Hard projection: W = Π(W), the masks are fixed (set on the ParamStore, so the forward
  // uses W ⊙ mask and backward masks the gradients).
  void prune(nn::ParamStore<float>& params);
  // Pruned entries of values and gradients set to exactly 0.0f (no -0.0f).
  void enforce_masks(nn::ParamStore<float>& params) const;

  // --- The same five steps on the CUDA backend, on a CudaTransformer's device parameters:
  // W, Z, U and the masks stay on the GPU (the kernels repeat the CPU arithmetic above
  // element by element); an update brings back three norms, prune the masks once. The
  // first of them binds this sparsifier to the device: use one backend per sparsifier.
  void start_admm(nn::CudaTransformer& model);
  void add_penalty_gradient(nn::CudaTransformer& model) const;
  const AdmmRecord& update(int64_t step, nn::CudaTransformer& model);
  // Also sets the masks on `host` when given (the trainer's store: checkpoints and any
  // later upload_params then carry them, as on the CPU).
  void prune(nn::CudaTransformer& model, nn::ParamStore<float>* host = nullptr);
  void enforce_masks(nn::CudaTransformer& model) const;
  // Z and U of a target (engine layout) while ADMM runs, downloaded on the CUDA backend.
  std::vector<float> admm_z(std::size_t target) const;
  std::vector<float> admm_u(std::size_t target) const;

  // Installs the hooks on a trainer whose params() are the starting weights. The
  // sparsification begins at step max(trainer.step(), dense_steps) (now, or after the
  // dense phase): ASP prunes then; ADMM starts then and prunes admm_steps later. With
  // distill, the teacher (the set one, else a dense copy of the weights where the
  // sparsification begins) takes part from then on. On the CPU replaces the trainer's
  // on_gradients and on_step_end (and, with distill, the Transformer's logit_loss); with
  // backend cuda uploads params() to the device and replaces on_device_gradients and
  // on_device_step_end (and the CudaTransformer's logit loss; the teacher is a second
  // CudaTransformer). The sparsifier must outlive the trainer's run. Throws ConfigError
  // for task mnist, dense_steps + admm_steps beyond train.steps, or backend cuda with the
  // optimizer on the host.
  void attach(nn::Trainer& trainer);
  // The dense teacher's values (same model configuration as the student).
  void set_teacher(const std::vector<float>& values) { teacher_values_ = values; }

  // --- Resumption (the trainer's checkpoint holds W and AdamW, not this) ---
  // Everything the hooks carry between steps after `step` steps: the step attach started
  // at, ρ, the records, the phase, and Z and U (ADMM phase) or the masks (masked phase).
  // File layout: magic "TSLADMM1", u64 header length, JSON header {step, start, rho,
  // phase: dense | admm | masked, records, targets: [{name, size}]}, then per target
  // f32 Z[size] and f32 U[size] (admm) or u8 mask[size] (masked), then u64 FNV-1a of every
  // byte before it.
  std::string state_bytes(int64_t step) const;
  // Writes state_bytes atomically to `path`, first renaming a previous file there to
  // `path`.prev: the hooks write it just before the trainer writes its checkpoint, so a
  // crash between the two leaves .prev matching the older checkpoint.
  void save_state(const std::string& path, int64_t step) const;
  // Restores the state saved after exactly `step` steps from `path`, else `path`.prev;
  // false when neither exists or holds that step. Throws IoError naming the file when it
  // is corrupt or was written for other targets. attach() then continues from it.
  bool load_state(const std::string& path, int64_t step);
  // With a path, attach()'s hooks save the state at every step the trainer checkpoints
  // after (train.checkpoint.every and train.steps).
  void set_state_file(const std::string& path) { state_file_ = path; }

  const SparsifyConfig& config() const { return config_; }
  const std::vector<Target>& targets() const { return targets_; }
  const std::vector<AdmmRecord>& records() const { return records_; }
  double rho() const { return rho_; }
  bool pruned() const { return pruned_; }
  // ADMM is running: started, not yet pruned.
  bool admm_running() const { return admm_; }
  // The fixed masks after prune(), per target in the engine's layout.
  const std::vector<std::vector<uint8_t>>& masks() const { return masks_; }
  // A fixed mask in models/sparse's layout (out x K), as mask files store it.
  sparse::Mask sparse_mask(std::size_t target) const;

 private:
  // The device state, created on the first CUDA call.
  cuda::AdmmDevice& device();
  // Appends the record of an update with these squared norms and grows ρ (rescaling U).
  const AdmmRecord& record_update(int64_t step, double primal2, double dual2, double w2);
  // The fixed masks on a host store.
  void set_masks(nn::ParamStore<float>& params) const;
  void attach_cuda(nn::Trainer& trainer, nn::CudaTransformer& gpu, int64_t begin, int64_t end);

  SparsifyConfig config_;
  std::vector<Target> targets_;
  std::vector<std::vector<float>> z_, u_;    // per target, engine layout (CPU backend)
  std::vector<std::vector<uint8_t>> masks_;  // host copy on both backends
  std::vector<AdmmRecord> records_;
  double rho_ = 0;
  bool pruned_ = false;
  bool admm_ = false;      // started, not yet pruned
  int64_t start_ = 0;      // the trainer's step when the run first attached
  bool restored_ = false;  // load_state succeeded: attach continues, does not start
  std::string state_file_;
  std::vector<float> teacher_values_;
  std::unique_ptr<nn::Transformer<float>> teacher_;
  // CUDA backend: Z, U and the masks on the device, and the teacher there.
  std::unique_ptr<cuda::AdmmDevice> device_;
  std::unique_ptr<nn::CudaTransformer> cuda_teacher_;
};

// Knowledge distillation on the logits. `dlogits` holds the cross-entropy gradient
// (p − onehot) / count on entry and the mixed gradient on return; the return value is
// (1 − α) ce_loss + α T² mean_rows KL(softmax(teacher/T) ‖ softmax(student/T)), the mean
// over the rows the cross-entropy counts (target >= 0).
template <typename T>
T distill_loss(const nn::Matrix<T>& student, const nn::Matrix<T>& teacher,
               const std::vector<int32_t>& targets, double temperature, double alpha, T ce_loss,
               nn::Matrix<T>& dlogits);

// The same on the CUDA backend, for CudaTransformer's logit seam: `student` from
// device_logits() (its dlogits rewritten in place, keeping the loss-scale factor) and the
// teacher's logits of the same batch on the device. Same formula and gradient, per row in
// double like the CPU's.
float distill_loss_cuda(const nn::CudaTransformer::DeviceLogits& student,
                        const float* teacher_logits, double temperature, double alpha,
                        float ce_loss);
// distill_loss<float>'s signature on host matrices, through the same kernel (for tests).
float distill_loss_cuda(const nn::Matrix<float>& student, const nn::Matrix<float>& teacher,
                        const std::vector<int32_t>& targets, double temperature, double alpha,
                        float ce_loss, nn::Matrix<float>& dlogits);

extern template float distill_loss<float>(const nn::Matrix<float>&, const nn::Matrix<float>&,
                                          const std::vector<int32_t>&, double, double, float,
                                          nn::Matrix<float>&);
extern template double distill_loss<double>(const nn::Matrix<double>&, const nn::Matrix<double>&,
                                            const std::vector<int32_t>&, double, double, double,
                                            nn::Matrix<double>&);

}  // namespace tessel::nm_sparsify
