// The analytical twin registered as model "mac_array_analytical".
#include "runtime/core/registry.h"
#include "sim/mac_array/mac_array_analytical.h"

namespace tessel::mac_array {
namespace {

class MacArrayAnalytical : public Experiment {
 public:
  const ModelKeys& keys() const override { return model_keys(); }
  void configure(const Config& hw, const Config& workload) override {
    params_ = read_params(hw);
    if (params_.offchip_memory)
      hw.fail("memory",
              "mac_array_analytical models the off-chip link only (bandwidth and "
              "latency of `offchip:`); run model mac_array for a simulated memory, "
              "or set `memory: link`");
    workload_ = read_workload(workload);
    workload_.functional = false;  // closed-form model: timing and activity only
    check_size(workload, params_, workload_, /*simulated=*/false);
  }

  SimResult run(RunContext& ctx) override {
    auto chunks = schedule(params_, workload_);
    count_activity(params_, chunks, ctx.counters);
    SimResult r;
    r.cycles = pipeline_cycles(params_, chunks);
    r.clock_ghz = params_.clock_ghz;
    double macs = static_cast<double>(workload_.m) * workload_.n * workload_.k;
    r.metrics["utilization"] = macs / (static_cast<double>(params_.rows * params_.cols) * r.cycles);
    r.metrics["gflops"] = 2 * macs * params_.clock_ghz / static_cast<double>(r.cycles);
    return r;
  }

 private:
  MacArrayParams params_;
  GemmWorkload workload_;
};

}  // namespace

TESSEL_REGISTER_MODEL("mac_array_analytical", MacArrayAnalytical,
                      "closed-form twin of mac_array (same hw/workload keys; timing and energy)");

}  // namespace tessel::mac_array
