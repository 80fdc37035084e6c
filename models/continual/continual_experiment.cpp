// The `continual` experiment: one continual-learning run (method, EM size, Carousel Memory
// on or off) on a class-incremental stream; accuracy, forgetting, timing and swap metrics.
#include <filesystem>

#include "models/continual/continual_io.h"
#include "runtime/core/experiment.h"
#include "runtime/core/registry.h"

namespace tessel::continual {
namespace {

const ModelKeys& continual_model_keys() {
  static const ModelKeys keys = [] {
    ModelKeys m("continual");
    m.hw.text("description", "free text (the hardware is the host)").opt("none");
    m.workload.include("", continual_workload_keys());
    return m;
  }();
  return keys;
}

class ContinualExperiment : public Experiment {
 public:
  const ModelKeys& keys() const override { return continual_model_keys(); }
  void configure(const Config&, const Config& workload) override {
    w_ = read_continual_workload(workload);
  }
  bool uses_energy_table() const override { return false; }
  SimResult run(RunContext& ctx) override {
    // The point's folder holds the store and the accuracy file; the runner leaves it to us.
    if (!ctx.artifact_dir.empty()) std::filesystem::create_directories(ctx.artifact_dir);
    const TaskStream stream = load_stream(w_);
    ContinualConfig c = w_.config;
    c.carm.store_path = resolve_store_path(w_, ctx.artifact_dir);
    const ContinualResult r = run_continual(stream, c, ctx.seed, ctx.log);
    SimResult out;
    report_continual(r, w_, ctx.artifact_dir, out);
    return out;
  }

 private:
  ContinualWorkload w_;
};

}  // namespace
}  // namespace tessel::continual

TESSEL_REGISTER_MODEL("continual", tessel::continual::ContinualExperiment,
                      "Class-incremental learning (ER, DER++, GDumb...) with Carousel Memory");
