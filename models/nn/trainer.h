// The training loop behind `tessel train`: data, model, AdamW, evaluation, checkpoints.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "models/data/corpus.h"
#include "models/data/mail.h"
#include "models/data/mnist.h"
#include "models/data/tokenizer.h"
#include "models/nn/mlp.h"
#include "models/nn/optimizer.h"
#include "models/nn/transformer.h"
#include "models/nn/transformer_cuda.h"
#include "runtime/core/config.h"
#include "runtime/core/keys.h"

namespace tessel::nn {

// The keys of a training file (configs/README.md, "Training"): `tessel train`'s file, the
// workload of train.transformer / train.mlp, and the training part of nm_sparsify's.
const KeySet& training_keys();

// Everything a training run reads from its YAML file (configs/README.md, "Training").
struct TrainConfig {
  std::string name = "train";
  uint64_t seed = 1;
  // lm: Transformer language model on a text corpus; classify: Transformer with the
  // classifier head telling apart `classes` synthetic corpora (seeds seed+1, seed+2, ...)
  // from a window of seq_len characters, or the labelled documents of `documents`;
  // mnist: MLP on MNIST.
  std::string task = "lm";
  int classes = 2;  // classify
  // Data (classify or lm on documents): the corpus kind ("" = synthetic classes or a text
  // corpus; "spamassassin": a tar(.gz) of mail folders, ham 0 / spam 1 for classify, the
  // bodies as text for lm), its archive, the held-out test fraction (val_fraction below is
  // the validation one) and the split's own seed, so that runs with different seeds share
  // one split.
  std::string documents, archive;
  std::string archive_source = "data.archive";  // "file:line:col: data.archive", for errors
  double test_fraction = 0.1;
  uint64_t split_seed = 2026;
  // Data (lm).
  std::string corpus;  // path; empty: synthetic corpus
  // For errors: "file:line:col: data.corpus", and where a relative path was taken from.
  std::string corpus_source = "data.corpus", corpus_origin;
  int64_t synthetic_chars = 200000;
  std::string tokenizer = "char";  // char | word
  int word_vocab = 4096;
  double val_fraction = 0.1;
  // Data (mnist).
  std::string mnist_images, mnist_labels;
  // Model.
  TransformerConfig model;  // vocab_size is set from the tokenizer
  MlpConfig mlp;            // inputs/classes set from the data
  // Optimisation.
  std::string backend = "cpu";             // cpu | cuda
  Precision precision = Precision::kFp32;  // cuda GEMM arithmetic
  bool optimizer_on_host = false;  // cuda: AdamW state in host memory (ZeRO-Offload placement)
  int batch_size = 16;
  int seq_len = 64;
  std::string seq_len_source = "train.seq_len";  // "file:line:col: train.seq_len", for errors
  int64_t steps = 100;
  LrSchedule lr;
  AdamWConfig adam;
  double grad_clip = 1.0;
  double max_seconds = 0;  // stop after this much wall time (0: no limit)
  // With max_seconds: after the warm-up (always counted in steps, so a slow machine still
  // warms up for `warmup` steps) the decay advances by the larger of its step fraction and
  // the fraction of the remaining time budget used, so a run cut short by its time budget
  // still finishes its decay. Not reproducible.
  bool time_schedule = false;
  int threads = 0;  // OpenMP threads (0: the runtime's default)
  int64_t log_every = 10;
  // Evaluation and checkpoints.
  int64_t eval_every = 100;  // also at the last step
  int eval_batches = 8;
  int64_t checkpoint_every = 0;  // 0: only at the end
  // Seams exposed as config (the hooks on Trainer are the general form); the methods are
  // described in docs/pretraining.md.
  // Sequence-length warm-up (SLW, `curriculum:`): DeepSpeed's fixed_linear / fixed_root
  // schedule from `start` to train.seq_len over `steps` steps, in multiples of
  // difficulty_step; batches are truncated to the step's length.
  struct Curriculum {
    int start = 0;  // first sequence length (0: off)
    int64_t steps = 0;
    std::string schedule = "fixed_linear";  // fixed_linear | fixed_root
    double root_degree = 1;                 // fixed_root's r (fixed_linear: 1)
    int difficulty_step = 8;
    // The learning-rate warm-up lasts train.warmup full-length steps' worth of tokens
    // (Megatron-DeepSpeed's --lr-warmup-tokens, which the SLW paper's runs use), so it
    // spans more steps while the sequences are short; false: train.warmup steps.
    bool token_warmup = true;
  } curriculum;
  // Progressive layer dropping (PLD, `layer_drop:`): θ(t) = (1 - θ̄) e^(-γt) + θ̄, block l of
  // L (l = 1..L from the embedding) kept with p_l = 1 - (l/L)(1 - θ(t)).
  struct LayerDrop {
    bool on = false;
    double theta_bar = 0.5;
    double gamma = 0.001;
    bool fixed = false;   // ablation: θ(t) = θ̄ from the first step
    bool rescale = true;  // a kept block's residual branches times 1/p_l (ablation: 1)
  } layer_drop;
  // Evaluation target (eval.target_loss, 0: none): the first evaluation at or below it
  // gives steps_to_target, tokens_to_target and time_to_target_s.
  double target_loss = 0;
  // Loss spikes and divergence (`stability:`): a step after the first spike_warmup steps
  // whose training loss exceeds spike_factor × the running minimum of the training loss
  // is a spike step; consecutive spike steps are one spike. A step diverges when its loss
  // is not finite or exceeds divergence_loss (0: no bound); the run then fails (throws)
  // or, with stop_on_divergence, stops before that step's update and reports it.
  struct Stability {
    double spike_factor = 1.5;
    int64_t spike_warmup = 100;
    double divergence_loss = 0;
    bool stop_on_divergence = false;
  } stability;
  int64_t trace_step = -1;  // record the tensor trace of this step (-1: none)
  // Offloaded mixed-precision training (`train.offload:`; docs/training.md, "Offloaded
  // training"): a 16-bit device copy of the parameters that the forward and backward read,
  // 16-bit gradients, an fp32 master and CPU-Adam's moments on the host, and from step
  // dpu_warmup on the delayed parameter update (-1: never). On backend cpu the "device" is
  // the CPU itself (a reference of the semantics). precision "" means off (the default).
  struct Offload {
    std::string precision;  // "" (off) | fp16 | bf16
    int64_t dpu_warmup = -1;
    double loss_scale = 1;       // static, a power of two: gradients × scale before rounding
    int64_t timeline_steps = 0;  // offload_timeline.json for steps [0, N) (0: none)
  } offload;

  // Reads a loaded config, first checked against `keys` (training_keys(), or a set that
  // includes them: a key it does not declare is an error with file:line:col).
  static TrainConfig from_config(const Config& cfg, const KeySet& keys = training_keys());
  // from_config for the workload of a registered experiment: the run's seed is the
  // experiment's (a sweep sets it per point), so a `seed:` here, which it would silently
  // override, is an error.
  static TrainConfig from_experiment_workload(const Config& workload,
                                              const KeySet& keys = training_keys());
};

struct Checkpoint;

// The optimizer side of offloaded training (train.offload): it owns the fp32 master
// parameters and the optimizer state and replaces clip-then-AdamW in the trainer
// (models/nn/offload_optimizer.h implements it; the trainer reaches it through
// register_offload_engine so that tessel_nn does not depend on CPU-Adam).
class OffloadEngine {
 public:
  virtual ~OffloadEngine() = default;
  // After backward: the device holds step `step`'s gradients (on the CPU backend,
  // params.grads()). Clips, updates, and leaves on the device what the next forward reads.
  virtual void step(int64_t step, ParamStore<float>& params, double lr) = 0;
  // Checkpoints: the fp32 master, the moments and the optimizer's step count (waits for
  // an update in flight first).
  virtual void save(Checkpoint& c) = 0;
  virtual void load(const Checkpoint& c, ParamStore<float>& params) = 0;
  // Waits for an update in flight (the delayed update's worker).
  virtual void wait() = 0;
  // The timeline (train.offload.timeline_steps): spans of steps [0, steps), written as a
  // Perfetto trace. add_span records one the trainer measured (steady_clock seconds).
  virtual void start_timeline(int64_t steps) = 0;
  virtual void add_span(const std::string& track, const std::string& name, double start_s,
                        double end_s) = 0;
  virtual void write_timeline(const std::string& path) = 0;
};
// `device` is the CUDA model on backend cuda (the engine sends the gradients and the 16-bit
// parameters through it), null on backend cpu.
using OffloadEngineFactory = std::function<std::unique_ptr<OffloadEngine>(
    const TrainConfig&, ParamStore<float>&, CudaTransformer* device)>;
// Installs the factory a Trainer with train.offload uses (the offload library does it at
// static initialisation).
void register_offload_engine(OffloadEngineFactory factory);

struct EvalPoint {
  int64_t step = 0;
  double val_loss = 0;
  double val_accuracy = -1;  // classify and mnist
  double val_f1 = -1;        // classify with 2 classes: F1 of class 1 (spam)
  // When the evaluation ran, counted from step 0 (resumed runs included): tokens (lm,
  // classify) or examples (mnist) trained on, wall time of the run so far (evaluations
  // before this one included) and the part of it inside training steps, and the process's
  // CPU time so far (what a shared machine's load changes least).
  int64_t tokens = 0;
  double wall_s = 0, train_s = 0, cpu_s = 0;
};

// The methods' schedules as functions of the 0-based step index t (docs/pretraining.md).
// PLD's global keep probability θ(t) = (1 - θ̄) e^(-γt) + θ̄ (θ̄ with `fixed`); θ(0) = 1, as
// DeepSpeed's first step runs with current_theta = 1.
double pld_theta(const TrainConfig::LayerDrop& drop, int64_t step);
// Keep probability of block `layer` (1-based: 1 is next to the embedding, `layers` the
// last) at global keep probability theta: 1 - (layer / layers)(1 - theta).
double pld_keep_probability(int layer, int layers, double theta);
// SLW's sequence length at step t for a context of `full` tokens (DeepSpeed's
// __fixed_root_get_difficulty at global step t + 1, as DeepSpeed's engine calls it):
// floor(start + (full - start) · min(1, ((t + 1) / T)^(1/r))), minus its remainder modulo
// difficulty_step, at most `full` (r = 1 for fixed_linear).
int slw_seq_len(const TrainConfig::Curriculum& curriculum, int full, int64_t step);
// The token-counted learning-rate warm-up of a curriculum run: tokens trained on through
// each warm-up step (step i's entry counts steps 0..i), ending with the first step whose
// total reaches warmup × batch_size × seq_len. Empty without curriculum, token_warmup or
// warm-up.
std::vector<int64_t> slw_warmup_tokens(const TrainConfig& config);
// "baseline", "pld", "slw" or "pld+slw", the ablations and a γ other than 0.001 marked:
// "pld(fixed)", "pld(no-rescale)", "pld(fixed,no-rescale)", "pld(gamma=0.005)"; the `method`
// label of a training result.
std::string method_name(const TrainConfig& config);

// F1 of class `positive`: 2·TP / (2·TP + FP + FN) over paired labels (0 when the class is
// neither present nor predicted, where the ratio is 0/0).
double f1_score(const std::vector<int32_t>& truth, const std::vector<int32_t>& predicted,
                int32_t positive);

struct TrainResult {
  int64_t first_step = 0;      // 0, or the step a resumed run started from
  int64_t steps = 0;           // steps completed in total
  std::vector<double> losses;  // training loss of every step run now
  std::vector<EvalPoint> evals;
  double train_seconds = 0;  // wall time of the run, evaluations and checkpoints included
  double step_seconds = 0;   // wall time inside training steps only
  int64_t tokens = 0;  // tokens (batch × each step's length) or examples (mnist) processed now
  // Classify on documents: the test split, evaluated once at the end (-1: not run).
  double test_accuracy = -1, test_f1 = -1;
  // LM on documents: mean loss over eval.batches fixed windows of the test split, once at
  // the end (-1: not run).
  double test_loss = -1;
  // Counted from step 0 (a resumed run continues the counts in its checkpoint): tokens,
  // wall time and CPU time of the training loop (evaluations and checkpoints included, the
  // set-up before the first step not), up to the last step.
  int64_t tokens_total = 0;
  double wall_total_s = 0, cpu_total_s = 0;
  // Transformer blocks that ran in training steps, and the expected number under PLD
  // (Σ_t Σ_l p_l(t); equal to the slots without layer dropping), out of steps × layers.
  int64_t blocks_executed = 0, block_slots = 0;
  double blocks_expected = 0;
  // Loss spikes (episodes) and the steps in them; divergence (stability.stop_on_divergence)
  // with the 1-based number of the step that diverged.
  int64_t loss_spikes = 0, spike_steps = 0;
  bool diverged = false;
  int64_t diverged_step = 0;
  // eval.target_loss: the first evaluation at or below it (reached_target false: never).
  bool reached_target = false;
  EvalPoint target;
  // Training throughput: evaluation, checkpoints and trace files are not training.
  double tokens_per_second() const { return step_seconds > 0 ? tokens / step_seconds : 0; }
};

class Trainer {
 public:
  // Loads the data and builds the model; `out_dir` receives checkpoint.bin, eval.jsonl,
  // summary.json and the tensor trace (empty: nothing is written).
  Trainer(const TrainConfig& config, std::string out_dir);
  ~Trainer();

  // --- Seams for the training algorithms (all optional) ---
  // Sequence length of step t's batch (the batch is truncated to it); curriculum. Replaces
  // the `curriculum:` length schedule when set (a token-counted LR warm-up still follows the
  // configured curriculum's lengths).
  std::function<int(int64_t step)> seq_len_schedule;
  // Per-block residual factors for step t (0 skips a block); progressive layer dropping.
  // Replaces the `layer_drop:` schedule when set.
  std::function<std::vector<double>(int64_t step, Rng& rng)> layer_scale_schedule;
  // After backward and clipping, before the optimizer: edit gradients (ADMM's ρ(W-Z+U)),
  // or move them (offload).
  std::function<void(int64_t step, ParamStore<float>& params)> on_gradients;
  // After the optimizer step: projections, mask updates, dual updates.
  std::function<void(int64_t step, ParamStore<float>& params)> on_step_end;
  // Backend cuda: the same two seams on the GPU model, for algorithms that keep their
  // state on the device (nm_sparsify) instead of moving the gradients and weights to the
  // host every step. on_device_gradients runs after clipping, before AdamW (not on a step
  // skipped for an fp16 overflow), on_device_step_end after the step. They need the
  // optimizer on the device and neither on_gradients nor on_step_end set (a step throws
  // otherwise); the CPU backend never calls them.
  std::function<void(int64_t step, CudaTransformer& model)> on_device_gradients;
  std::function<void(int64_t step, CudaTransformer& model)> on_device_step_end;
  // After each evaluation: early stopping, external logging.
  std::function<void(const EvalPoint& eval)> on_eval;
  // Seconds on a monotonic clock (default: std::chrono::steady_clock); timing tests
  // inject their own.
  std::function<double()> clock;

  // Restores checkpoint.bin from out_dir when present; returns whether it did.
  bool resume();
  // Trains until config.steps (or max_seconds); progress lines go to `progress` (may be
  // null). Evaluates every eval_every steps and at the end; writes checkpoints.
  // `stop_at` >= 0 ends the run (with a checkpoint) after that step, as a time-sliced job
  // or a test of resumption would.
  TrainResult run(std::ostream* progress, int64_t stop_at = -1);
  // Mean loss over the fixed validation batches (and accuracy for mnist).
  EvalPoint evaluate();
  void save_checkpoint(const std::string& path) const;
  void load_checkpoint(const std::string& path);

  ParamStore<float>& params();
  // The CPU Transformer (task lm or classify; null for mnist). With backend cuda it only
  // holds the host copy, so its logit_loss seam has no effect there.
  Transformer<float>* transformer() { return lm_.get(); }
  // The GPU model with backend cuda (its set_logit_loss is the seam there), else null.
  CudaTransformer* cuda_transformer() { return cuda_.get(); }
  // The AdamW state; with train.offload there is none (the offload engine holds it).
  AdamW& optimizer() {
    if (!adam_)
      throw Error("train.offload: the optimizer state lives in the offload engine", kExitFailure);
    return *adam_;
  }
  // The offload engine (train.offload), else null.
  OffloadEngine* offload_engine() { return offload_.get(); }
  int64_t step() const { return step_; }
  const TrainConfig& config() const { return config_; }
  const data::Tokenizer* tokenizer() const { return tokenizer_.get(); }
  // task lm: the training and validation token streams (FGD decodes the validation text).
  const data::TokenSplit& lm_tokens() const { return tokens_; }
  // The tensor trace of config.trace_step, once that step has run.
  const TensorTrace& tensor_trace() const { return trace_; }
  // On documents (classify or lm): the split (indices into the archive's messages sorted by
  // name), its manifest ("<split> <name>" lines, written to split.txt) and the manifest's
  // FNV-1a hash; null / "" otherwise.
  const data::DocumentSplit* document_split() const {
    return split_manifest_.empty() ? nullptr : &doc_split_;
  }
  std::string split_hash() const;

 private:
  double train_step(int64_t step, TensorTrace* trace);
  double lr_at(int64_t step) const;
  // PLD's per-block factors for `step`, drawn from rng; adds Σ_l p_l to *expected.
  std::vector<double> pld_scales(int64_t step, Rng& rng, double* expected) const;
  // Whether a training loss counts as divergence (stability:).
  bool diverges(double loss) const;
  // LM on documents: the corpus's text per split, tokenized into tokens_ and test_tokens_.
  void load_lm_documents();
  std::string describe_model() const;
  std::string read_corpus() const;
  std::string timeline_path() const;  // train.offload.timeline_steps' output
  // Loads config.archive: labels, the first seq_len characters of each message (padded),
  // the split; returns every message's text (for the vocabulary).
  std::vector<std::string> load_documents();
  // Mean loss, accuracy and (2 classes) F1 over the documents `which`, in batches.
  EvalPoint evaluate_documents(const std::vector<int>& which);
  // Throws ConfigError naming train.seq_len when a split is shorter than one window.
  void check_seq_len(const data::TokenSplit& split, const std::string& source) const;

  TrainConfig config_;
  std::string out_dir_;
  std::unique_ptr<data::Tokenizer> tokenizer_;
  data::TokenSplit tokens_;
  std::unique_ptr<data::TokenSampler> train_sampler_, val_sampler_, test_sampler_;
  std::vector<int32_t> test_tokens_;            // lm on documents: the test split's tokens
  std::vector<data::TokenSplit> class_tokens_;  // classify: one token stream per class
  std::vector<std::unique_ptr<data::TokenSampler>> class_train_, class_val_;
  // classify on documents: [messages, seq_len] token ids, labels, split, manifest.
  std::vector<int32_t> doc_tokens_, doc_labels_;
  data::DocumentSplit doc_split_;
  std::string split_manifest_;
  data::Mnist mnist_;
  int mnist_train_ = 0;  // images [0, mnist_train_) train, the rest validate
  std::unique_ptr<Transformer<float>> lm_;
  std::unique_ptr<MlpClassifier<float>> mlp_;
  std::unique_ptr<CudaTransformer> cuda_;  // backend cuda: the model runs here, lm_ holds
                                           // the host copy for checkpoints
  std::unique_ptr<AdamW> adam_;
  // train.offload. Declared after cuda_, so destroyed first: its destructor joins a delayed
  // update still writing the CUDA model's pinned buffers.
  std::unique_ptr<OffloadEngine> offload_;
  int64_t step_ = 0;
  // The learning-rate schedule as run: config.lr, its warm-up the token-counted one's
  // length in steps with a curriculum; warmup_tokens_ its tokens through each warm-up step.
  LrSchedule lr_;
  std::vector<int64_t> warmup_tokens_;
  // What the last train_step did: its sequence length, θ(t) (1 without PLD), blocks run
  // and expected, and whether it diverged (its update then was not applied).
  int last_seq_ = 0;
  double last_theta_ = 1;
  int64_t last_blocks_ = 0;
  double last_expected_ = 0;
  bool last_diverged_ = false;
  // Totals from step 0, kept in the checkpoint so that a resumed run continues them.
  struct Totals {
    int64_t tokens = 0;
    double wall_s = 0, train_s = 0;  // wall time and time in steps, to the last step
    double cpu_s = 0;                // CPU time of the training loop, to the last step
    int64_t blocks_executed = 0, block_slots = 0;
    double blocks_expected = 0;
    double loss_min = 0;  // running minimum of the training loss (valid when steps > 0)
    int64_t loss_steps = 0, loss_spikes = 0, spike_steps = 0;
    bool in_spike = false;
    bool reached_target = false;
    EvalPoint target;
  } totals_;
  double time_fraction_ = 0;        // elapsed / max_seconds, for time_schedule
  double warmup_end_fraction_ = 0;  // time_fraction_ when the warm-up steps were done
  std::string eval_log_;
  TensorTrace trace_;
};

// Formats seconds as "1h02m", "4m05s" or "12s" for ETA lines.
std::string format_duration(double seconds);

// Seconds left of a run that has taken `elapsed` seconds for `steps_run` steps and has
// `steps_left` to go: the rate so far, but never past the time budget `max_seconds`
// (0: none), at which the run stops.
double eta_seconds(double elapsed, int64_t steps_run, int64_t steps_left, double max_seconds);

// time_schedule's learning rate at `step` when `time_fraction` of max_seconds has passed
// and the warm-up steps ended at `warmup_end_fraction`: warm-up by steps, then the decay at
// the larger of its step fraction and the fraction of the then remaining time used.
double time_schedule_lr(const LrSchedule& lr, int64_t step, double time_fraction,
                        double warmup_end_fraction);

// The learning-rate schedule and stopping rule in words, for the first lines of the log:
// "schedule: lr 3.00e-03, linear warm-up over 50 steps, then cosine decay to 3.00e-04 by
// step 3000 or at 590 s (time_schedule), whichever comes first; stops at 590 s
// (max_seconds)".
std::string describe_schedule(const TrainConfig& config);

// The pre-training methods switched on (layer_drop:, curriculum:) in words, one line each,
// for the log after the schedule line; "" when neither is.
std::string describe_methods(const TrainConfig& config);

}  // namespace tessel::nn
