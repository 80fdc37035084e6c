// Training runs as registered experiments (train.transformer, train.mlp): the sweep engine,
// `tessel run` and the `tessel train` front end all reach the Trainer through these.
#include <sys/resource.h>

#include <filesystem>
#include <memory>
#include <string>

#include "models/nn/trainer.h"
#include "runtime/core/experiment.h"
#include "runtime/core/registry.h"

namespace tessel::nn {
namespace {

namespace fs = std::filesystem;

double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// hw: {model: train.transformer | train.mlp} (the host is recorded, not configured);
// workload: a training file's content without `seed` (configs/README.md, "Training").
class TrainExperiment : public Experiment {
 public:
  explicit TrainExperiment(bool mlp) : mlp_(mlp) {}

  void configure(const Config& hw, const Config& workload) override {
    hw.get<std::string>("description", "");
    // One seed per point: the experiment's (a sweep derives or sweeps it). A second one in
    // the workload would be silently overridden, so it is an error.
    if (workload.has("seed"))
      workload.fail("seed",
                    "a run's seed is the experiment's `seed:` (a sweep sets it per point); move "
                    "it there");
    config_ = TrainConfig::from_config(workload);
    if (mlp_ != (config_.task == "mnist"))
      workload.fail("task", std::string("model ") + (mlp_ ? "train.mlp" : "train.transformer") +
                                " trains task " + (mlp_ ? "mnist" : "lm or classify") + ", got '" +
                                config_.task + "' (use " +
                                (mlp_ ? "train.transformer" : "train.mlp") + ")");
  }

  bool uses_energy_table() const override { return false; }

  SimResult run(RunContext& ctx) override {
    config_.seed = ctx.seed;
    const double cpu0 = process_cpu_seconds();
    Trainer trainer(config_, ctx.artifact_dir);
    // A checkpoint in the point's folder is an interrupted run of this same point.
    const bool resumed = trainer.resume();
    const TrainResult t = trainer.run(ctx.log);

    SimResult r;
    r.metrics["steps"] = static_cast<double>(t.steps);
    r.metrics["tokens"] = static_cast<double>(t.tokens);
    r.metrics["wall_s"] = t.train_seconds;
    r.metrics["cpu_s"] = process_cpu_seconds() - cpu0;
    r.metrics[mlp_ ? "examples_per_s" : "tokens_per_s"] = t.tokens_per_second();
    r.metrics["parameters"] = static_cast<double>(trainer.params().size());
    if (!t.losses.empty()) r.metrics["train_loss"] = t.losses.back();
    if (!t.evals.empty()) {
      r.metrics["val_loss"] = t.evals.back().val_loss;
      if (t.evals.back().val_accuracy >= 0) r.metrics["val_accuracy"] = t.evals.back().val_accuracy;
      if (t.evals.back().val_f1 >= 0) r.metrics["val_f1"] = t.evals.back().val_f1;
    }
    if (t.test_accuracy >= 0) {
      r.metrics["test_accuracy"] = t.test_accuracy;
      r.metrics["test_f1"] = t.test_f1;
    }
    if (trainer.document_split()) r.labels["split_hash"] = trainer.split_hash();
    if (resumed) r.metrics["resumed_from_step"] = static_cast<double>(t.first_step);
    r.labels["train_time"] = format_duration(t.train_seconds);
    r.labels["backend"] = config_.backend;
    r.labels["task"] = config_.task;
    if (!ctx.artifact_dir.empty())
      for (const char* name : {"eval.jsonl", "summary.json", "checkpoint.bin", "split.txt"})
        if (fs::exists(fs::path(ctx.artifact_dir) / name))
          r.artifacts[fs::path(name).stem().string()] = name;
    return r;
  }

 private:
  bool mlp_;
  TrainConfig config_;
};

struct TrainTransformer : TrainExperiment {
  TrainTransformer() : TrainExperiment(false) {}
};
struct TrainMlp : TrainExperiment {
  TrainMlp() : TrainExperiment(true) {}
};

}  // namespace
}  // namespace tessel::nn

TESSEL_REGISTER_MODEL("train.transformer", tessel::nn::TrainTransformer,
                      "Train a Transformer LM or classifier on the host (models/nn)");
TESSEL_REGISTER_MODEL("train.mlp", tessel::nn::TrainMlp,
                      "Train an MLP on MNIST on the host (models/nn)");
