// The cycle-level LSTM-Sharp experiment: SystemC model, optional bit-exact functional check.
#include <algorithm>
#include <memory>

#include "models/lstm/lstm_fixed.h"
#include "runtime/core/error.h"
#include "runtime/core/registry.h"
#include "sim/lstm_sharp/chip_energy.h"
#include "sim/lstm_sharp/lstm_sharp.h"
#include "sim/lstm_sharp/workload_plan.h"
#include "sim/system/offchip.h"

namespace tessel::lstm_sharp {
namespace {

class LstmSharpExperiment : public Experiment {
 public:
  const ModelKeys& keys() const override { return model_keys(); }
  void configure(const Config& hw, const Config& workload) override {
    machine_ = read_machine(hw);
    workload_ = read_lstm_workload(workload);
    machine_.batch = workload_.batch;  // the pass time depends on it (layer_plan.h)
    // The Verilated DPU takes one input slice per pass (rtl/lstm_sharp/dpu.sv).
    if (machine_.rtl_dpu && workload_.batch > 1)
      workload.fail("batch", "the co-simulated DPU (hw rtl.dpu) runs batch 1; use batch: 1");
    energy_ = EnergyTable::for_run(hw.child("energy"));
    passes_ = plan_workload(machine_, workload_);
    // The activation and partial-sum buffers must hold what the workload's layers need.
    size_buffers(machine_, passes_, workload_.seq_len, hw);
    if (!machine_.offchip_memory) return;
    // Bound to a memory: the run's address layout must fit it.
    offchip_ = sim::read_offchip(hw, machine_.clock_ghz);
    layout_ = make_weight_layout(passes_, workload_, machine_.tile_major_layout);
    sim::check_fits(offchip_, hw, layout_.end,
                    "LSTM-Sharp's off-chip layout (input and output sequences and the weights "
                    "that stream)");
  }

  SimResult run(RunContext& ctx) override {
    sim::prepare_systemc();
    const std::vector<PassPlan>& passes = passes_;
    const int64_t seq = workload_.seq_len;
    // Functional mode: PyTorch-initialised weights and inputs, quantised to the
    // accelerator's formats, and the reference output to compare with.
    lstm::LstmShape shape{static_cast<int>(workload_.input_size),
                          static_cast<int>(workload_.hidden_size),
                          static_cast<int>(workload_.layers), workload_.bidirectional};
    lstm::FixedLstmWeights weights;
    lstm::FixedSequence x;
    std::vector<PassData> data;
    if (workload_.functional) {
      weights = lstm::quantize_weights(lstm::LstmWeights::random(shape, ctx.seed));
      x = lstm::quantize_sequence(lstm::random_sequence(
          static_cast<int>(seq), static_cast<int>(workload_.input_size), 1, ctx.seed + 1));
      for (const auto& pp : passes) {
        PassData d;
        d.weights = &weights.at(static_cast<int>(pp.layer), static_cast<int>(pp.direction));
        d.output.assign(static_cast<size_t>(seq * pp.plan.hidden), 0);
        d.acc.assign(static_cast<size_t>(seq * 4 * pp.plan.hidden), 0);
        d.c.assign(static_cast<size_t>(pp.plan.hidden), 0);
        if (pp.layer == 0) {
          d.input.resize(static_cast<size_t>(seq * pp.plan.input));
          for (int64_t s = 0; s < seq; ++s) {
            const int64_t t = pp.direction ? seq - 1 - s : s;
            std::copy_n(x[t].data(), pp.plan.input, d.input.begin() + s * pp.plan.input);
          }
        }
        data.push_back(std::move(d));
      }
    }
    const bool memory = machine_.offchip_memory;
    const sim::Clock clock(machine_.clock_ghz);
    std::unique_ptr<sim::OffchipSystem> offchip;
    if (memory) offchip = std::make_unique<sim::OffchipSystem>(offchip_, clock, true);
    auto top = std::make_unique<LstmSharp>(
        "lstm_sharp", machine_, passes, seq, workload_.functional ? &data : nullptr, ctx.trace,
        memory ? &layout_ : nullptr, memory ? &offchip->read_port() : nullptr,
        memory ? &offchip->write_port() : nullptr);
    sc_core::sc_start();
    const int64_t finish = top->finish_cycle();
    if (finish < 0) throw SimError("lstm_sharp: simulation ended before the last output was ready");

    SimResult r;
    r.cycles = static_cast<uint64_t>(finish);
    r.clock_ghz = machine_.clock_ghz;
    const SramMacros macros = sram_macros(machine_);
    define_sram_actions(macros, energy_, ctx.counters);
    uint64_t busy = 0, stall = 0;
    for (const auto& tile : top->tiles()) {
      add_tile_counters(tile->basename(), tile->activity(), macros, ctx.counters, memory);
      busy += tile->activity().busy_cycles;
      stall += tile->activity().stall_cycles;
      // Idle: neither computing nor waiting on a dependence (no work left in the step).
      ctx.counters.stat(std::string(tile->basename()) + ".idle_cycles",
                        static_cast<uint64_t>(finish) - tile->activity().busy_cycles -
                            tile->activity().stall_cycles);
    }
    if (memory) {
      // The memory prices its own traffic (IDD or per-bit energy) and reports row hits,
      // bus utilisation and latencies; the link's per-byte charge would count it twice.
      offchip->report(clock.cycles(static_cast<uint64_t>(finish)), ctx.counters, r.metrics);
      r.labels["offchip"] = offchip_.label();
      r.metrics["offchip_layout_bytes"] = static_cast<double>(layout_.end);
    } else {
      add_io_counters(workload_, ctx.counters);
    }
    add_static_and_clock_counters(machine_, r.cycles, energy_, ctx.counters);
    add_energy_metrics(machine_, ctx.counters, energy_, r.metrics);
    const double macs = workload_macs(passes, seq);
    const double tiles_cycles = static_cast<double>(machine_.tiles) * static_cast<double>(finish);
    r.metrics["utilization"] = macs / (static_cast<double>(machine_.mac_budget) * finish);
    r.metrics["gflops"] = 2 * macs * machine_.clock_ghz / static_cast<double>(finish);
    r.metrics["tile_busy_fraction"] = static_cast<double>(busy) / tiles_cycles;
    r.metrics["tile_stall_fraction"] = static_cast<double>(stall) / tiles_cycles;
    if (memory) {
      r.metrics["offchip_busy_fraction"] =
          offchip->busy_fraction(static_cast<uint64_t>(finish), r.metrics);
      // A resident pass lasts max(batch, SRAM cycles) (layer_plan.cpp); the DPUs take
      // operands in `batch` of them. Every layer has the same MACs per tile, so one ratio.
      const double feed = std::min(1.0, static_cast<double>(workload_.batch) /
                                            static_cast<double>(passes.front().plan.pass_cycles));
      r.labels["bound"] =
          sim::bound_by(r.metrics["tile_busy_fraction"], r.metrics["offchip_busy_fraction"], feed);
    }
    add_plan_metrics(passes, r.metrics);
    r.metrics["reconfig_cycles_paid"] =
        static_cast<double>(reconfigurations(passes) * machine_.reconfig_cycles);
    add_sram_metrics(machine_, r.metrics);
    add_batch_metrics(machine_, workload_, r.cycles, r.metrics);
    add_gpu_metrics(machine_, workload_, static_cast<double>(r.cycles) / (machine_.clock_ghz * 1e9),
                    r.metrics);
    if (workload_.functional) r.checks.push_back(check_outputs(weights, x, passes, data));
    return r;
  }

 private:
  // The last layer's outputs, every step and direction, against models/lstm's fixed-point
  // forward pass (which never saw the tiling): bit-exact or fail.
  Check check_outputs(const lstm::FixedLstmWeights& weights, const lstm::FixedSequence& x,
                      const std::vector<PassPlan>& passes, const std::vector<PassData>& data) {
    const auto ref = lstm::fixed_lstm_forward(weights, x);
    Check c{"h == models/lstm fixed_lstm_forward (bit-exact, Q2.13 LSB)", true, 0, 0, ""};
    const int64_t seq = workload_.seq_len, h = workload_.hidden_size;
    for (size_t p = 0; p < passes.size(); ++p) {
      if (passes[p].layer != workload_.layers - 1) continue;
      for (int64_t s = 0; s < seq; ++s) {
        const int64_t t = passes[p].direction ? seq - 1 - s : s;
        for (int64_t e = 0; e < h; ++e) {
          const int16_t got = data[p].output[s * h + e];
          const int16_t want = ref.y[t](passes[p].direction * h + e, 0);
          const double err = std::abs(static_cast<double>(got) - want);
          c.max_error = std::max(c.max_error, err);
          if (err > 0 && c.passed) {
            c.passed = false;
            c.detail = "t=" + std::to_string(t) + " dir=" + std::to_string(passes[p].direction) +
                       " h[" + std::to_string(e) + "] = " + std::to_string(got) + ", reference " +
                       std::to_string(want);
          }
        }
      }
    }
    return c;
  }

  MachineParams machine_;
  LstmWorkload workload_;
  std::vector<PassPlan> passes_;  // planned once: buffer sizing, layout and run share it
  EnergyTable energy_;  // what the runner prices with: SRAM, clock and control depend on it
  sim::OffchipSpec offchip_;
  WeightLayout layout_;
};

}  // namespace

TESSEL_REGISTER_MODEL("lstm_sharp", LstmSharpExperiment,
                      "cycle-level SystemC LSTM-Sharp accelerator (tiles, DPUs, MFU, schedules)");

}  // namespace tessel::lstm_sharp
