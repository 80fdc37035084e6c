// The analytical twin registered as model "lstm_sharp_analytical".
#include "runtime/core/registry.h"
#include "sim/core/dram_stream_term.h"
#include "sim/lstm_sharp/analytical.h"
#include "sim/lstm_sharp/chip_energy.h"
#include "sim/lstm_sharp/workload_plan.h"

namespace tessel::lstm_sharp {
namespace {

class LstmSharpAnalytical : public Experiment {
 public:
  const ModelKeys& keys() const override { return model_keys(); }
  void configure(const Config& hw, const Config& workload) override {
    machine_ = read_machine(hw);
    workload_ = read_lstm_workload(workload);
    machine_.batch = workload_.batch;  // the pass time depends on it (layer_plan.h)
    energy_ = EnergyTable::for_run(hw.child("energy"));
    passes_ = plan_workload(machine_, workload_);
    // The activation and partial-sum buffers must hold what the workload's layers need.
    size_buffers(machine_, passes_, workload_.seq_len, hw);
    // The memory term is a DRAM device's, and holds only where row switches are cheap
    // (sim/core/dram_stream_term.h).
    if (!machine_.offchip_memory) return;
    // No requests-in-flight rule: the stream engines' Little's-law bound is in the term.
    sim::read_twin_dram_term(hw, "lstm_sharp_analytical", "lstm_sharp", 0);
  }

  SimResult run(RunContext& ctx) override {
    const std::vector<PassPlan>& passes = passes_;
    SimResult r;
    // With a memory, x is read once, from the start (io_dma.cpp), and every direction of the
    // last layer writes its h, through the memory the weights stream from.
    const int64_t last = workload_.layers - 1;
    for (const auto& p : passes) {
      int64_t io = 0;
      if (p.layer == 0 && p.direction == 0) io += workload_.batch * p.plan.input * 2;
      if (p.layer == last) io += workload_.batch * p.plan.hidden * 2;
      r.cycles +=
          analytical_layer_cycles(machine_, p.plan, workload_.seq_len, io, &p == &passes[0]);
    }
    const int64_t switching = reconfigurations(passes) * machine_.reconfig_cycles;
    r.cycles += static_cast<uint64_t>(switching);
    r.metrics["reconfig_cycles_paid"] = static_cast<double>(switching);
    // With a memory the run ends when the last output has been written to it.
    if (machine_.offchip_memory) r.cycles += machine_.memory_latency_cycles;
    r.clock_ghz = machine_.clock_ghz;
    define_sram_actions(sram_macros(machine_), energy_, ctx.counters);
    analytical_activity(machine_, workload_, passes, ctx.counters);
    add_static_and_clock_counters(machine_, r.cycles, energy_, ctx.counters);
    add_energy_metrics(machine_, ctx.counters, energy_, r.metrics);
    const double macs = workload_macs(passes, workload_.seq_len);
    r.metrics["utilization"] = macs / (static_cast<double>(machine_.mac_budget) * r.cycles);
    r.metrics["gflops"] = 2 * macs * machine_.clock_ghz / static_cast<double>(r.cycles);
    add_plan_metrics(passes, r.metrics);
    add_sram_metrics(machine_, r.metrics);
    add_batch_metrics(machine_, workload_, r.cycles, r.metrics);
    add_gpu_metrics(machine_, workload_, static_cast<double>(r.cycles) / (machine_.clock_ghz * 1e9),
                    r.metrics);
    return r;
  }

 private:
  MachineParams machine_;
  LstmWorkload workload_;
  std::vector<PassPlan> passes_;  // planned once: buffer sizing and run share it
  EnergyTable energy_;  // what the runner prices with: SRAM, clock and control depend on it
};

}  // namespace

TESSEL_REGISTER_MODEL("lstm_sharp_analytical", LstmSharpAnalytical,
                      "closed-form twin of lstm_sharp (same keys; timing and energy)");

}  // namespace tessel::lstm_sharp
