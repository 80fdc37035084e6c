// The analytical twin registered as model "lstm_sharp_analytical".
#include "runtime/core/registry.h"
#include "sim/lstm_sharp/analytical.h"
#include "sim/lstm_sharp/workload_plan.h"

namespace tessel::lstm_sharp {
namespace {

class LstmSharpAnalytical : public Experiment {
 public:
  void configure(const Config& hw, const Config& workload) override {
    machine_ = read_machine(hw);
    workload_ = read_lstm_workload(workload);
  }

  SimResult run(RunContext& ctx) override {
    auto passes = plan_workload(machine_, workload_);
    SimResult r;
    for (const auto& p : passes)
      r.cycles += analytical_layer_cycles(machine_, p.plan, workload_.seq_len);
    r.clock_ghz = machine_.clock_ghz;
    analytical_activity(machine_, workload_, passes, ctx.counters);
    const double macs = workload_macs(passes, workload_.seq_len);
    r.metrics["utilization"] = macs / (static_cast<double>(machine_.mac_budget) * r.cycles);
    r.metrics["gflops"] = 2 * macs * machine_.clock_ghz / static_cast<double>(r.cycles);
    add_plan_metrics(passes, r.metrics);
    add_sram_metrics(machine_, r.metrics);
    add_gpu_metrics(machine_, workload_, static_cast<double>(r.cycles) / (machine_.clock_ghz * 1e9),
                    r.metrics);
    return r;
  }

 private:
  MachineParams machine_;
  LstmWorkload workload_;
};

}  // namespace

TESSEL_REGISTER_MODEL("lstm_sharp_analytical", LstmSharpAnalytical,
                      "closed-form twin of lstm_sharp (same keys; timing and energy)");

}  // namespace tessel::lstm_sharp
