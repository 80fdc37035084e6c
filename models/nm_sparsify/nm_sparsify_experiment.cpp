// NxMTransformer runs as registered experiments (nm_sparsify.admm, nm_sparsify.asp): a
// training file (configs/README.md, "Training") with a `sparsify:` section is the workload,
// the host is the hardware. The point's folder receives the trainer's files, admm.jsonl
// (one residual record per Z/U update) and masks/<parameter>.mask (the final masks in the
// models/sparse mask-file format, out x K).
#include <filesystem>
#include <memory>
#include <string>

#include "models/nm_sparsify/nm_sparsify.h"
#include "models/sparse/mask_io.h"
#include "runtime/core/atomic_file.h"
#include "runtime/core/experiment.h"
#include "runtime/core/registry.h"

namespace tessel::nm_sparsify {
namespace {

namespace fs = std::filesystem;

class NmSparsifyExperiment : public Experiment {
 public:
  explicit NmSparsifyExperiment(Method method) : method_(method) {}

  void configure(const Config& hw, const Config& workload) override {
    hw.get<std::string>("description", "");
    if (workload.has("seed"))
      workload.fail("seed",
                    "a run's seed is the experiment's `seed:` (a sweep sets it per point); move "
                    "it there");
    if (!workload.has("sparsify"))
      workload.fail("sparsify", "needs a sparsify: section (pattern, params, admm, distill)");
    // Read first, so that the training file's own check of unused keys sees it as used.
    sparsify_ = SparsifyConfig::from_config(workload.child("sparsify"), method_, true);
    train_ = nn::TrainConfig::from_config(workload);
    if (train_.task == "mnist") workload.fail("task", "nm_sparsify needs task lm or classify");
    if (train_.backend != "cpu")
      workload.child("train").fail("backend", "nm_sparsify runs on backend cpu only so far");
    if (method_ == Method::kAdmm && sparsify_.admm_steps > train_.steps)
      workload.child("sparsify")
          .child("admm")
          .fail("steps", std::to_string(sparsify_.admm_steps) + " ADMM steps exceed train.steps " +
                             std::to_string(train_.steps));
  }

  bool uses_energy_table() const override { return false; }

  SimResult run(RunContext& ctx) override {
    train_.seed = ctx.seed;
    nn::Trainer trainer(train_, ctx.artifact_dir);
    nn::ParamStore<float>& params = trainer.params();
    // Everything that can be wrong with the inputs is found before anything is written.
    NmSparsifier s(sparsify_, params);
    if (!sparsify_.init.empty())
      params.values() = read_weights(params, sparsify_.init, sparsify_.init_source);
    if (sparsify_.distill && !sparsify_.teacher.empty())
      s.set_teacher(read_weights(params, sparsify_.teacher, sparsify_.teacher_source));
    s.attach(trainer);
    const nn::TrainResult t = trainer.run(ctx.log);

    SimResult r;
    r.metrics["steps"] = static_cast<double>(t.steps);
    r.metrics["wall_s"] = t.train_seconds;
    r.metrics["tokens_per_s"] = t.tokens_per_second();
    if (!t.losses.empty()) r.metrics["train_loss"] = t.losses.back();
    if (!t.evals.empty()) {
      r.metrics["val_loss"] = t.evals.back().val_loss;
      if (t.evals.back().val_accuracy >= 0) r.metrics["val_accuracy"] = t.evals.back().val_accuracy;
    }
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
    r.checks.push_back(feasible);
    r.metrics["sparsified_params"] = static_cast<double>(total);
    r.metrics["zero_fraction"] = total ? static_cast<double>(zeros) / total : 0;
    r.labels["method"] = method_ == Method::kAdmm ? "admm" : "asp";
    r.labels["pattern"] = sparsify_.pattern.str();
    r.labels["distill"] = sparsify_.distill ? "yes" : "no";
    r.labels["task"] = train_.task;
    r.labels["train_time"] = nn::format_duration(t.train_seconds);
    if (!ctx.artifact_dir.empty()) {
      const fs::path dir(ctx.artifact_dir);
      if (method_ == Method::kAdmm) {
        write_file_atomic((dir / "admm.jsonl").string(), records_jsonl(s.records()), false);
        r.artifacts["admm"] = "admm.jsonl";
      }
      fs::create_directories(dir / "masks");
      for (std::size_t j = 0; j < s.targets().size(); ++j) {
        const std::string name = "masks/" + s.targets()[j].name + ".mask";
        sparse::save_mask((dir / name).string(), s.sparse_mask(j), sparsify_.pattern);
        r.artifacts["mask:" + s.targets()[j].name] = name;
      }
      for (const char* name : {"eval.jsonl", "summary.json", "checkpoint.bin"})
        if (fs::exists(dir / name)) r.artifacts[fs::path(name).stem().string()] = name;
    }
    return r;
  }

 private:
  Method method_;
  SparsifyConfig sparsify_;
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
