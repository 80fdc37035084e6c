// Training loop: config reading, batches, steps, evaluation, progress, checkpoints.
#include "models/nn/trainer.h"
#include "models/nn/train_report.h"

#include <omp.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <ostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "models/nn/checkpoint.h"
#include "runtime/core/atomic_file.h"
#include "runtime/core/cpu_time.h"
#include "runtime/core/error.h"
#include "runtime/core/limits.h"
#include "runtime/core/seed.h"

namespace tessel::nn {

namespace fs = std::filesystem;

namespace {

// `p` made absolute and normal, without a trailing '/': the path as the system tries it.
std::string absolute_path(const fs::path& p) {
  std::string s = fs::absolute(p.empty() ? fs::path(".") : p).lexically_normal().string();
  if (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// Where a relative corpus path was taken from, for the error when it does not resolve: a
// training file copied elsewhere keeps its relative corpus path.
std::string relative_path_origin(const Config& key) {
  const std::string written = key.as<std::string>();
  if (written.empty() || written[0] == '/') return "";
  const std::string& file = key.location().file;
  const bool from_set = file.rfind("--set ", 0) == 0;
  const std::string folder = absolute_path(from_set ? fs::path() : fs::path(file).parent_path());
  return "the relative path \"" + written + "\" is taken from " +
         (from_set ? "the working folder, " + folder : "the folder of " + file + ", " + folder);
}

}  // namespace

const KeySet& training_keys() {
  static const KeySet keys = [] {
    KeySet k("training");
    k.text("name", "run name; the default output folder of `tessel train` (`results/train/<name>`)")
        .opt("file stem");
    k.text("description", "free text").opt("none");
    k.unsigned_integer(
         "seed",
         "run seed: initialisation, synthetic corpus, batch order (the batch "
         "of step t depends only on seed and t). `tessel train` only: in an experiment the "
         "experiment's `seed:` is the run's, and a workload `seed` is an error")
        .def("1");
    k.choice("task", {"lm", "classify", "mnist"},
             "lm: Transformer language model on text; classify: Transformer with the classifier "
             "head telling apart `data.classes` synthetic corpora (seeds seed+1, seed+2, ...) "
             "from windows of `train.seq_len` characters, or the labelled messages of "
             "`data.documents`; mnist: MLP classifier on MNIST")
        .def("lm");
    k.section("data", "the data; which keys a task reads is stated per key (required for mnist)");
    k.choice("data.documents", {"spamassassin"},
             "lm or classify: a real corpus of mail messages instead of synthetic classes or "
             "`data.corpus` (see \"Labelled documents\" above)")
        .opt("off");
    k.file("data.archive",
           "documents: the corpus archive, a tar(.gz) of mail folders, e.g. "
           "`../shared/data/spamassassin/spamassassin.tar.gz` (gzip needs a build with zlib)")
        .opt("required with documents");
    k.any_number("data.test_fraction",
                 "documents: held-out test messages per class, in [0, 1) (val_fraction + "
                 "test_fraction < 1)")
        .def("0.1");
    k.unsigned_integer(
         "data.split_seed",
         "documents: seed of the per-message split, separate from `seed` so "
         "that runs with different seeds share one split; messages with the same file-name "
         "md5 or the same text stay in one split")
        .def("2026");
    k.file("data.corpus", "lm: a text file; absent: the built-in synthetic corpus")
        .opt("synthetic");
    k.positive_integer("data.synthetic_chars",
                       "lm, classify (synthetic): size of the synthetic corpus (classify: of each "
                       "class's corpus)")
        .def("200000");
    k.positive_integer("data.classes", "classify (synthetic): number of classes, at least 2")
        .def("2");
    k.choice("data.tokenizer", {"char", "word"},
             "lm: byte-level vocabulary of the text, or words (models/data/tokenizer.h); on "
             "documents the word vocabulary comes from the training split only")
        .opt("char (documents: word)");
    k.positive_integer("data.word_vocab", "lm: word vocabulary size including `<unk>`").def("4096");
    k.file("data.images", "mnist: IDX image file, plain or `.gz`").opt("required (mnist)");
    k.file("data.labels", "mnist: IDX label file, plain or `.gz`").opt("required (mnist)");
    k.any_number("data.val_fraction",
                 "held-out tail of the token stream / image set, in (0, 1); documents: "
                 "validation messages per class")
        .def("0.1");
    k.section("model", "the network (required)");
    k.positive_integer("model.layers", "lm, classify: Transformer blocks")
        .opt("required (lm, classify)");
    k.positive_integer("model.width", "lm, classify: model width C").opt("required (lm, classify)");
    k.positive_integer("model.heads", "lm, classify: attention heads (must divide C)")
        .opt("required (lm, classify)");
    k.positive_integer("model.mlp_ratio", "lm, classify: MLP hidden width = ratio × C").def("4");
    k.choice("model.layout", {layout_name(Norm::kPreLN), layout_name(Norm::kPostLN)},
             "lm, classify: LayerNorm before each branch (GPT-2, PLD's switchable block) or "
             "after each residual add (BERT, PLD's paper baseline; no layer_drop)")
        .def(layout_name(Norm::kPreLN));
    k.list("model.hidden", "mnist: hidden layer widths of the MLP (each > 0)")
        .opt("required (mnist)");
    k.any_integer("model.hidden[]", "a hidden layer's width");
    k.section("train", "optimisation (required)");
    k.choice("train.backend", {"cpu", "cuda"}, "where forward/backward run (cuda: lm only)")
        .def("cpu");
    k.choice("train.precision", {"fp32", "bf16", "fp16"},
             "cuda GEMM arithmetic (fp16 adds dynamic loss scaling)")
        .def("fp32");
    k.choice("train.optimizer_placement", {"device", "host"},
             "cuda: AdamW moments on the GPU, or in host memory with fp32 gradients copied down "
             "and parameters up (train.offload is ZeRO-Offload's 16-bit data flow)")
        .def("device");
    k.section("train.offload",
              "ZeRO-Offload's mixed precision (docs/training.md, \"Offloaded training\"): on "
              "backend cuda with pinned buffers and a copy stream, on backend cpu as a "
              "reference of its semantics; gradients are clipped on the host");
    k.choice("train.offload.precision", {"fp16", "bf16"},
             "the forward/backward reads the parameters rounded to this 16-bit format "
             "(computing at train.precision), gradients are rounded to it, and CPU-Adam updates "
             "an fp32 master and its moments, writing the new 16-bit copy")
        .opt("required with offload");
    k.integer("train.offload.dpu_warmup", 0, std::numeric_limits<int32_t>::max(),
              "delayed parameter update from this step on: step i's update runs on a worker "
              "thread during step i+1's forward/backward, which reads the copy without it "
              "(one-step staleness)")
        .opt("off");
    k.number("train.offload.loss_scale", 1, 65536,
             "a power of two: gradients × scale before the 16-bit rounding and ÷ scale after "
             "(static; fp16 gradients below 2⁻²⁴ otherwise flush to zero); a gradient that "
             "overflows skips the step")
        .def("1");
    k.integer("train.offload.timeline_steps", 0, std::numeric_limits<int32_t>::max(),
              "write offload_timeline.json (Perfetto: ui.perfetto.dev) with the spans of steps "
              "[0, N): forward/backward, gradient transfers, CPU-Adam, uploads, DPU waits, on "
              "host threads and (cuda) the GPU's compute and copy streams; needs an output "
              "directory")
        .def("0");
    k.positive_integer("train.batch_size", "sequences (lm, classify) or images (mnist) per step");
    k.positive_integer("train.seq_len",
                       "lm, classify: tokens per sequence (= position-embedding size)")
        .opt("required (lm, classify)");
    k.positive_integer("train.steps", "optimizer steps");
    k.positive_number("train.lr", "peak learning rate");
    k.non_negative_number("train.min_lr", "learning rate at the end of the decay").opt("lr / 10");
    k.non_negative_number("train.warmup", "linear warm-up steps").def("0");
    k.choice("train.decay", {"cosine", "linear", "constant"},
             "decay from lr to min_lr over the remaining steps")
        .def("cosine");
    k.non_negative_number("train.weight_decay",
                          "AdamW decoupled decay (weight matrices and embeddings only)")
        .def("0.1");
    k.any_number("train.beta1", "AdamW first-moment decay, in [0, 1)").def("0.9");
    k.any_number("train.beta2", "AdamW second-moment decay, in [0, 1)").def("0.95");
    k.non_negative_number("train.grad_clip", "global gradient-norm clip (0: off)").def("1");
    k.non_negative_number("train.max_seconds",
                          "stop (evaluate, checkpoint) after this much wall time (0: no limit); "
                          "the ETA never runs past it")
        .def("0")
        .in("s");
    k.flag("train.time_schedule",
           "with max_seconds: the warm-up still counts steps; the decay then advances by the "
           "larger of its step fraction and the fraction used of the time left after the "
           "warm-up, so a run cut short by its time budget still completes its decay (the "
           "trajectory then depends on machine speed; the log's `schedule:` line states it; "
           "docs/training.md)")
        .def("false");
    k.non_negative_number("train.threads", "OpenMP threads (0: the runtime's default)").def("0");
    k.positive_integer("train.log_every", "progress line every this many steps").def("10");
    k.section("eval", "validation");
    k.positive_integer("eval.every", "validation every this many steps and at the end").def("100");
    k.positive_integer("eval.batches",
                       "fixed, evenly spaced validation batches (same tokens every time); not "
                       "used with `data.documents` and task classify (the whole validation "
                       "split)")
        .def("8");
    k.positive_number("eval.target_loss",
                      "the first evaluation with `val_loss` at or below it gives "
                      "`steps_to_target`, `tokens_to_target`, `time_to_target_s` (seconds in "
                      "training steps), `wall_to_target_s`, `cpu_to_target_s` (process CPU "
                      "seconds) and `reached_target` 1; never "
                      "reached: `reached_target` 0 and none of the others (docs/pretraining.md)")
        .opt("none");
    k.section("checkpoint", "checkpoints");
    k.non_negative_number("checkpoint.every", "checkpoint period in steps (0: at the end only)")
        .def("0");
    k.section("curriculum",
              "sequence-length warm-up (SLW, docs/pretraining.md; lm, classify): batches are "
              "truncated to the step's length; a step at length s counts batch × s tokens");
    k.positive_integer("curriculum.start_seq_len",
                       "first length: a multiple of `difficulty_step`, at most `train.seq_len` "
                       "(the model's context)")
        .opt("required with curriculum");
    k.positive_integer("curriculum.steps", "T: steps to reach `train.seq_len`")
        .opt("required with curriculum");
    k.choice("curriculum.schedule", {"fixed_linear", "fixed_root"},
             "DeepSpeed's schedules: length(t) = floor(start + (seq_len − start)·min(1, "
             "(t+1)/T)^(1/r)) down to a multiple of `difficulty_step` (r = 1 for fixed_linear)")
        .def("fixed_linear");
    k.number("curriculum.root_degree", 1, 100, "fixed_root's r (an error with fixed_linear)")
        .def("2");
    k.integer("curriculum.difficulty_step", 1, 4096,
              "lengths are multiples of it; `train.seq_len` must be one")
        .def("8");
    k.choice("curriculum.lr_warmup", {"tokens", "steps"},
             "the `train.warmup` learning-rate warm-up lasts warmup × batch × seq_len tokens "
             "(the baseline's warm-up tokens, so more steps while sequences are short), or "
             "`train.warmup` steps")
        .def("tokens");
    k.section("layer_drop",
              "progressive layer dropping (PLD, docs/pretraining.md; lm, classify): block l of "
              "L (l = 1..L) is kept with p_l = 1 − (l/L)(1 − θ(t)); evaluation runs every block");
    k.any_number("layer_drop.theta_bar", "floor θ̄ of the keep probability θ(t), in (0, 1]")
        .def("0.5");
    k.non_negative_number("layer_drop.gamma",
                          "decay rate of θ(t) = (1 − θ̄)e^(−γt) + θ̄ (an error with `schedule: "
                          "fixed`)")
        .def("0.001");
    k.choice("layer_drop.schedule", {"progressive", "fixed"},
             "fixed: θ(t) = θ̄ from the first step (the paper's fixed-rate ablation)")
        .def("progressive");
    k.flag("layer_drop.rescale", "a kept block's residual branches × 1/p_l; false: × 1 (ablation)")
        .def("true");
    k.section("stability", "loss spikes and divergence");
    k.number("stability.spike_factor", 1, 1e6,
             "a step's training loss above this × the running minimum of earlier steps' losses "
             "is a spike step; consecutive spike steps are one spike (`loss_spikes`, "
             "`spike_steps`)")
        .def("1.5");
    k.non_negative_number("stability.spike_warmup", "steps before spikes are counted").def("100");
    k.non_negative_number("stability.divergence_loss",
                          "a training loss above it diverges (0: only a non-finite loss does)")
        .def("0");
    k.choice("stability.on_divergence", {"fail", "stop"},
             "fail: the run fails (exit 1) naming the step; stop: the run ends before that "
             "step's update, writes eval.jsonl and summary.json, and reports `diverged` 1 and "
             "`diverged_step`")
        .def("fail");
    k.section("trace", "the tensor trace of one step (cpu backend)");
    k.non_negative_number("trace.step",
                          "record that step's tensor trace to `tensor_trace.txt` and "
                          "`tensor_trace.mtrace`")
        .def("0");
    return k;
  }();
  return keys;
}

namespace {

// A key some tasks read and this one does not: ignoring it would hide a mistake, as with a
// typo, so it is an error naming what the run is.
void reject_unread(const Config& node, const std::vector<std::string>& unread,
                   const std::string& run) {
  for (const std::string& key : unread)
    if (node.has(key)) node.fail(key, "is not read by " + run);
}

}  // namespace

TrainConfig TrainConfig::from_experiment_workload(const Config& workload, const KeySet& keys) {
  if (workload.has("seed"))
    workload.fail("seed",
                  "a run's seed is the experiment's `seed:` (a sweep sets it per point); move "
                  "it there");
  return from_config(workload, keys);
}

TrainConfig TrainConfig::from_config(const Config& cfg, const KeySet& keys) {
  keys.check(cfg);
  const Keyed root(training_keys(), cfg);
  TrainConfig c;
  c.name = root.has("name") ? root.text("name") : fs::path(cfg.location().file).stem().string();
  c.seed = root.unsigned_integer("seed");
  c.task = root.choice("task");
  const bool text = c.task != "mnist";

  if (cfg.has("data")) {
    const Keyed d = root.child("data");
    if (c.task != "mnist" && d.has("documents")) {
      c.documents = d.choice("documents");
      if (d.has("corpus"))
        d.fail("corpus", "data.corpus and data.documents are two corpora; give one");
      c.archive = d.path("archive");
      const Config key = d.config().at("archive");
      c.archive_source = key.location().str() + ": " + key.key_path();
      c.test_fraction = d.number("test_fraction");
      if (!(c.test_fraction >= 0 && c.test_fraction < 1))
        d.fail("test_fraction", "must be in [0, 1)");
      c.split_seed = d.unsigned_integer("split_seed");
      if (c.task == "classify") {
        c.classes = 2;  // ham, spam
        reject_unread(d.config(), {"synthetic_chars", "classes", "tokenizer", "word_vocab"},
                      "task classify on data.documents");
      } else {
        // lm: the bodies as text (docs/pretraining.md, "The word-level mail corpus").
        c.tokenizer = d.has("tokenizer") ? d.choice("tokenizer") : "word";
        c.word_vocab = static_cast<int>(d.integer("word_vocab"));
        reject_unread(d.config(), {"synthetic_chars", "classes"}, "task lm on data.documents");
      }
    } else if (c.task == "classify") {
      c.synthetic_chars = d.integer("synthetic_chars");
      c.classes = static_cast<int>(d.integer("classes"));
      if (c.classes < 2) d.fail("classes", "needs at least 2 classes");
      reject_unread(d.config(), {"corpus", "tokenizer", "word_vocab"},
                    "task classify with synthetic classes");
    } else if (c.task == "lm") {
      if (d.has("corpus")) {
        c.corpus = d.path("corpus");
        const Config key = d.config().at("corpus");
        c.corpus_source = key.location().str() + ": " + key.key_path();
        c.corpus_origin = relative_path_origin(key);
      }
      c.synthetic_chars = d.integer("synthetic_chars");
      c.tokenizer = d.has("tokenizer") ? d.choice("tokenizer") : "char";
      c.word_vocab = static_cast<int>(d.integer("word_vocab"));
      reject_unread(d.config(), {"classes"}, "task lm");
    } else {
      c.mnist_images = d.path("images");
      c.mnist_labels = d.path("labels");
      reject_unread(
          d.config(),
          {"documents", "corpus", "synthetic_chars", "classes", "tokenizer", "word_vocab"},
          "task mnist");
    }
    if (c.documents.empty())
      reject_unread(d.config(), {"archive", "test_fraction", "split_seed"},
                    "task " + c.task + " without data.documents");
    if (text) reject_unread(d.config(), {"images", "labels"}, "task " + c.task);
    c.val_fraction = d.number("val_fraction");
    if (!(c.val_fraction > 0 && c.val_fraction < 1)) d.fail("val_fraction", "must be in (0, 1)");
    if (!c.documents.empty() && c.val_fraction + c.test_fraction >= 1)
      d.fail("val_fraction",
             "val_fraction + test_fraction must be below 1 (nothing left to train)");
  } else if (c.task == "mnist") {
    cfg.fail("data", "task mnist needs data.images and data.labels");
  }

  const Keyed m = root.child("model");
  if (text) {
    c.model.layers = static_cast<int>(m.integer("layers"));
    c.model.width = static_cast<int>(m.integer("width"));
    c.model.heads = static_cast<int>(m.integer("heads"));
    c.model.mlp_ratio = static_cast<int>(m.integer("mlp_ratio"));
    c.model.norm = m.choice("layout") == layout_name(Norm::kPostLN) ? Norm::kPostLN : Norm::kPreLN;
    // Before anything is allocated (docs/hardening.md): each layer's MLP alone holds
    // 2 * mlp_ratio * width^2 weights, each with a gradient and two AdamW moments (16 bytes).
    check_allocation(m.config(), "width",
                     {c.model.layers, c.model.width, c.model.width, c.model.mlp_ratio}, 32,
                     "(layers x width x width x mlp_ratio) parameters");
    if (c.model.width % c.model.heads) m.fail("heads", "must divide width");
    reject_unread(m.config(), {"hidden"}, "task " + c.task + " (a Transformer)");
  } else {
    for (const Keyed& h : m.items("hidden")) {
      const int w = h.config().as<int>();
      if (w <= 0) h.fail("", "hidden widths must be positive");
      c.mlp.hidden.push_back(w);
    }
    reject_unread(m.config(), {"layers", "width", "heads", "mlp_ratio", "layout"},
                  "task mnist (an MLP)");
  }

  const Keyed t = root.child("train");
  c.backend = t.choice("backend");
  const std::string prec = t.choice("precision");
  c.precision = prec == "bf16"   ? Precision::kBf16
                : prec == "fp16" ? Precision::kFp16
                                 : Precision::kFp32;
  c.optimizer_on_host = t.choice("optimizer_placement") == "host";
  if (c.backend == "cuda" && c.task != "lm") t.fail("backend", "cuda runs task lm only");
  c.batch_size = static_cast<int>(t.integer("batch_size"));
  if (text) {
    c.seq_len = static_cast<int>(t.integer("seq_len"));
    const Config key = t.config().at("seq_len");
    c.seq_len_source = key.location().str() + ": " + key.key_path();
    // One activation per token and layer at the least.
    // The values as written (64-bit), not the int fields they are narrowed into.
    check_allocation(t.config(), "batch_size",
                     {t.integer("batch_size"), t.integer("seq_len"), c.model.width, c.model.layers},
                     4, "(batch_size x seq_len x width x layers) activations");
  } else {
    reject_unread(t.config(), {"seq_len"}, "task mnist");
  }
  if (c.task == "classify") {
    c.model.head = Head::kClassifier;
    c.model.classes = c.classes;
  }
  c.model.max_seq = c.seq_len;
  c.steps = t.integer("steps");
  c.lr.lr = t.number("lr");
  c.lr.min_lr = t.has("min_lr") ? t.number("min_lr") : c.lr.lr * 0.1;
  c.lr.warmup = static_cast<int64_t>(t.number("warmup"));
  c.lr.total = c.steps;
  const std::string decay = t.choice("decay");
  c.lr.decay = decay == "cosine"   ? LrSchedule::Decay::kCosine
               : decay == "linear" ? LrSchedule::Decay::kLinear
                                   : LrSchedule::Decay::kConstant;
  c.adam.weight_decay = t.number("weight_decay");
  c.adam.beta1 = t.number("beta1");
  c.adam.beta2 = t.number("beta2");
  if (!(c.adam.beta1 >= 0 && c.adam.beta1 < 1)) t.fail("beta1", "must be in [0, 1)");
  if (!(c.adam.beta2 >= 0 && c.adam.beta2 < 1)) t.fail("beta2", "must be in [0, 1)");
  c.grad_clip = t.number("grad_clip");
  c.max_seconds = t.number("max_seconds");
  c.time_schedule = t.flag("time_schedule");
  if (c.time_schedule && c.max_seconds <= 0) t.fail("time_schedule", "needs train.max_seconds > 0");
  c.threads = static_cast<int>(t.number("threads"));
  c.log_every = t.integer("log_every");
  if (t.has("offload")) {
    const Keyed o = t.child("offload");
    c.offload.precision = o.choice("precision");
    if (o.has("dpu_warmup")) c.offload.dpu_warmup = o.integer("dpu_warmup");  // absent: -1
    c.offload.loss_scale = o.number("loss_scale");
    c.offload.timeline_steps = o.integer("timeline_steps");
    int exponent = 0;
    if (std::frexp(c.offload.loss_scale, &exponent) != 0.5)
      o.fail("loss_scale", "must be a power of two (unscaling is then exact)");
    if (c.backend == "cuda" && c.precision == Precision::kFp16)
      t.fail("precision",
             "fp16 scales the loss dynamically on the device; with train.offload the loss "
             "scale is offload.loss_scale (use fp32 or bf16 GEMMs)");
    if (c.backend == "cuda" && t.has("optimizer_placement"))
      t.fail("optimizer_placement", "train.offload keeps the optimizer on the host by itself");
  }

  if (cfg.has("eval")) {
    const Keyed e = root.child("eval");
    c.eval_every = e.integer("every");
    c.eval_batches = static_cast<int>(e.integer("batches"));
    if (e.has("target_loss")) c.target_loss = e.number("target_loss");
  }
  if (cfg.has("checkpoint"))
    c.checkpoint_every = static_cast<int64_t>(root.child("checkpoint").number("every"));
  if (cfg.has("curriculum")) {
    if (!text)
      cfg.fail("curriculum",
               "sequence-length warm-up needs a sequence model (task lm or classify)");
    const Keyed k = root.child("curriculum");
    TrainConfig::Curriculum& w = c.curriculum;
    w.schedule = k.choice("schedule");
    w.difficulty_step = static_cast<int>(k.integer("difficulty_step"));
    w.start = static_cast<int>(k.integer("start_seq_len"));
    w.steps = k.integer("steps");
    if (w.schedule == "fixed_root") {
      w.root_degree = k.number("root_degree");
    } else if (k.has("root_degree")) {
      k.fail("root_degree",
             "only schedule fixed_root has a root degree (fixed_linear is degree 1)");
    }
    w.token_warmup = k.choice("lr_warmup") == "tokens";
    if (w.start > c.seq_len)
      k.fail("start_seq_len", std::to_string(w.start) +
                                  " exceeds the model's context, train.seq_len " +
                                  std::to_string(c.seq_len));
    if (w.start % w.difficulty_step)
      k.fail("start_seq_len", std::to_string(w.start) + " is not a multiple of difficulty_step " +
                                  std::to_string(w.difficulty_step) +
                                  " (the schedule's lengths are its multiples)");
    if (c.seq_len % w.difficulty_step)
      k.fail("difficulty_step", "train.seq_len " + std::to_string(c.seq_len) +
                                    " is not a multiple of " + std::to_string(w.difficulty_step) +
                                    ", so the schedule would never reach it");
  }
  if (cfg.has("layer_drop")) {
    if (!text)
      cfg.fail("layer_drop",
               "progressive layer dropping needs a Transformer (task lm or classify)");
    if (c.model.norm == Norm::kPostLN)
      cfg.fail("layer_drop",
               "progressive layer dropping needs model.layout pre_ln (the paper's switchable "
               "block); post_ln is its baseline");
    const Keyed k = root.child("layer_drop");
    TrainConfig::LayerDrop& d = c.layer_drop;
    d.on = true;
    d.theta_bar = k.number("theta_bar");
    if (!(d.theta_bar > 0 && d.theta_bar <= 1))
      k.fail("theta_bar", "the keep probability's floor θ̄ must be in (0, 1], got " +
                              k.config().at("theta_bar").scalar());
    d.fixed = k.choice("schedule") == "fixed";
    if (d.fixed && k.has("gamma"))
      k.fail("gamma", "schedule fixed keeps θ(t) = θ̄ from the start; γ is not used");
    d.gamma = k.number("gamma");
    d.rescale = k.flag("rescale");
  }
  if (cfg.has("stability")) {
    const Keyed k = root.child("stability");
    TrainConfig::Stability& st = c.stability;
    st.spike_factor = k.number("spike_factor");
    st.spike_warmup = static_cast<int64_t>(k.number("spike_warmup"));
    st.divergence_loss = k.number("divergence_loss");
    st.stop_on_divergence = k.choice("on_divergence") == "stop";
  }
  if (cfg.has("trace")) {
    const Keyed k = root.child("trace");
    c.trace_step = static_cast<int64_t>(k.number("step"));
    if (c.backend == "cuda") k.fail("step", "the tensor trace needs backend cpu");
    if (c.model.norm == Norm::kPostLN)
      k.fail("step", "the tensor trace records the pre-LN layout (model.layout pre_ln)");
  }
  return c;
}

std::string format_duration(double s) {
  if (!(s >= 0) || !std::isfinite(s)) return "?";
  const auto t = static_cast<int64_t>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(t / 3600), (long long)(t / 60 % 60));
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(t / 60), (long long)(t % 60));
  else
    std::snprintf(buf, sizeof buf, "%llds", (long long)t);
  return buf;
}

double time_schedule_lr(const LrSchedule& lr, int64_t step, double time_fraction,
                        double warmup_end_fraction) {
  // Warm-up counts steps: on a slow machine a warm-up by time would be over after a
  // handful of steps.
  if (step < lr.warmup) return lr.at(step);
  const double by_steps = static_cast<double>(step - lr.warmup) /
                          static_cast<double>(std::max<int64_t>(1, lr.total - lr.warmup));
  // The decay shares out the time left when the warm-up ended, so it starts from lr
  // without a jump however long the warm-up took.
  const double left = 1.0 - warmup_end_fraction;
  const double by_time = left > 0 ? (time_fraction - warmup_end_fraction) / left : 1.0;
  return lr.decayed(std::max(by_steps, by_time));
}

double eta_seconds(double elapsed, int64_t steps_run, int64_t steps_left, double max_seconds) {
  if (steps_left <= 0) return 0;
  double eta = steps_run > 0 ? elapsed / static_cast<double>(steps_run) * steps_left
                             : std::numeric_limits<double>::infinity();
  if (max_seconds > 0) eta = std::min(eta, std::max(0.0, max_seconds - elapsed));
  return eta;
}

std::string describe_schedule(const TrainConfig& c) {
  std::ostringstream s;
  s << std::scientific << std::setprecision(2) << "schedule: lr " << c.lr.lr;
  const std::vector<int64_t> tokens = slw_warmup_tokens(c);
  if (!tokens.empty())
    s << ", linear warm-up over " << c.lr.warmup * c.batch_size * c.seq_len << " tokens ("
      << c.lr.warmup << " full-length steps; " << tokens.size()
      << " steps at the curriculum's lengths)";
  else if (c.lr.warmup > 0)
    s << ", linear warm-up over " << c.lr.warmup << " steps";
  if (c.lr.decay == LrSchedule::Decay::kConstant) {
    s << (c.lr.warmup > 0 ? ", then constant" : ", constant");
  } else {
    s << (c.lr.warmup > 0 ? ", then " : ", ")
      << (c.lr.decay == LrSchedule::Decay::kCosine ? "cosine" : "linear") << " decay to "
      << c.lr.min_lr << std::defaultfloat << std::setprecision(6) << " by step " << c.steps;
    if (c.time_schedule)
      s << " or at " << c.max_seconds << " s (time_schedule), whichever comes first";
  }
  s << std::defaultfloat << std::setprecision(6);
  if (c.max_seconds > 0) s << "; stops at " << c.max_seconds << " s (max_seconds)";
  return s.str();
}

std::string describe_methods(const TrainConfig& c) {
  std::ostringstream s;
  if (c.layer_drop.on) {
    s << "layer_drop: theta(t) = ";
    if (c.layer_drop.fixed)
      s << c.layer_drop.theta_bar << " (fixed)";
    else
      s << "(1 - " << c.layer_drop.theta_bar << ") exp(-" << c.layer_drop.gamma << " t) + "
        << c.layer_drop.theta_bar;
    s << ", block l kept with p_l = 1 - (l/" << c.model.layers << ")(1 - theta(t)), l = 1.."
      << c.model.layers << (c.layer_drop.rescale ? ", scaled 1/p_l" : ", not rescaled");
  }
  if (c.curriculum.start > 0) {
    if (c.layer_drop.on) s << "\n";
    s << "curriculum: " << c.curriculum.schedule;
    if (c.curriculum.schedule == "fixed_root")
      s << " (root degree " << c.curriculum.root_degree << ")";
    s << ", sequence length " << c.curriculum.start << " -> " << c.seq_len << " over "
      << c.curriculum.steps << " steps in multiples of " << c.curriculum.difficulty_step
      << ", batches truncated; LR warm-up counted in "
      << (c.curriculum.token_warmup ? "tokens" : "steps");
  }
  return s.str();
}

namespace {
OffloadEngineFactory& offload_factory() {
  static OffloadEngineFactory f;
  return f;
}
}  // namespace

void register_offload_engine(OffloadEngineFactory factory) {
  offload_factory() = std::move(factory);
}

Trainer::Trainer(const TrainConfig& config, std::string out_dir)
    : config_(config), out_dir_(std::move(out_dir)) {
  if (config_.threads > 0) omp_set_num_threads(config_.threads);
  if (!config_.documents.empty() && config_.task == "classify") {
    const std::vector<std::string> texts = load_documents();
    // The vocabulary: every byte of every message (as for a corpus), plus NUL, the padding
    // of messages shorter than seq_len (mail_text never yields NUL).
    std::string all(1, '\0');
    for (const auto& t : texts) all += t;
    tokenizer_ = std::make_unique<data::CharTokenizer>(data::CharTokenizer::from_text(all));
    const int32_t pad = tokenizer_->encode(std::string(1, '\0'))[0];
    // Each message is read from its start: the first seq_len characters, padded after.
    const auto seq = static_cast<std::size_t>(config_.seq_len);
    doc_tokens_.assign(texts.size() * seq, pad);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const std::vector<int32_t> ids = tokenizer_->encode(texts[i].substr(0, seq));
      std::copy(ids.begin(), ids.end(), doc_tokens_.begin() + static_cast<std::ptrdiff_t>(i * seq));
    }
    config_.model.vocab_size = tokenizer_->vocab_size();
    config_.model.max_seq = config_.seq_len;
    lm_ = std::make_unique<Transformer<float>>(config_.model);
    lm_->init(config_.seed);
  } else if (config_.task != "mnist") {
    if (!config_.documents.empty()) load_lm_documents();
    std::vector<std::string> class_texts;
    for (int k = 0; config_.task == "classify" && k < config_.classes; ++k)
      class_texts.push_back(data::synthetic_corpus(
          static_cast<std::size_t>(config_.synthetic_chars), config_.seed + 1 + k));
    std::string text;
    if (config_.task == "classify")
      for (const auto& t : class_texts) text += t;
    else if (config_.documents.empty())
      text = config_.corpus.empty()
                 ? data::synthetic_corpus(static_cast<std::size_t>(config_.synthetic_chars),
                                          config_.seed)
                 : read_corpus();
    // The vocabulary comes from the whole text (as nanoGPT's prepare.py does), so the
    // validation split cannot contain an unknown character.
    if (tokenizer_) {
      // lm on documents: tokenizer and splits are already made.
    } else if (config_.tokenizer == "char") {
      tokenizer_ = std::make_unique<data::CharTokenizer>(data::CharTokenizer::from_text(text));
    } else {
      tokenizer_ = std::make_unique<data::WordTokenizer>(
          data::WordTokenizer::from_text(text, config_.word_vocab));
    }
    if (config_.task == "classify") {
      class_tokens_.reserve(class_texts.size());
      for (const auto& t : class_texts)
        class_tokens_.push_back(data::split_tokens(tokenizer_->encode(t), config_.val_fraction));
      for (const auto& s : class_tokens_) {
        check_seq_len(s, "each class's synthetic corpus (data.synthetic_chars " +
                             std::to_string(config_.synthetic_chars) + ")");
        class_train_.push_back(std::make_unique<data::TokenSampler>(&s.train, config_.seq_len));
        class_val_.push_back(std::make_unique<data::TokenSampler>(&s.val, config_.seq_len));
      }
    } else {
      if (config_.documents.empty())
        tokens_ = data::split_tokens(tokenizer_->encode(text), config_.val_fraction);
      check_seq_len(tokens_,
                    !config_.documents.empty()
                        ? "the " + config_.documents + " archive " + absolute_path(config_.archive)
                    : config_.corpus.empty() ? "the synthetic corpus (data.synthetic_chars " +
                                                   std::to_string(config_.synthetic_chars) + ")"
                                             : "corpus " + absolute_path(config_.corpus));
      train_sampler_ = std::make_unique<data::TokenSampler>(&tokens_.train, config_.seq_len);
      val_sampler_ = std::make_unique<data::TokenSampler>(&tokens_.val, config_.seq_len);
      if (static_cast<int64_t>(test_tokens_.size()) > config_.seq_len)
        test_sampler_ = std::make_unique<data::TokenSampler>(&test_tokens_, config_.seq_len);
    }
    config_.model.vocab_size = tokenizer_->vocab_size();
    config_.model.max_seq = config_.seq_len;
    lm_ = std::make_unique<Transformer<float>>(config_.model);
    lm_->init(config_.seed);
    if (config_.backend == "cuda") {
      cuda_ = std::make_unique<CudaTransformer>(
          config_.model, static_cast<int64_t>(config_.batch_size) * config_.seq_len,
          config_.precision);
      cuda_->upload_params(lm_->params());
    }
  } else {
    mnist_ = data::load_mnist(config_.mnist_images, config_.mnist_labels);
    mnist_train_ = static_cast<int>(mnist_.count * (1.0 - config_.val_fraction));
    if (mnist_train_ < 1 || mnist_train_ >= mnist_.count)
      throw Error("train: val_fraction leaves an empty train or validation split", kExitConfig);
    config_.mlp.inputs = mnist_.rows * mnist_.cols;
    config_.mlp.classes = 10;
    mlp_ = std::make_unique<MlpClassifier<float>>(config_.mlp);
    mlp_->init(config_.seed);
  }
  if (!config_.offload.precision.empty()) {
    // The offload engine owns the fp32 master copy and the moments (CPU-Adam): no AdamW
    // state here, or the model's optimizer memory would be held twice.
    if (!offload_factory())
      throw Error("train.offload: this program has no offload engine (link tessel_nn_offload)",
                  kExitConfig);
    offload_ = offload_factory()(config_, params(), cuda_.get());
    offload_->start_timeline(config_.offload.timeline_steps);
  } else {
    adam_ = std::make_unique<AdamW>(config_.adam, static_cast<std::size_t>(params().size()));
  }
  lr_ = config_.lr;
  warmup_tokens_ = slw_warmup_tokens(config_);
  if (!warmup_tokens_.empty()) lr_.warmup = static_cast<int64_t>(warmup_tokens_.size());
}

Trainer::~Trainer() = default;

std::string Trainer::timeline_path() const {
  return (fs::path(out_dir_) / "offload_timeline.json").string();
}

// Read when the run starts (configure time may be on a machine without the data), naming
// the path tried in full and the key that gave it.
std::string Trainer::read_corpus() const {
  const std::string where = config_.corpus_source + ": ";
  const std::string tried = absolute_path(config_.corpus);
  std::error_code ec;
  if (fs::is_directory(config_.corpus, ec))
    throw IoError(where + tried + ": is a directory, expected a file");
  errno = 0;
  std::ifstream in(config_.corpus, std::ios::binary);
  if (!in) {
    std::string msg = where + "cannot open corpus file " + tried;
    if (errno) msg += std::string(" (") + std::strerror(errno) + ")";
    if (!config_.corpus_origin.empty()) msg += "; " + config_.corpus_origin;
    throw IoError(msg);
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw IoError(where + tried + ": read error");
  if (text.str().empty()) throw IoError(where + tried + ": corpus file is empty");
  return text.str();
}

std::vector<std::string> Trainer::load_documents() {
  std::vector<data::MailMessage> messages;
  try {
    messages = data::load_mail_archive(config_.archive);
  } catch (const IoError& e) {
    throw IoError(config_.archive_source + ": " + e.what());
  }
  doc_split_ = data::split_messages(messages, config_.val_fraction, config_.test_fraction,
                                    config_.split_seed);
  if (doc_split_.train.empty() || doc_split_.val.empty())
    throw ConfigError(config_.archive_source + ": " + config_.archive + " has " +
                      std::to_string(messages.size()) +
                      " messages, too few for a training and a validation split");
  split_manifest_ = data::split_manifest(messages, doc_split_);
  std::vector<std::string> texts;
  texts.reserve(messages.size());
  for (auto& m : messages) {
    doc_labels_.push_back(m.label);
    texts.push_back(std::move(m.text));
  }
  return texts;
}

void Trainer::load_lm_documents() {
  std::vector<std::string> texts = load_documents();
  doc_labels_.clear();  // a language model reads the text, not the labels
  // Each split's messages (ascending by name) joined by newlines into one text.
  auto join = [&](const std::vector<int>& which) {
    std::string out;
    for (const int i : which) {
      const std::string body = data::mail_lm_text(texts[static_cast<std::size_t>(i)]);
      if (body.empty()) continue;
      out += body;
      out += '\n';
    }
    return out;
  };
  const std::string train = join(doc_split_.train), val = join(doc_split_.val),
                    test = join(doc_split_.test);
  texts.clear();
  // Words: the vocabulary of the training split (what the validation and test splits add
  // is <unk>, as unseen mail would be). Characters: of all three, as for a corpus, since a
  // character vocabulary has no <unk>.
  if (config_.tokenizer == "word")
    tokenizer_ = std::make_unique<data::WordTokenizer>(
        data::WordTokenizer::from_text(train, config_.word_vocab));
  else
    tokenizer_ =
        std::make_unique<data::CharTokenizer>(data::CharTokenizer::from_text(train + val + test));
  tokens_.train = tokenizer_->encode(train);
  tokens_.val = tokenizer_->encode(val);
  test_tokens_ = tokenizer_->encode(test);
}

std::string Trainer::split_hash() const {
  return split_manifest_.empty() ? "" : data::fnv1a64_hex(split_manifest_);
}

double f1_score(const std::vector<int32_t>& truth, const std::vector<int32_t>& predicted,
                int32_t positive) {
  int64_t tp = 0, fp = 0, fn = 0;
  for (std::size_t i = 0; i < truth.size() && i < predicted.size(); ++i) {
    const bool t = truth[i] == positive, p = predicted[i] == positive;
    tp += t && p;
    fp += !t && p;
    fn += t && !p;
  }
  const int64_t denom = 2 * tp + fp + fn;
  return denom > 0 ? 2.0 * static_cast<double>(tp) / static_cast<double>(denom) : 0.0;
}

EvalPoint Trainer::evaluate_documents(const std::vector<int>& which) {
  EvalPoint e;
  e.step = step_;
  const auto seq = static_cast<std::ptrdiff_t>(config_.seq_len);
  std::vector<int32_t> truth, predicted;
  double loss = 0;
  for (std::size_t start = 0; start < which.size(); start += config_.batch_size) {
    const std::size_t n = std::min<std::size_t>(config_.batch_size, which.size() - start);
    data::TokenBatch b;
    b.batch = static_cast<int>(n);
    b.seq = config_.seq_len;
    for (std::size_t r = 0; r < n; ++r) {
      const int i = which[start + r];
      b.tokens.insert(b.tokens.end(), doc_tokens_.begin() + i * seq,
                      doc_tokens_.begin() + (i + 1) * seq);
      b.labels.push_back(doc_labels_[static_cast<std::size_t>(i)]);
    }
    loss += lm_->loss(b) * static_cast<double>(n);  // loss() is the mean over the rows
    for (int r = 0; r < b.batch; ++r) {
      Eigen::Index arg = 0;
      lm_->logits().row(r).maxCoeff(&arg);
      predicted.push_back(static_cast<int32_t>(arg));
      truth.push_back(b.labels[static_cast<std::size_t>(r)]);
    }
  }
  int64_t right = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) right += truth[i] == predicted[i];
  e.val_loss = loss / static_cast<double>(which.size());
  e.val_accuracy = static_cast<double>(right) / static_cast<double>(which.size());
  e.val_f1 = f1_score(truth, predicted, 1);
  return e;
}

void Trainer::check_seq_len(const data::TokenSplit& split, const std::string& source) const {
  // Every training and validation window is seq_len + 1 tokens (inputs and next tokens).
  const auto need = static_cast<std::size_t>(config_.seq_len) + 1;
  if (split.train.size() >= need && split.val.size() >= need) return;
  std::ostringstream msg;
  msg << config_.seq_len_source << ": " << config_.seq_len << " needs seq_len + 1 = " << need
      << " tokens in the training and in the validation split, but " << source << " has "
      << split.train.size() + split.val.size()
      << (config_.tokenizer == "char" ? " characters: " : " word tokens: ") << split.train.size()
      << " for training, " << split.val.size() << " for validation (data.val_fraction "
      << config_.val_fraction << ")";
  throw ConfigError(msg.str());
}

ParamStore<float>& Trainer::params() {
  return lm_ ? lm_->params() : mlp_->params();
}

double pld_theta(const TrainConfig::LayerDrop& drop, int64_t step) {
  if (drop.fixed) return drop.theta_bar;
  return (1 - drop.theta_bar) * std::exp(-drop.gamma * static_cast<double>(step)) + drop.theta_bar;
}

double pld_keep_probability(int layer, int layers, double theta) {
  return 1.0 - static_cast<double>(layer) / static_cast<double>(layers) * (1.0 - theta);
}

int slw_seq_len(const TrainConfig::Curriculum& c, int full, int64_t step) {
  // DeepSpeed's engine asks for the difficulty at global_steps + 1 before the step runs.
  const double t = static_cast<double>(step + 1) / static_cast<double>(c.steps);
  // Capped at 1 (DeepSpeed caps the length instead; the same once full is a multiple of
  // difficulty_step, which the config requires).
  const double f = std::pow(std::min(1.0, t), 1.0 / c.root_degree);
  auto s = static_cast<int64_t>(std::floor(f * (full - c.start) + c.start));
  s -= s % c.difficulty_step;
  return static_cast<int>(std::min<int64_t>(s, full));
}

std::vector<int64_t> slw_warmup_tokens(const TrainConfig& c) {
  std::vector<int64_t> through;
  if (c.curriculum.start <= 0 || !c.curriculum.token_warmup || c.lr.warmup <= 0) return through;
  const int64_t target = c.lr.warmup * c.batch_size * c.seq_len;
  for (int64_t step = 0, total = 0; total < target; ++step) {
    total += static_cast<int64_t>(c.batch_size) * slw_seq_len(c.curriculum, c.seq_len, step);
    through.push_back(total);
  }
  return through;
}

std::string method_name(const TrainConfig& c) {
  std::string pld;
  if (c.layer_drop.on) {
    // Qualifiers name what differs from the paper's method: the ablations, and a γ other
    // than DeepSpeed's default 0.001 (it only matters when θ(t) decays).
    std::vector<std::string> q;
    if (c.layer_drop.fixed) q.push_back("fixed");
    if (!c.layer_drop.rescale) q.push_back("no-rescale");
    if (!c.layer_drop.fixed && c.layer_drop.gamma != TrainConfig::LayerDrop{}.gamma) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "gamma=%g", c.layer_drop.gamma);
      q.push_back(buf);
    }
    pld = "pld";
    for (std::size_t i = 0; i < q.size(); ++i) pld += (i ? "," : "(") + q[i];
    if (!q.empty()) pld += ")";
  }
  const bool slw = c.curriculum.start > 0;
  // Post-LN cannot drop layers, so it only ever qualifies the baseline and SLW.
  if (c.model.norm == Norm::kPostLN) return slw ? "slw(post-ln)" : "baseline(post-ln)";
  if (pld.empty()) return slw ? "slw" : "baseline";
  return slw ? pld + "+slw" : pld;
}

std::vector<double> Trainer::pld_scales(int64_t step, Rng& rng, double* expected) const {
  // PLD (Zhang & He 2020): block l of L (l = 1..L) kept with p_l = 1 - (l / L)(1 - θ(t));
  // a kept block's two residual branches are scaled by 1 / p_l, so that the expected
  // output of the block equals the full model's (the paper's switchable pre-LN block).
  const int layers = config_.model.layers;
  const double theta = pld_theta(config_.layer_drop, step);
  std::vector<double> s(static_cast<std::size_t>(layers), 1.0);
  for (int l = 1; l <= layers; ++l) {
    const double p = pld_keep_probability(l, layers, theta);
    *expected += p;
    const bool keep = rng.uniform() < p;
    s[static_cast<std::size_t>(l - 1)] = !keep ? 0.0 : config_.layer_drop.rescale ? 1.0 / p : 1.0;
  }
  return s;
}

double Trainer::lr_at(int64_t step) const {
  // Token-counted warm-up (curriculum): the fraction of the warm-up's tokens trained on by
  // the end of this step, as the step-counted warm-up's (step + 1) / warmup is.
  if (step < static_cast<int64_t>(warmup_tokens_.size()))
    return lr_.lr *
           std::min(1.0, static_cast<double>(warmup_tokens_[static_cast<std::size_t>(step)]) /
                             static_cast<double>(config_.lr.warmup * config_.batch_size *
                                                 config_.seq_len));
  if (!config_.time_schedule) return lr_.at(step);
  return time_schedule_lr(lr_, step, time_fraction_, warmup_end_fraction_);
}

bool Trainer::diverges(double loss) const {
  return !std::isfinite(loss) ||
         (config_.stability.divergence_loss > 0 && loss > config_.stability.divergence_loss);
}

double Trainer::train_step(int64_t step, TensorTrace* trace) {
  // The offload engine owns the optimizer step and clips on the host after the 16-bit
  // transfer, so a hook between clipping and the update has no place to run.
  if (offload_ && (on_gradients || on_step_end || on_device_gradients || on_device_step_end))
    throw Error("train.offload: the optimizer hooks (ADMM, re-masking) need AdamW in the trainer",
                kExitFailure);
  // The batch stream depends only on (seed, step), so a resumed run sees the same batches.
  Rng rng(derive_seed(config_.seed, static_cast<uint64_t>(step)));
  ParamStore<float>& p = params();
  p.zero_grad();
  if (trace) trace->begin_step(step);
  double loss = 0;
  // A diverging loss either fails the run or (stability.on_divergence: stop) ends the
  // step before its update; true: end it.
  last_diverged_ = false;
  const auto stop_here = [&](double l) {
    if (!diverges(l)) return false;
    if (config_.stability.stop_on_divergence) return last_diverged_ = true;
    std::string msg = "train: loss is " + std::to_string(l) + " at step " + std::to_string(step);
    if (std::isfinite(l))
      msg +=
          ", above stability.divergence_loss " + std::to_string(config_.stability.divergence_loss);
    throw Error(msg + " (lower train.lr or enable grad_clip)", kExitFailure);
  };
  if (lm_) {
    data::TokenBatch batch;
    if (train_sampler_) {
      batch = train_sampler_->sample(config_.batch_size, rng);
    } else if (!doc_labels_.empty()) {
      // classify on documents: uniformly drawn training messages, their first seq_len
      // characters.
      batch.batch = config_.batch_size;
      batch.seq = config_.seq_len;
      const auto seq = static_cast<std::ptrdiff_t>(config_.seq_len);
      for (int b = 0; b < config_.batch_size; ++b) {
        const int i = doc_split_.train[rng.next_u64() % doc_split_.train.size()];
        batch.tokens.insert(batch.tokens.end(), doc_tokens_.begin() + i * seq,
                            doc_tokens_.begin() + (i + 1) * seq);
        batch.labels.push_back(doc_labels_[static_cast<std::size_t>(i)]);
      }
    } else {
      // classify: each row a window of a class drawn uniformly, labelled with the class.
      batch.batch = config_.batch_size;
      batch.seq = config_.seq_len;
      for (int b = 0; b < config_.batch_size; ++b) {
        const auto k = static_cast<std::size_t>(rng.next_u64() % class_train_.size());
        const data::TokenBatch w = class_train_[k]->sample(1, rng);
        batch.tokens.insert(batch.tokens.end(), w.tokens.begin(), w.tokens.end());
        batch.labels.push_back(static_cast<int32_t>(k));
      }
    }
    // Sequence-length warm-up: the full-length windows drawn above, truncated to their
    // first `seq` tokens (the paper's truncation; the batch stream stays the baseline's).
    int seq = config_.seq_len;
    if (seq_len_schedule)
      seq = seq_len_schedule(step);
    else if (config_.curriculum.start > 0)
      seq = slw_seq_len(config_.curriculum, config_.seq_len, step);
    if (seq < config_.seq_len) batch = batch.truncated(seq);
    last_seq_ = batch.seq;
    StepOptions o;
    o.trace = trace;
    const int layers = config_.model.layers;
    last_expected_ = 0;
    if (layer_scale_schedule) {
      o.layer_scale = layer_scale_schedule(step, rng);
    } else if (config_.layer_drop.on) {
      last_theta_ = pld_theta(config_.layer_drop, step);
      o.layer_scale = pld_scales(step, rng, &last_expected_);
    }
    // Blocks this step runs: counted by the CPU model itself (a skipped block adds
    // nothing), from the factors on the GPU.
    int64_t scheduled = layers;
    if (!o.layer_scale.empty())
      scheduled = std::count_if(o.layer_scale.begin(), o.layer_scale.end(),
                                [](double f) { return f != 0; });
    if (!config_.layer_drop.on || layer_scale_schedule)
      last_expected_ = static_cast<double>(scheduled);
    // The offload timeline's host span of the forward/backward (on cuda: its launches and
    // the wait for the loss; the GPU's own spans come from the device).
    const bool timed = offload_ && step < config_.offload.timeline_steps;
    const double started = timed ? steady_seconds() : 0;
    const auto timed_span = [&] {
      if (timed)
        offload_->add_span("host: main thread", "forward/backward " + std::to_string(step), started,
                           steady_seconds());
    };
    if (cuda_) {
      last_blocks_ = scheduled;
      cuda_->zero_grad();
      loss = cuda_->forward_backward(batch, o);
      timed_span();
      if (stop_here(loss)) return loss;
      if (offload_) {
        // ZeRO-Offload: the gradients left the device in 16 bits during backward; the
        // engine clips them and runs CPU-Adam on the host, then uploads the 16-bit copy.
        offload_->step(step, p, lr_at(step));
        return loss;
      }
      if (!config_.optimizer_on_host && !on_gradients && !on_step_end) {
        // Optimizer state on the device: clipping and AdamW never leave the GPU.
        std::function<void()> between;
        if (on_device_gradients) between = [&] { on_device_gradients(step, *cuda_); };
        const double norm = cuda_->clip_and_adamw(config_.adam, lr_at(step), adam_->steps() + 1,
                                                  config_.grad_clip, between);
        if (std::isfinite(norm)) adam_->set_steps(adam_->steps() + 1);
        if (on_device_step_end) on_device_step_end(step, *cuda_);
        return loss;
      }
      if (on_device_gradients || on_device_step_end)
        throw Error(
            "train: the device hooks need the optimizer on the device and no host hooks set",
            kExitFailure);
      // Host placement: gradients to host memory, AdamW there, parameters back.
      cuda_->download_grads(p);
    } else {
      const int64_t before = lm_->blocks_backward();
      loss = lm_->forward_backward(batch, o);
      timed_span();
      last_blocks_ = lm_->blocks_backward() - before;
    }
  } else {
    Matrix<float> x(config_.batch_size, config_.mlp.inputs);
    std::vector<int32_t> y(static_cast<std::size_t>(config_.batch_size));
    for (int r = 0; r < config_.batch_size; ++r) {
      const auto i = static_cast<std::size_t>(rng.next_u64() % static_cast<uint64_t>(mnist_train_));
      std::copy_n(mnist_.images.begin() + static_cast<std::ptrdiff_t>(i) * x.cols(), x.cols(),
                  x.row(r).data());
      y[static_cast<std::size_t>(r)] = mnist_.labels[i];
    }
    loss = mlp_->forward_backward(x, y, trace);
  }
  if (stop_here(loss)) return loss;
  // With offload the engine clips the gradients on the host, after their 16-bit transfer.
  if (!offload_) clip_grad_norm(p.grads(), config_.grad_clip);
  if (on_gradients) on_gradients(step, p);
  if (trace) {
    const int64_t bytes = p.size() * static_cast<int64_t>(sizeof(float));
    for (const char* t : {"params", "grads", "adam_m", "adam_v"}) trace->read(-1, t, bytes);
    for (const char* t : {"params", "adam_m", "adam_v"}) trace->write(-1, t, bytes);
  }
  if (offload_)
    offload_->step(step, p, lr_at(step));
  else
    adam_->step(p, lr_at(step));
  if (on_step_end) on_step_end(step, p);
  if (cuda_) cuda_->upload_params(p);
  return loss;
}

EvalPoint Trainer::evaluate() {
  EvalPoint e;
  e.step = step_;
  if (lm_ && val_sampler_) {
    double total = 0;
    for (int i = 0; i < config_.eval_batches; ++i) {
      const data::TokenBatch b = val_sampler_->fixed(config_.batch_size, i, config_.eval_batches);
      total += cuda_ ? cuda_->loss(b) : lm_->loss(b);
    }
    e.val_loss = total / config_.eval_batches;
    return e;
  }
  // classify on documents: the whole validation split.
  if (!doc_labels_.empty()) return evaluate_documents(doc_split_.val);
  if (lm_) {
    // classify: eval_batches batches cycling through the classes, each class's windows
    // evenly spaced over its validation text.
    const auto k_count = static_cast<int64_t>(class_val_.size());
    const int64_t windows =
        (static_cast<int64_t>(config_.eval_batches) * config_.batch_size + k_count - 1) / k_count;
    double loss = 0, right = 0;
    std::vector<int32_t> truth, predicted;
    for (int i = 0; i < config_.eval_batches; ++i) {
      data::TokenBatch b;
      b.batch = config_.batch_size;
      b.seq = config_.seq_len;
      for (int r = 0; r < config_.batch_size; ++r) {
        const int64_t w = static_cast<int64_t>(i) * config_.batch_size + r;
        const data::TokenBatch x =
            class_val_[static_cast<std::size_t>(w % k_count)]->fixed(1, w / k_count, windows);
        b.tokens.insert(b.tokens.end(), x.tokens.begin(), x.tokens.end());
        b.labels.push_back(static_cast<int32_t>(w % k_count));
      }
      loss += lm_->loss(b);
      for (int r = 0; r < b.batch; ++r) {
        Eigen::Index arg = 0;
        lm_->logits().row(r).maxCoeff(&arg);
        right += arg == b.labels[static_cast<std::size_t>(r)];
        truth.push_back(b.labels[static_cast<std::size_t>(r)]);
        predicted.push_back(static_cast<int32_t>(arg));
      }
    }
    e.val_loss = loss / config_.eval_batches;
    e.val_accuracy = right / (static_cast<double>(config_.eval_batches) * config_.batch_size);
    if (k_count == 2) e.val_f1 = f1_score(truth, predicted, 1);
    return e;
  }
  // The whole validation split, in batches of at most 1000 images.
  const int n_val = mnist_.count - mnist_train_, cols = mnist_.rows * mnist_.cols;
  double loss = 0, right = 0;
  for (int start = 0; start < n_val; start += 1000) {
    const int n = std::min(1000, n_val - start);
    Matrix<float> x(n, cols);
    std::copy_n(mnist_.images.begin() + static_cast<std::ptrdiff_t>(mnist_train_ + start) * cols,
                static_cast<std::ptrdiff_t>(n) * cols, x.data());
    std::vector<int32_t> y(mnist_.labels.begin() + mnist_train_ + start,
                           mnist_.labels.begin() + mnist_train_ + start + n);
    loss += mlp_->loss(x, y) * n;
    right += mlp_->accuracy(y) * n;
  }
  e.val_loss = loss / n_val;
  e.val_accuracy = right / n_val;
  return e;
}

std::string Trainer::describe_model() const {
  std::ostringstream s;
  if (lm_)
    s << (cuda_ ? std::string("cuda ") + precision_name(config_.precision) + " " : std::string())
      << "transformer L" << config_.model.layers << " C" << config_.model.width << " H"
      << config_.model.heads << " V" << config_.model.vocab_size << " T" << config_.seq_len
      << (config_.model.norm == Norm::kPostLN ? " post-LN" : "")
      << (config_.task != "classify" ? std::string()
                                     : " classifier K" + std::to_string(config_.classes));
  else
    s << "mlp " << config_.mlp.inputs << "-" << config_.mlp.hidden.size() << " hidden-"
      << config_.mlp.classes;
  return s.str();
}

void Trainer::save_checkpoint(const std::string& path) const {
  auto& self = const_cast<Trainer&>(*this);
  ParamStore<float>& p = self.params();
  if (cuda_) {
    // The device holds the current values (and the moments, unless they live on the host).
    cuda_->download_params(p);
    if (adam_ && !config_.optimizer_on_host) cuda_->download_adam(adam_->m(), adam_->v());
  }
  Checkpoint c;
  c.step = step_;
  for (const auto& i : p.infos())
    c.params.push_back({{"name", i.name}, {"rows", i.rows}, {"cols", i.cols}});
  c.meta = {{"name", config_.name},
            {"task", config_.task},
            {"model", describe_model()},
            {"seed", config_.seed},
            {"eval_log", eval_log_}};
  if (lm_) c.meta["layout"] = layout_name(config_.model.norm);
  if (tokenizer_) {
    c.meta["tokenizer"] = tokenizer_->kind();
    c.meta["vocab"] = tokenizer_->serialize();
  }
  // Counts from step 0, so that a resumed run's tokens, times, blocks, spikes and target
  // continue those of the run it resumes.
  const Totals& t = totals_;
  c.meta["totals"] = {{"tokens", t.tokens},
                      {"wall_s", t.wall_s},
                      {"cpu_s", t.cpu_s},
                      {"train_s", t.train_s},
                      {"blocks_executed", t.blocks_executed},
                      {"block_slots", t.block_slots},
                      {"blocks_expected", t.blocks_expected},
                      {"loss_min", t.loss_min},
                      {"loss_steps", t.loss_steps},
                      {"loss_spikes", t.loss_spikes},
                      {"spike_steps", t.spike_steps},
                      {"in_spike", t.in_spike},
                      {"reached_target", t.reached_target},
                      {"target",
                       {{"step", t.target.step},
                        {"val_loss", t.target.val_loss},
                        {"tokens", t.target.tokens},
                        {"wall_s", t.target.wall_s},
                        {"train_s", t.target.train_s},
                        {"cpu_s", t.target.cpu_s}}}};
  c.values = p.values();
  if (offload_) {
    offload_->save(c);
  } else {
    c.adam_steps = adam_->steps();
    c.m.assign(adam_->m(), adam_->m() + adam_->size());
    c.v.assign(adam_->v(), adam_->v() + adam_->size());
  }
  write_checkpoint(path, c);
}

void Trainer::load_checkpoint(const std::string& path) {
  const Checkpoint c = read_checkpoint(path);
  ParamStore<float>& p = params();
  if (c.params.size() != static_cast<std::size_t>(p.count()))
    throw IoError(path + ": checkpoint has " + std::to_string(c.params.size()) +
                  " parameters, the configured model has " + std::to_string(p.count()));
  for (int i = 0; i < p.count(); ++i) {
    const auto& want = p.info(i);
    const auto& got = c.params[static_cast<std::size_t>(i)];
    if (got.at("name") != want.name || got.at("rows") != want.rows || got.at("cols") != want.cols)
      throw IoError(path + ": parameter " + std::to_string(i) + " is " + got.dump() +
                    ", the configured model expects " + want.name + " [" +
                    std::to_string(want.rows) + ", " + std::to_string(want.cols) + "]");
  }
  if (lm_) {
    const std::string why = layout_mismatch(c, layout_name(config_.model.norm));
    if (!why.empty()) throw IoError(path + ": " + why);
  }
  if (tokenizer_ && (c.meta.value("tokenizer", "") != tokenizer_->kind() ||
                     c.meta.value("vocab", "") != tokenizer_->serialize()))
    throw IoError(path + ": checkpoint vocabulary differs from this corpus's");
  p.values() = c.values;
  if (offload_) {
    offload_->load(c, p);
  } else {
    std::copy(c.m.begin(), c.m.end(), adam_->m());
    std::copy(c.v.begin(), c.v.end(), adam_->v());
    adam_->set_steps(c.adam_steps);
  }
  step_ = c.step;
  eval_log_ = c.meta.value("eval_log", "");
  totals_ = Totals();
  if (c.meta.contains("totals")) {
    const nlohmann::json& j = c.meta.at("totals");
    totals_.tokens = j.value("tokens", int64_t{0});
    totals_.wall_s = j.value("wall_s", 0.0);
    totals_.cpu_s = j.value("cpu_s", 0.0);
    totals_.train_s = j.value("train_s", 0.0);
    totals_.blocks_executed = j.value("blocks_executed", int64_t{0});
    totals_.block_slots = j.value("block_slots", int64_t{0});
    totals_.blocks_expected = j.value("blocks_expected", 0.0);
    totals_.loss_min = j.value("loss_min", 0.0);
    totals_.loss_steps = j.value("loss_steps", int64_t{0});
    totals_.loss_spikes = j.value("loss_spikes", int64_t{0});
    totals_.spike_steps = j.value("spike_steps", int64_t{0});
    totals_.in_spike = j.value("in_spike", false);
    totals_.reached_target = j.value("reached_target", false);
    if (j.contains("target")) {
      const nlohmann::json& e = j.at("target");
      totals_.target.step = e.value("step", int64_t{0});
      totals_.target.val_loss = e.value("val_loss", 0.0);
      totals_.target.tokens = e.value("tokens", int64_t{0});
      totals_.target.wall_s = e.value("wall_s", 0.0);
      totals_.target.train_s = e.value("train_s", 0.0);
      totals_.target.cpu_s = e.value("cpu_s", 0.0);
    }
  }
  if (cuda_ && !offload_) {  // offload_->load uploaded the 16-bit copy itself
    cuda_->upload_params(p);
    cuda_->upload_adam(adam_->m(), adam_->v());
  }
}

bool Trainer::resume() {
  if (out_dir_.empty()) return false;
  const std::string path = (fs::path(out_dir_) / "checkpoint.bin").string();
  if (!fs::exists(path)) return false;
  load_checkpoint(path);
  return true;
}

TrainResult Trainer::run(std::ostream* progress, int64_t stop_at) {
  const auto now = [this] { return clock ? clock() : steady_seconds(); };
  if (!out_dir_.empty()) fs::create_directories(out_dir_);
  // The document split, so that a result names exactly the messages it was trained on.
  if (!out_dir_.empty() && !split_manifest_.empty())
    write_file_atomic((fs::path(out_dir_) / "split.txt").string(), split_manifest_, false);
  TrainResult r;
  r.first_step = step_;
  if (progress) {
    *progress << "train " << config_.name << ": " << describe_model() << ", " << params().size()
              << " parameters, " << omp_get_max_threads() << " threads"
              << (step_ ? ", resumed at step " + std::to_string(step_) : std::string()) << "\n"
              << describe_schedule(config_) << "\n";
    if (!config_.documents.empty() && config_.task == "lm") {
      // The mail corpus as text: its size and how much of it the vocabulary covers.
      const auto unk = std::count(tokens_.train.begin(), tokens_.train.end(), 0);
      *progress << "data: " << config_.documents << " bodies, messages " << doc_split_.train.size()
                << " train / " << doc_split_.val.size() << " val / " << doc_split_.test.size()
                << " test, tokens " << tokens_.train.size() << " / " << tokens_.val.size() << " / "
                << test_tokens_.size() << ", vocabulary " << tokenizer_->vocab_size();
      if (config_.tokenizer == "word")
        *progress << " (<unk> " << std::fixed << std::setprecision(1)
                  << 100.0 * static_cast<double>(unk) /
                         static_cast<double>(std::max<std::size_t>(1, tokens_.train.size()))
                  << "% of training tokens)" << std::defaultfloat;
      *progress << "\n";
    }
    const std::string methods = describe_methods(config_);
    if (!methods.empty()) *progress << methods << "\n";
  }
  auto write_outputs = [&](bool checkpoint) {
    if (out_dir_.empty()) return;
    if (checkpoint) save_checkpoint((fs::path(out_dir_) / "checkpoint.bin").string());
    write_file_atomic((fs::path(out_dir_) / "eval.jsonl").string(), eval_log_, false);
  };
  const double t0 = now();
  // Wall time and time in steps of the sessions before this one (a resumed run).
  const double wall_before = totals_.wall_s, train_before = totals_.train_s;
  const double cpu_before = totals_.cpu_s, cpu0 = process_cpu_seconds();
  auto do_eval = [&] {
    EvalPoint e = evaluate();
    e.tokens = totals_.tokens;
    e.wall_s = wall_before + (now() - t0);
    e.train_s = totals_.train_s;
    e.cpu_s = cpu_before + (process_cpu_seconds() - cpu0);
    r.evals.push_back(e);
    nlohmann::json j = {{"step", e.step}, {"val_loss", e.val_loss}};
    if (e.val_accuracy >= 0) j["val_accuracy"] = e.val_accuracy;
    if (e.val_f1 >= 0) j["val_f1"] = e.val_f1;
    j["tokens"] = e.tokens;
    j["wall_s"] = e.wall_s;
    j["train_s"] = e.train_s;
    j["cpu_s"] = e.cpu_s;
    if (config_.curriculum.start > 0 || seq_len_schedule) j["seq_len"] = last_seq_;
    if (config_.layer_drop.on) j["theta"] = last_theta_;
    eval_log_ += j.dump() + "\n";
    if (config_.target_loss > 0 && !totals_.reached_target && e.val_loss <= config_.target_loss) {
      totals_.reached_target = true;
      totals_.target = e;
    }
    if (on_eval) on_eval(e);
    if (progress) {
      *progress << "eval  step " << e.step << "  val_loss " << std::fixed << std::setprecision(4)
                << e.val_loss;
      if (e.val_accuracy >= 0) *progress << "  val_acc " << std::setprecision(4) << e.val_accuracy;
      if (e.val_f1 >= 0) *progress << "  val_f1 " << std::setprecision(4) << e.val_f1;
      *progress << std::defaultfloat << std::endl;
    }
  };

  double window_loss = 0;
  int window = 0;
  bool ended = false;  // by train.steps or max_seconds (not by stop_at)
  while (step_ < config_.steps) {
    const bool traced = step_ == config_.trace_step;
    const double step_start = now();
    const double loss = train_step(step_, traced ? &trace_ : nullptr);
    const double step_end = now();
    r.step_seconds += step_end - step_start;
    totals_.train_s = train_before + r.step_seconds;
    totals_.wall_s = wall_before + (step_end - t0);
    totals_.cpu_s = cpu_before + (process_cpu_seconds() - cpu0);
    if (last_diverged_) {
      // stability.on_divergence: stop. The step's update was not applied; no checkpoint
      // (a resumed run would diverge again), the evaluations so far are kept.
      r.diverged = true;
      r.diverged_step = step_ + 1;
      r.losses.push_back(loss);
      if (progress) {
        *progress << "stopping: diverged at step " << step_ + 1 << " (training loss " << loss;
        if (std::isfinite(loss))
          *progress << ", above stability.divergence_loss " << config_.stability.divergence_loss;
        *progress << ")" << std::endl;
      }
      write_outputs(false);
      ended = true;
      break;
    }
    if (traced && !out_dir_.empty()) {
      write_file_atomic((fs::path(out_dir_) / "tensor_trace.txt").string(), trace_.format_text(),
                        false);
      write_memory_trace((fs::path(out_dir_) / "tensor_trace.mtrace").string(),
                         trace_.to_memory_trace(), true);
    }
    // The step after the timeline's window has joined the window's last delayed update.
    if (offload_ && !out_dir_.empty() && step_ == config_.offload.timeline_steps && step_ > 0)
      offload_->write_timeline(timeline_path());
    ++step_;
    r.losses.push_back(loss);
    // A step at sequence length s costs batch × s tokens (examples for mnist).
    const int64_t step_tokens =
        lm_ ? static_cast<int64_t>(config_.batch_size) * last_seq_ : config_.batch_size;
    r.tokens += step_tokens;
    totals_.tokens += step_tokens;
    if (lm_) {
      totals_.blocks_executed += last_blocks_;
      totals_.block_slots += config_.model.layers;
      totals_.blocks_expected += last_expected_;
    }
    // Loss spikes: against the running minimum of the steps before this one.
    if (totals_.loss_steps >= config_.stability.spike_warmup && totals_.loss_steps > 0 &&
        loss > config_.stability.spike_factor * totals_.loss_min) {
      ++totals_.spike_steps;
      if (!totals_.in_spike) ++totals_.loss_spikes;
      totals_.in_spike = true;
    } else {
      totals_.in_spike = false;
    }
    totals_.loss_min = totals_.loss_steps == 0 ? loss : std::min(totals_.loss_min, loss);
    ++totals_.loss_steps;
    window_loss += loss;
    ++window;
    const double elapsed = step_end - t0;
    const bool out_of_time = config_.max_seconds > 0 && elapsed >= config_.max_seconds;
    if (config_.max_seconds > 0) time_fraction_ = elapsed / config_.max_seconds;
    if (step_ == lr_.warmup) warmup_end_fraction_ = time_fraction_;
    const bool last = step_ == config_.steps || out_of_time;
    ended = last;
    // Stopping at stop_at only checkpoints: the resumed run evaluates as an uninterrupted
    // one would.
    const bool stopping = step_ == stop_at;
    if (progress && (step_ % config_.log_every == 0 || last)) {
      const double tps = r.tokens / std::max(r.step_seconds, 1e-9);
      double eta =
          eta_seconds(elapsed, step_ - r.first_step, config_.steps - step_, config_.max_seconds);
      if (config_.curriculum.start > 0 && lm_ && r.tokens > 0) {
        // Under SLW the early steps are short: extrapolate by tokens, not steps, or the
        // ETA grows with the sequence length.
        int64_t left = 0;
        for (int64_t t = step_; t < config_.steps; ++t)
          left += int64_t{config_.batch_size} * slw_seq_len(config_.curriculum, config_.seq_len, t);
        eta = eta_seconds(elapsed, r.tokens, left, config_.max_seconds);
      }
      *progress << "step " << step_ << "/" << config_.steps << "  loss " << std::fixed
                << std::setprecision(4) << window_loss / window << "  lr " << std::scientific
                << std::setprecision(2) << lr_at(step_ - 1) << std::defaultfloat << "  "
                << static_cast<int64_t>(tps) << (lm_ ? " tok/s" : " ex/s") << "  ETA "
                << format_duration(eta);
      // The methods' state at this step: sequence length and PLD's keep probability θ(t).
      if (config_.curriculum.start > 0 || seq_len_schedule) *progress << "  seq " << last_seq_;
      if (config_.layer_drop.on)
        *progress << "  keep " << std::fixed << std::setprecision(3) << last_theta_
                  << std::defaultfloat;
      *progress << std::endl;
      window_loss = 0;
      window = 0;
    }
    const bool eval_now = step_ % config_.eval_every == 0 || last;
    if (eval_now) do_eval();
    const bool ckpt =
        last || stopping || (config_.checkpoint_every > 0 && step_ % config_.checkpoint_every == 0);
    if (eval_now || ckpt) write_outputs(ckpt);
    if (stopping) break;
    if (out_of_time) {
      if (progress)
        *progress << "stopping: train.max_seconds " << config_.max_seconds << " reached\n";
      break;
    }
  }
  // Documents: the held-out test split, once, after training.
  if (!doc_labels_.empty() && !doc_split_.test.empty() && ended && !r.diverged) {
    const EvalPoint t = evaluate_documents(doc_split_.test);
    r.test_accuracy = t.val_accuracy;
    r.test_f1 = t.val_f1;
    if (progress)
      *progress << "test  " << doc_split_.test.size() << " messages  loss " << std::fixed
                << std::setprecision(4) << t.val_loss << "  acc " << t.val_accuracy << "  f1 "
                << t.val_f1 << std::defaultfloat << std::endl;
  }
  // With backend cuda the device holds the weights: params() holds them too after a run
  // (and the test loss below runs on the host model).
  if (cuda_) cuda_->download_params(params());
  if (test_sampler_ && ended && !r.diverged) {
    double total = 0;
    for (int i = 0; i < config_.eval_batches; ++i)
      total += lm_->loss(test_sampler_->fixed(config_.batch_size, i, config_.eval_batches));
    r.test_loss = total / config_.eval_batches;
    if (progress)
      *progress << "test  " << doc_split_.test.size() << " messages  loss " << std::fixed
                << std::setprecision(4) << r.test_loss << std::defaultfloat << std::endl;
  }
  // A run that ended inside the offload timeline's window writes what it recorded.
  if (offload_ && !out_dir_.empty() && config_.offload.timeline_steps > 0 &&
      step_ <= config_.offload.timeline_steps) {
    offload_->wait();
    offload_->write_timeline(timeline_path());
  }
  r.train_seconds = now() - t0;
  r.steps = step_;
  r.tokens_total = totals_.tokens;
  r.wall_total_s = totals_.wall_s;
  r.cpu_total_s = totals_.cpu_s;
  r.blocks_executed = totals_.blocks_executed;
  r.block_slots = totals_.block_slots;
  r.blocks_expected = totals_.blocks_expected;
  r.loss_spikes = totals_.loss_spikes;
  r.spike_steps = totals_.spike_steps;
  r.reached_target = totals_.reached_target;
  r.target = totals_.target;
  if (!out_dir_.empty()) {
    nlohmann::json s = {{"name", config_.name},
                        {"model", describe_model()},
                        {"method", method_name(config_)},
                        {"parameters", params().size()},
                        {"threads", omp_get_max_threads()},
                        {"first_step", r.first_step},
                        {"steps", r.steps},
                        {"train_seconds", r.train_seconds},
                        {"step_seconds", r.step_seconds},
                        {"tokens_per_second", r.tokens_per_second()},
                        {"tokens_total", r.tokens_total},
                        {"loss_spikes", r.loss_spikes},
                        {"spike_steps", r.spike_steps},
                        {"diverged", r.diverged},
                        {"final_train_loss", r.losses.empty() ? 0.0 : r.losses.back()}};
    if (r.diverged) s["diverged_step"] = r.diverged_step;
    if (r.block_slots > 0) {
      s["blocks_executed_fraction"] =
          static_cast<double>(r.blocks_executed) / static_cast<double>(r.block_slots);
      s["blocks_expected_fraction"] = r.blocks_expected / static_cast<double>(r.block_slots);
    }
    if (config_.target_loss > 0) {
      s["target_loss"] = config_.target_loss;
      s["reached_target"] = r.reached_target;
      if (r.reached_target)
        s["target"] = {{"step", r.target.step},     {"tokens", r.target.tokens},
                       {"wall_s", r.target.wall_s}, {"train_s", r.target.train_s},
                       {"cpu_s", r.target.cpu_s},   {"val_loss", r.target.val_loss}};
    }
    if (!r.evals.empty()) s["final_val_loss"] = r.evals.back().val_loss;
    if (!r.evals.empty() && r.evals.back().val_accuracy >= 0)
      s["final_val_accuracy"] = r.evals.back().val_accuracy;
    if (!r.evals.empty() && r.evals.back().val_f1 >= 0) s["final_val_f1"] = r.evals.back().val_f1;
    if (r.test_accuracy >= 0) {
      s["test_accuracy"] = r.test_accuracy;
      s["test_f1"] = r.test_f1;
    }
    if (r.test_loss >= 0) s["test_loss"] = r.test_loss;
    if (!split_manifest_.empty()) {
      s["split_hash"] = split_hash();
      s["split"] = {{"train", doc_split_.train.size()},
                    {"val", doc_split_.val.size()},
                    {"test", doc_split_.test.size()},
                    {"seed", config_.split_seed},
                    {"md5_duplicate_groups", doc_split_.md5_duplicate_groups},
                    {"text_duplicate_groups", doc_split_.text_duplicate_groups},
                    {"text_duplicate_messages", doc_split_.text_duplicate_messages}};
    }
    write_file_atomic((fs::path(out_dir_) / "summary.json").string(), s.dump(2) + "\n", false);
  }
  return r;
}

}  // namespace tessel::nn
