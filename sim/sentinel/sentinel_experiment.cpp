// Registered model `sentinel`: profile a training step's tensor trace, plan placement with
// one policy, replay two steps on the DRAM + NVM hierarchy and report the second step.
#include <chrono>
#include <cmath>
#include <memory>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/core/registry.h"
#include "sim/core/sc_runtime.h"
#include "sim/memory/memory_system.h"
#include "sim/sentinel/capacity_check.h"
#include "sim/sentinel/policies.h"
#include "sim/sentinel/replayer.h"
#include "sim/sentinel/trace_gen.h"

namespace tessel::sentinel {
namespace {

using memory::DeviceKind;

class SentinelExperiment : public Experiment {
 public:
  void configure(const Config& hw, const Config& workload) override {
    spec_ = memory::read_hierarchy(hw);
    if (spec_.tiers.size() != 2 || spec_.tiers[0].kind != DeviceKind::kDram ||
        spec_.tiers[1].kind != DeviceKind::kNvm)
      hw.fail("tiers", "sentinel needs two tiers: DRAM (fast) first, NVM (slow) second");
    po_.policy = hw.get_choice(
        "policy", {"sentinel", "all_dram", "all_nvm", "first_touch", "os_hotness"}, "sentinel");
    fast_fraction_ = hw.get<double>("fast_fraction", 0.2);
    if (!(fast_fraction_ > 0 && fast_fraction_ <= 1)) hw.fail("fast_fraction", "must be in (0, 1]");
    po_.page_bytes = hw.get_positive_int("page_bytes");
    if (po_.page_bytes % 64) hw.fail("page_bytes", "must be a multiple of 64");
    po_.dma_gbps = hw.get_positive("dma_gbps");
    const Config proc = hw.child("processor");
    const double peak = proc.get_positive("peak_gflops");
    const double eff = proc.get_positive("efficiency");
    if (eff > 1) proc.fail("efficiency", "must be at most 1");
    po_.flops_per_s = peak * eff * 1e9;
    if (hw.has("sentinel")) {
      const Config s = hw.child("sentinel");
      SentinelSwitches& w = po_.sentinel;
      w.group_allocation = s.get<bool>("group_allocation", true);
      w.short_pool = s.get<bool>("short_pool", true);
      w.layer_migration = s.get<bool>("layer_migration", true);
      w.bandwidth_bound = s.get<bool>("bandwidth_bound", true);
      w.max_lookahead = s.get<int>("max_lookahead", 4);
      if (w.max_lookahead < 1) s.fail("max_lookahead", "must be at least 1");
      po_.layout.short_intervals = s.get<int>("short_intervals", 2);
      po_.layout.hot_accesses = s.get<int>("hot_accesses", 3);
    }
    if (hw.has("os")) {
      const Config s = hw.child("os");
      po_.os.period = s.get_positive_int("period");
      po_.os.hot_threshold = s.get_positive_int("hot_threshold");
      po_.os.max_promote_bytes =
          static_cast<int64_t>(s.get_positive("max_promote_mib") * 1048576.0);
    }
    const Config pl = hw.child("planner");
    po_.fast_gbps = pl.get_positive("fast_gbps");
    po_.slow_read_gbps = pl.get_positive("slow_read_gbps");
    po_.slow_write_gbps = pl.get_positive("slow_write_gbps");
    const Config rp = hw.child("replay");
    ro_.streams = rp.get_positive_int("streams");
    ro_.chunk_bytes = static_cast<int64_t>(rp.get_positive_int("chunk_kib")) * 1024;
    ro_.dma_chunk_bytes = ro_.chunk_bytes;
    max_replay_bytes_ = rp.get_positive("max_mib") * 1048576.0;
    ro_.dma_gbps = po_.dma_gbps;
    ro_.flops_per_s = po_.flops_per_s;

    const std::string kind = workload.get_choice("kind", {"trace", "transformer"});
    ProfileOptions popt;
    TraceFile trace;
    if (kind == "trace") {
      popt.rows = workload.get_positive("rows");
      trace = read_tensor_trace(workload.get_path("trace"));
    } else {
      TransformerShape s;
      s.vocab = workload.get_positive_int("vocab");
      s.max_seq = workload.get_positive_int("seq");
      s.seq = s.max_seq;
      s.layers = workload.get_positive_int("layers");
      s.width = workload.get_positive_int("width");
      s.heads = workload.get_positive_int("heads");
      s.batch = workload.get_positive_int("batch");
      if (s.width % s.heads) workload.fail("heads", "must divide width");
      popt.rows = static_cast<double>(s.batch * s.seq);
      trace = generate_transformer_trace(s);
    }
    profile_ = build_profile(trace, popt);
    if (po_.policy == "all_dram") fast_fraction_ = 1;
    if (po_.policy == "all_nvm") fast_fraction_ = 0;
    // The footprint the fraction applies to: the peak with every tensor rounded up to
    // whole pages (what an allocator that never shares pages would need).
    {
      const int64_t pg = po_.page_bytes;
      std::vector<int64_t> diff(profile_.intervals.size() + 1, 0);
      int64_t persistent = 0;
      for (const TensorInfo& t : profile_.tensors) {
        const int64_t b = (t.bytes + pg - 1) / pg * pg;
        if (t.persistent) {
          persistent += b;
        } else {
          diff[static_cast<size_t>(t.alloc)] += b;
          diff[static_cast<size_t>(t.free) + 1] -= b;
        }
      }
      int64_t now = 0, peak = 0;
      for (int64_t d : diff) peak = std::max(peak, now += d);
      footprint_ = persistent + peak;
    }
    po_.fast_bytes = static_cast<int64_t>(fast_fraction_ * static_cast<double>(footprint_));
    if (po_.policy == "all_dram") po_.fast_bytes = INT64_MAX / 4;
  }

  SimResult run(RunContext& ctx) override {
    SimResult r;
    const auto t0 = std::chrono::steady_clock::now();
    const Plan plan = make_plan(profile_, po_);
    const double plan_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    r.metrics["feasible"] = plan.feasible ? 1 : 0;
    r.metrics["fast_fraction"] = fast_fraction_;
    r.metrics["footprint_mib"] = static_cast<double>(footprint_) / 1048576.0;
    r.metrics["largest_tensor_mib"] = static_cast<double>(profile_.largest_tensor) / 1048576.0;
    r.metrics["events"] = static_cast<double>(profile_.events);
    r.metrics["intervals"] = static_cast<double>(profile_.intervals.size());
    r.metrics["plan_ms"] = plan_ms;
    r.labels["policy"] = po_.policy;
    if (!plan.feasible) {
      r.labels["infeasible"] = plan.reason;
      if (ctx.log) *ctx.log << "sentinel: infeasible: " << plan.reason << "\n";
      return r;
    }
    // Scale so the replay moves at most max_mib (sim speed); times are scaled back.
    double traffic = 0;
    for (const auto& iv : plan.accesses)
      for (const PlanAccess& a : iv) traffic += static_cast<double>(a.bytes);
    for (const Migration& m : plan.migrations) traffic += 2.0 * static_cast<double>(m.bytes);
    ro_.scale = std::min(1.0, max_replay_bytes_ / std::max(1.0, traffic));
    const memory::TierSpec& fast = spec_.tiers[0];
    const memory::TierSpec& slow = spec_.tiers[1];
    ro_.fast_base = fast.base;
    ro_.fast_size = fast.capacity;
    ro_.slow_base = slow.base;
    ro_.slow_size = slow.capacity;

    sim::prepare_systemc();
    auto system = std::make_unique<memory::MemorySystem>(spec_);
    auto rep = std::make_unique<StepReplayer>("replayer", plan, ro_);
    rep->socket.bind(system->socket());
    sc_core::sc_start();
    const int N = plan.intervals, K = plan.step_intervals;
    const double s = ro_.scale;
    const auto& end = rep->end_ps();
    const double step_ps =
        static_cast<double>(end[static_cast<size_t>(N - 1)] - end[static_cast<size_t>(K - 1)]) / s;
    double compute_ps = 0;
    for (int k = 0; k < K; ++k)
      compute_ps += plan.flops[static_cast<size_t>(k)] / po_.flops_per_s * 1e12;
    const CapacityReport cap = check_capacity(rep->timed_holds(), plan.fast_capacity);
    r.metrics["step_time_ms"] = step_ps / 1e9;
    r.metrics["compute_ms"] = compute_ps / 1e9;
    r.metrics["stall_ms"] = rep->stall_ps / s / 1e9;
    const double served = rep->fast_bytes + rep->slow_bytes;
    r.metrics["fast_hit_rate"] = served > 0 ? rep->fast_bytes / served : 0;
    r.metrics["migrated_mib"] = rep->migrated_bytes / 1048576.0;
    r.metrics["accessed_mib"] = served / 1048576.0;
    r.metrics["migrations"] = static_cast<double>(plan.migrations.size()) / 2;  // per step
    r.metrics["fast_mib"] =
        static_cast<double>(std::min<int64_t>(plan.fast_capacity, footprint_)) / 1048576.0;
    r.metrics["fast_peak_mib"] = static_cast<double>(cap.peak_bytes) / 1048576.0;
    r.metrics["replay_scale"] = s;
    r.seconds = step_ps / 1e12;
    system->report(sc_core::sc_time(static_cast<double>(end.back()), sc_core::SC_PS), ctx.counters,
                   r.metrics);

    r.checks.push_back(
        {"replay finished every interval", rep->finished(), rep->finished() ? 0.0 : 1.0, 0, ""});
    r.checks.push_back(
        {"no error responses", rep->errors() == 0, static_cast<double>(rep->errors()), 0, ""});
    r.checks.push_back(
        {"fast tier never over capacity (timeline)", cap.ok,
         cap.ok ? 0.0 : static_cast<double>(cap.violation_bytes - plan.fast_capacity), 0,
         cap.ok ? "" : "at " + std::to_string(cap.violation_ps) + " ps"});
    return r;
  }

 private:
  memory::HierarchySpec spec_;
  PolicyOptions po_;
  ReplayOptions ro_;
  Profile profile_;
  double fast_fraction_ = 0.2, max_replay_bytes_ = 0;
  int64_t footprint_ = 0;  // page-rounded peak footprint
};

}  // namespace
}  // namespace tessel::sentinel

TESSEL_REGISTER_MODEL(
    "sentinel", tessel::sentinel::SentinelExperiment,
    "Sentinel: profile-guided tensor placement on DRAM + NVM, replayed on sim/memory");
