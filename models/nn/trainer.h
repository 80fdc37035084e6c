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

namespace tessel::nn {

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
  // Data (classify on documents): the corpus kind ("" = synthetic classes; "spamassassin":
  // ham 0 / spam 1 from a tar(.gz) of mail folders), its archive, the held-out test
  // fraction (val_fraction below is the validation one) and the split's own seed, so that
  // runs with different seeds share one split.
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
  // Seams exposed as config (the hooks on Trainer are the general form).
  int curriculum_start = 0;      // sequence-length warm-up from this length (0: off)
  int64_t curriculum_steps = 0;  // ... to seq_len over this many steps (DeepSpeed fixed_linear)
  double pld_theta_bar = 1.0;    // progressive layer dropping (1: off)
  double pld_gamma = 0.001;
  int64_t trace_step = -1;  // record the tensor trace of this step (-1: none)

  // Reads a loaded config (every key; unknown keys are errors with file:line:col).
  static TrainConfig from_config(const Config& cfg);
  // from_config for the workload of a registered experiment: the run's seed is the
  // experiment's (a sweep sets it per point), so a `seed:` here, which it would silently
  // override, is an error.
  static TrainConfig from_experiment_workload(const Config& workload);
};

struct EvalPoint {
  int64_t step = 0;
  double val_loss = 0;
  double val_accuracy = -1;  // classify and mnist
  double val_f1 = -1;        // classify with 2 classes: F1 of class 1 (spam)
};

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
  int64_t tokens = 0;        // tokens (lm) or examples (mnist) processed now
  // Classify on documents: the test split, evaluated once at the end (-1: not run).
  double test_accuracy = -1, test_f1 = -1;
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
  // Sequence length of step t's batch (the batch is truncated to it); curriculum.
  std::function<int(int64_t step)> seq_len_schedule;
  // Per-block residual factors for step t (0 skips a block); progressive layer dropping.
  std::function<std::vector<double>(int64_t step, Rng& rng)> layer_scale_schedule;
  // After backward and clipping, before the optimizer: edit gradients (ADMM's ρ(W-Z+U)),
  // or move them (offload).
  std::function<void(int64_t step, ParamStore<float>& params)> on_gradients;
  // After the optimizer step: projections, mask updates, dual updates.
  std::function<void(int64_t step, ParamStore<float>& params)> on_step_end;
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
  AdamW& optimizer() { return *adam_; }
  int64_t step() const { return step_; }
  const TrainConfig& config() const { return config_; }
  const data::Tokenizer* tokenizer() const { return tokenizer_.get(); }
  // The tensor trace of config.trace_step, once that step has run.
  const TensorTrace& tensor_trace() const { return trace_; }
  int64_t tokens_per_step() const;
  // Classify on documents: the split (indices into the archive's messages sorted by
  // name), its manifest ("<split> <name>" lines, written to split.txt) and the manifest's
  // FNV-1a hash; null / "" otherwise.
  const data::DocumentSplit* document_split() const {
    return doc_labels_.empty() ? nullptr : &doc_split_;
  }
  std::string split_hash() const;

 private:
  double train_step(int64_t step, TensorTrace* trace);
  double lr_at(int64_t step) const;
  std::vector<double> pld_scales(int64_t step, Rng& rng) const;
  std::string describe_model() const;
  std::string read_corpus() const;
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
  std::unique_ptr<data::TokenSampler> train_sampler_, val_sampler_;
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
  int64_t step_ = 0;
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

}  // namespace tessel::nn
