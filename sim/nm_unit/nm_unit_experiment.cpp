// The cycle-level N:M unit experiment: builds the SystemC model, runs it, checks Y = W X.
#include <algorithm>
#include <filesystem>
#include <memory>

#include "models/common/npy.h"
#include "runtime/core/energy_table.h"
#include "runtime/core/error.h"
#include "runtime/core/registry.h"
#include "sim/nm_unit/nm_unit.h"
#include "sim/nm_unit/nm_unit_analytical.h"
#include "sim/system/offchip.h"

namespace tessel::nm_unit {
namespace {

class NmUnitExperiment : public Experiment {
 public:
  const ModelKeys& keys() const override { return model_keys(); }
  void configure(const Config& hw, const Config& workload) override {
    params_ = read_params(hw);
    params_.node_nm = EnergyTable::for_run(hw.child("energy")).node_nm();
    workload_ = read_workload(workload);
    map_ = map_workload(params_, workload_, &hw, &workload);
    check_size(workload, params_, workload_, map_, /*simulated=*/true);
    layout_ = make_layout(params_, workload_, map_);
    offchip_ = sim::read_offchip(hw, params_.clock_ghz);
    sim::check_fits(offchip_, hw, layout_.end,
                    "the operands' layout (weights, metadata, activations, outputs)");
  }

  SimResult run(RunContext& ctx) override {
    sim::prepare_systemc();
    auto steps = schedule(params_, workload_, map_);
    const int64_t tiles = steps.back().tile + 1;
    const bool f = workload_.functional;
    Operands ops;
    sparse::MatrixI32 y32;
    sparse::MatrixF yf;
    if (f) {
      ops = make_operands(params_, workload_, map_, ctx.seed);
      if (params_.dtype == DType::kInt8)
        y32 = sparse::MatrixI32::Zero(workload_.m, workload_.n);
      else
        yf = sparse::MatrixF::Zero(workload_.m, workload_.n);
    }
    const bool i8 = params_.dtype == DType::kInt8;
    const sim::Clock clock(params_.clock_ghz);
    // Pipelined links: the unit's DMA engines keep enough requests in flight to cover the
    // latency (sim/core/offchip_port.h).
    sim::OffchipSystem offchip(offchip_, clock, true);
    auto top = std::make_unique<NmUnit>("nm_unit", params_, workload_, map_, layout_, steps, tiles,
                                        offchip.read_port(), offchip.write_port(),
                                        f ? &ops : nullptr, f && i8 ? &y32 : nullptr,
                                        f && !i8 ? &yf : nullptr, ctx.counters, ctx.trace);
    sc_core::sc_start();
    SimResult r;
    r.cycles = top->finish_cycle();
    if (r.cycles == 0) throw SimError("nm_unit: simulation ended before the last tile was stored");
    r.clock_ghz = params_.clock_ghz;
    offchip.report(clock.cycles(r.cycles), ctx.counters, r.metrics);
    r.labels["offchip"] = offchip_.label();
    add_metrics(params_, workload_, map_, steps, r);
    r.metrics["pe_array_busy_fraction"] =
        static_cast<double>(top->busy_cycles()) / static_cast<double>(r.cycles);
    r.metrics["offchip_busy_fraction"] = offchip.busy_fraction(r.cycles, r.metrics);
    r.labels["bound"] =
        sim::bound_by(r.metrics["pe_array_busy_fraction"], r.metrics["offchip_busy_fraction"]);
    if (f) r.checks.push_back(i8 ? check_int8(ops, map_, y32) : check_fp16(ops, map_, yf));
    if (f) report_operands(ops, ctx, r);
    return r;
  }

 private:
  // Where real operands came from and how they were quantised: the scales as metrics
  // (range) and, when the run has a folder, every row's scale as weight_scales.npy.
  void report_operands(const Operands& ops, const RunContext& ctx, SimResult& r) const {
    const bool i8 = params_.dtype == DType::kInt8;
    if (workload_.weights) {
      r.labels["weights"] = workload_.weights_path;
      r.labels["weight_format"] =
          i8 ? "int8 symmetric per output row, round half to even, [-127, 127]" : "fp16 nearest";
    }
    if (workload_.activations) {
      r.labels["activations"] = workload_.activations_path;
      r.labels["activation_format"] =
          i8 ? "int8 symmetric per tensor, round half to even, [-127, 127]" : "fp16 nearest";
    }
    if (!ops.weight_scales.empty()) {
      const auto [lo, hi] = std::minmax_element(ops.weight_scales.begin(), ops.weight_scales.end());
      r.metrics["weight_scale_min"] = *lo;
      r.metrics["weight_scale_max"] = *hi;
      if (!ctx.artifact_dir.empty()) {
        std::filesystem::create_directories(ctx.artifact_dir);
        NpyArray a;
        a.shape = {static_cast<int64_t>(ops.weight_scales.size())};
        a.data = ops.weight_scales;
        write_npy(ctx.artifact_dir + "/weight_scales.npy", a);
        r.artifacts["weight_scales"] = "weight_scales.npy";
      }
    }
    if (ops.act_scale > 0) r.metrics["activation_scale"] = ops.act_scale;
  }

  NmUnitParams params_;
  NmUnitWorkload workload_;
  Mapping map_;
  Layout layout_;
  sim::OffchipSpec offchip_;
};

}  // namespace

TESSEL_REGISTER_MODEL("nm_unit", NmUnitExperiment,
                      "cycle-level SystemC N:M sparse tensor unit (decoders, muxes, MAC array; "
                      "int8/fp16, sparse or dense mode)");

}  // namespace tessel::nm_unit
