// The analytical twin registered as model "nm_unit_analytical".
#include "runtime/core/registry.h"
#include "sim/nm_unit/nm_unit_analytical.h"

namespace tessel::nm_unit {
namespace {

class NmUnitAnalytical : public Experiment {
 public:
  const ModelKeys& keys() const override { return model_keys(); }
  void configure(const Config& hw, const Config& workload) override {
    params_ = read_params(hw);
    // The closed form has a link's constant bandwidth and latency; a memory's row hits,
    // conflicts, refresh and read/write turnarounds need the cycle-level model.
    if (params_.offchip_memory)
      hw.fail("memory",
              "nm_unit_analytical models the off-chip link only; run model 'nm_unit' to "
              "simulate a memory, or set memory: link");
    workload_ = read_workload(workload);
    map_ = map_workload(params_, workload_, &hw, &workload);
    workload_.functional = false;  // closed-form model: timing and activity only
    check_size(workload, params_, workload_, map_, /*simulated=*/false);
  }

  SimResult run(RunContext& ctx) override {
    auto steps = schedule(params_, workload_, map_);
    count_activity(params_, map_, steps, ctx.counters);
    SimResult r;
    r.cycles = pipeline_cycles(params_, map_, steps);
    r.clock_ghz = params_.clock_ghz;
    add_metrics(params_, workload_, map_, steps, r);
    return r;
  }

 private:
  NmUnitParams params_;
  NmUnitWorkload workload_;
  Mapping map_;
};

}  // namespace

TESSEL_REGISTER_MODEL("nm_unit_analytical", NmUnitAnalytical,
                      "closed-form twin of nm_unit (same hw/workload keys; timing and energy)");

}  // namespace tessel::nm_unit
