// Training runs as registered experiments (train.transformer, train.mlp): the sweep engine,
// `tessel run` and the `tessel train` front end all reach the Trainer through these.
#include <memory>
#include <string>

#include "models/nn/train_report.h"
#include "models/nn/trainer.h"
#include "runtime/core/cpu_time.h"
#include "runtime/core/experiment.h"
#include "runtime/core/registry.h"

namespace tessel::nn {
namespace {

// hw: {model: train.transformer | train.mlp} (the host is recorded, not configured);
// workload: a training file's content without `seed` (configs/README.md, "Training").
const ModelKeys& train_model_keys() {
  static const ModelKeys keys = [] {
    ModelKeys m("train");
    m.hw.text("description", "free text (the hardware is the host, recorded in the labels)")
        .opt("none");
    m.workload.include("", training_keys());
    return m;
  }();
  return keys;
}

class TrainExperiment : public Experiment {
 public:
  explicit TrainExperiment(bool mlp) : mlp_(mlp) {}

  const ModelKeys& keys() const override { return train_model_keys(); }

  void configure(const Config&, const Config& workload) override {
    config_ = TrainConfig::from_experiment_workload(workload);
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
    report_training(trainer, t, resumed, cpu0, ctx.artifact_dir, r);
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
