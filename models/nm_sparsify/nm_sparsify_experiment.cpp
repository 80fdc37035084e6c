// NxMTransformer runs as registered experiments (nm_sparsify.admm, nm_sparsify.asp, and
// nm_sparsify.dense, the same fine-tuning without sparsification, the upper reference): a
// training file (configs/README.md, "Training") with a `sparsify:` section is the workload,
// the host is the hardware. The point's folder receives the trainer's files, admm.jsonl
// (one residual record per Z/U update) and masks/<parameter>.mask (the final masks in the
// models/sparse mask-file format, out x K), weights/<parameter>.npy (the final sparsified
// weights, float32 out x K) and admm_state.bin (the sparsifier's state at the last
// checkpoint, so that an interrupted point resumes exactly).
#include <filesystem>
#include <memory>
#include <string>

#include "models/common/npy.h"
#include "models/nm_sparsify/nm_sparsify.h"
#include "models/nn/checkpoint.h"
#include "models/nn/train_report.h"
#include "models/sparse/mask_io.h"
#include "runtime/core/atomic_file.h"
#include "runtime/core/cpu_time.h"
#include "runtime/core/experiment.h"
#include "runtime/core/registry.h"

namespace tessel::nm_sparsify {
namespace {

namespace fs = std::filesystem;

// The sparsifier's resumption state, beside the trainer's checkpoint.bin.
constexpr const char* kStateFile = "admm_state.bin";

// hw: the host (only `description`); workload: a training file plus `sparsify:`.
const ModelKeys& sparsify_model_keys() {
  static const ModelKeys keys = [] {
    ModelKeys m("nm_sparsify");
    m.hw.text("description", "free text (the hardware is the host, recorded in the labels)")
        .opt("none");
    m.workload.include("", nn::training_keys(),
                       "a training file: every key of `tessel train` (Training, above)");
    m.workload.section("sparsify",
                       "what to sparsify and how (required; docs/nxm_transformer.md): the "
                       "method is the model's, admm or asp");
    m.workload.include("sparsify", sparsify_keys());
    return m;
  }();
  return keys;
}

// nm_sparsify.dense reads only the starting weights: a pattern or an ADMM schedule in its
// workload would be one it does not apply.
const ModelKeys& dense_model_keys() {
  static const ModelKeys keys = [] {
    ModelKeys m("nm_sparsify.dense");
    m.hw.text("description", "free text (the hardware is the host, recorded in the labels)")
        .opt("none");
    m.workload.include("", nn::training_keys(),
                       "a training file: every key of `tessel train` (Training, above)");
    m.workload.section("sparsify", "only `init`: nm_sparsify.dense sparsifies nothing (required)");
    m.workload.file("sparsify.init", "the dense checkpoint to fine-tune from");
    return m;
  }();
  return keys;
}

class NmSparsifyExperiment : public Experiment {
 public:
  explicit NmSparsifyExperiment(Method method) : method_(method) {}

  const ModelKeys& keys() const override { return sparsify_model_keys(); }

  void configure(const Config&, const Config& workload) override {
    if (!workload.has("sparsify"))
      workload.fail("sparsify", "needs a sparsify: section (pattern, params, admm, distill)");
    sparsify_ = SparsifyConfig::from_config(workload.child("sparsify"), method_, true);
    train_ = nn::TrainConfig::from_experiment_workload(workload, keys().workload);
    if (train_.task == "mnist") workload.fail("task", "nm_sparsify needs task lm or classify");
    if (sparsify_.dense_steps > train_.steps)
      workload.child("sparsify")
          .fail("dense_steps", std::to_string(sparsify_.dense_steps) +
                                   " dense steps exceed train.steps " +
                                   std::to_string(train_.steps));
    if (method_ == Method::kAdmm && sparsify_.dense_steps + sparsify_.admm_steps > train_.steps)
      workload.child("sparsify")
          .child("admm")
          .fail("steps",
                std::to_string(sparsify_.admm_steps) + " ADMM steps" +
                    (sparsify_.dense_steps
                         ? " after " + std::to_string(sparsify_.dense_steps) + " dense steps"
                         : std::string()) +
                    " exceed train.steps " + std::to_string(train_.steps));
  }

  bool uses_energy_table() const override { return false; }

  SimResult run(RunContext& ctx) override {
    train_.seed = ctx.seed;
    const double cpu0 = process_cpu_seconds();
    nn::Trainer trainer(train_, ctx.artifact_dir);
    nn::ParamStore<float>& params = trainer.params();
    // Everything that can be wrong with the inputs is found before anything is written.
    NmSparsifier s(sparsify_, params);
    if (!sparsify_.init.empty())
      params.values() =
          read_weights(params, train_.model.norm, sparsify_.init, sparsify_.init_source);
    // The teacher is fixed now, from the starting weights unless a file names it, so that a
    // resumed run (whose params are the checkpoint's) distils from the same dense model.
    if (sparsify_.distill)
      s.set_teacher(sparsify_.teacher.empty()
                        ? params.values()
                        : read_weights(params, train_.model.norm, sparsify_.teacher,
                                       sparsify_.teacher_source));
    // A checkpoint in the point's folder with the ADMM state of the same step is an
    // interrupted run of this point: both are restored. Without that state (a checkpoint
    // of an older build) the point starts over.
    const fs::path dir(ctx.artifact_dir);
    const std::string state = ctx.artifact_dir.empty() ? "" : (dir / kStateFile).string();
    bool resumed = false;
    if (!state.empty() && fs::exists(dir / "checkpoint.bin")) {
      const int64_t step = nn::read_checkpoint((dir / "checkpoint.bin").string()).step;
      if (s.load_state(state, step))
        resumed = trainer.resume();
      else if (ctx.log)
        *ctx.log << "checkpoint.bin (step " << step << ") has no " << kStateFile
                 << " of that step: starting over\n";
    }
    s.set_state_file(state);
    s.attach(trainer);
    const nn::TrainResult t = trainer.run(ctx.log);
    // A run stopped early (train.max_seconds) checkpointed at a step the hooks did not see.
    if (!state.empty() && t.steps < train_.steps) s.save_state(state, t.steps);

    SimResult r;
    nn::report_training(trainer, t, resumed, cpu0, ctx.artifact_dir, r);
    if (!s.records().empty()) {
      const AdmmRecord& last = s.records().back();
      r.metrics["admm_updates"] = static_cast<double>(s.records().size());
      r.metrics["primal_final"] = last.primal;
      r.metrics["primal_rel_final"] = last.weight_norm > 0 ? last.primal / last.weight_norm : 0;
      r.metrics["dual_final"] = last.dual;
      r.metrics["rho_final"] = last.rho;
    }
    // The sparsified weights satisfy the pattern (models/sparse's checker).
    Check feasible;
    feasible.name = "nm_pattern";
    feasible.passed = true;
    int64_t total = 0, zeros = 0;
    for (const Target& target : s.targets()) {
      const sparse::Violation v = check(params, target, sparsify_.pattern);
      if (!v.ok && feasible.passed) {
        feasible.passed = false;
        feasible.detail = target.name + ": " + v.str(sparsify_.pattern);
      }
      const auto w = params.value(target.param);
      total += w.size();
      zeros += (w.array() == 0.0f).count();
    }
    // A run stopped early (train.max_seconds) before the hard projection has no N:M weights
    // yet (they may pass the checker by chance in the ADMM phase, still not be final).
    if (!s.pruned()) {
      feasible.passed = false;
      feasible.detail = "the run stopped after step " + std::to_string(t.steps) +
                        ", before the hard projection; resume it to finish";
    }
    r.checks.push_back(feasible);
    r.metrics["sparsified_params"] = static_cast<double>(total);
    r.metrics["zero_fraction"] = total ? static_cast<double>(zeros) / total : 0;
    r.labels["method"] = method_ == Method::kAdmm ? "admm" : "asp";
    r.labels["pattern"] = sparsify_.pattern.str();
    r.labels["distill"] = sparsify_.distill ? "yes" : "no";
    r.metrics["dense_steps"] = static_cast<double>(sparsify_.dense_steps);
    if (!ctx.artifact_dir.empty()) {
      if (method_ == Method::kAdmm) {
        write_file_atomic((dir / "admm.jsonl").string(), records_jsonl(s.records()), false);
        r.artifacts["admm"] = "admm.jsonl";
      }
      if (fs::exists(state)) r.artifacts["admm_state"] = kStateFile;
    }
    // Masks and weights exist once pruned (always, unless the run stopped early).
    if (!ctx.artifact_dir.empty() && s.pruned()) {
      fs::create_directories(dir / "masks");
      for (std::size_t j = 0; j < s.targets().size(); ++j) {
        const std::string name = "masks/" + s.targets()[j].name + ".mask";
        sparse::save_mask((dir / name).string(), s.sparse_mask(j), sparsify_.pattern);
        r.artifacts["mask:" + s.targets()[j].name] = name;
      }
      // The final sparsified weights, out x K like the masks, for the hardware loop.
      fs::create_directories(dir / "weights");
      for (const Target& target : s.targets()) {
        const std::string name = "weights/" + target.name + ".npy";
        NpyArray a;
        a.shape = {target.out, target.k};
        const sparse::MatrixF w = to_sparse_layout(params.value(target.param).data(), target);
        a.data.assign(w.data(), w.data() + w.size());
        write_npy((dir / name).string(), a);
        r.artifacts["weights:" + target.name] = name;
      }
    }
    return r;
  }

 private:
  Method method_;
  SparsifyConfig sparsify_;
  nn::TrainConfig train_;
};

// The dense upper reference of a study: the same training run from the same starting
// weights (sparsify.init), nothing sparsified. Reads only sparsify.init, so that a study's
// dense point cannot silently carry a pattern or an ADMM schedule it does not apply.
class DenseFinetuneExperiment : public Experiment {
 public:
  const ModelKeys& keys() const override { return dense_model_keys(); }

  void configure(const Config&, const Config& workload) override {
    if (!workload.has("sparsify"))
      workload.fail("sparsify", "needs a sparsify: section with init (the dense checkpoint)");
    const Keyed s = Keyed(keys().workload, workload).child("sparsify");
    init_ = s.path("init");
    init_source_ = s.config().at("init").location().str() + ": " + s.config().at("init").key_path();
    train_ = nn::TrainConfig::from_experiment_workload(workload, keys().workload);
    if (train_.task == "mnist") workload.fail("task", "nm_sparsify needs task lm or classify");
  }

  bool uses_energy_table() const override { return false; }

  SimResult run(RunContext& ctx) override {
    train_.seed = ctx.seed;
    const double cpu0 = process_cpu_seconds();
    nn::Trainer trainer(train_, ctx.artifact_dir);
    // A checkpoint in the point's folder is an interrupted run of this point; otherwise the
    // run starts from the dense checkpoint.
    const bool resumed = trainer.resume();
    if (!resumed)
      trainer.params().values() =
          read_weights(trainer.params(), train_.model.norm, init_, init_source_);
    const nn::TrainResult t = trainer.run(ctx.log);
    SimResult r;
    nn::report_training(trainer, t, resumed, cpu0, ctx.artifact_dir, r);
    r.labels["method"] = "dense";
    r.labels["pattern"] = "dense";
    r.labels["distill"] = "no";
    return r;
  }

 private:
  std::string init_, init_source_;
  nn::TrainConfig train_;
};

struct AdmmExperiment : NmSparsifyExperiment {
  AdmmExperiment() : NmSparsifyExperiment(Method::kAdmm) {}
};
struct AspExperiment : NmSparsifyExperiment {
  AspExperiment() : NmSparsifyExperiment(Method::kAsp) {}
};

}  // namespace
}  // namespace tessel::nm_sparsify

TESSEL_REGISTER_MODEL("nm_sparsify.admm", tessel::nm_sparsify::AdmmExperiment,
                      "N:M sparsification of a Transformer by ADMM, then masked fine-tuning "
                      "(NxMTransformer, models/nm_sparsify)");
TESSEL_REGISTER_MODEL("nm_sparsify.asp", tessel::nm_sparsify::AspExperiment,
                      "N:M one-shot magnitude pruning + masked fine-tuning, the ASP baseline "
                      "(models/nm_sparsify)");
TESSEL_REGISTER_MODEL("nm_sparsify.dense", tessel::nm_sparsify::DenseFinetuneExperiment,
                      "the dense fine-tuning a sparsification study compares with: the same "
                      "run from sparsify.init, nothing pruned (models/nm_sparsify)");
