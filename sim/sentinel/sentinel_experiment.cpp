// Registered model `sentinel`: profile a training step's tensor trace, plan placement with
// one policy, replay two steps on the DRAM + NVM hierarchy and report the second step.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/core/registry.h"
#include "sim/core/sc_runtime.h"
#include "sim/memory/memory_keys.h"
#include "sim/memory/memory_system.h"
#include "sim/sentinel/capacity_check.h"
#include "sim/sentinel/policies.h"
#include "sim/sentinel/replayer.h"
#include "sim/sentinel/trace_gen.h"

namespace tessel::sentinel {
namespace {

using memory::DeviceKind;

// The memory hierarchy's keys (sim/memory) and the placement study's own. Bounds are the
// ones the code has always checked (> 0, multiples); the rest is the user's choice.
const ModelKeys& sentinel_keys() {
  static const ModelKeys keys = [] {
    ModelKeys m("sentinel");
    KeySet& k = m.hw;
    k.include("", memory::hierarchy_keys(),
              "a memory hierarchy: every key of a `memory` hw file (Memory hierarchy, above)");
    k.choice("policy", {"sentinel", "all_dram", "all_nvm", "first_touch", "os_hotness"},
             "placement policy")
        .def("sentinel");
    k.any_number("fast_fraction",
                 "fast memory as a fraction of the step's page-rounded peak footprint, in "
                 "(0, 1] (ignored by all_dram / all_nvm)")
        .def("0.2");
    k.positive_integer("page_bytes",
                       "page size of the allocator and the page-level baselines (a multiple "
                       "of 64)")
        .in("B");
    k.positive_number("dma_gbps", "migration (copy) engine bandwidth cap").in("GB/s");
    k.section("processor", "the modelled processor (roofline compute time)");
    k.positive_number("processor.peak_gflops", "peak FLOP/s").in("GFLOP/s");
    k.positive_number("processor.efficiency", "achieved fraction of the peak, in (0, 1]");
    k.section("sentinel", "Sentinel's ideas, each a switch (ablations)");
    k.flag("sentinel.group_allocation", "allocator arenas per lifetime and hotness class")
        .def("true");
    k.flag("sentinel.short_pool", "short-lived tensors in a reserved fast pool").def("true");
    k.flag("sentinel.layer_migration", "prefetch before use, demote after, by layer order")
        .def("true");
    k.flag("sentinel.bandwidth_bound",
           "copies fit the DMA engine and are charged the NVM time they add")
        .def("true");
    k.any_integer("sentinel.max_lookahead",
                  "intervals a prefetch may be issued ahead of its use (and a writeback spread "
                  "after); at least 1")
        .def("3");
    k.any_integer("sentinel.short_intervals",
                  "transient tensors living at most this many intervals are short-lived")
        .def("2");
    k.any_integer("sentinel.hot_accesses",
                  "accesses per step from which a tensor is hot (allocator class)")
        .def("3");
    k.section("os", "the os_hotness baseline (AutoNUMA-like page migration)");
    k.positive_integer("os.period", "intervals between page scans")
        .opt("1 without `os:`; required in it");
    k.positive_integer("os.hot_threshold", "accesses in the last period that make a page hot")
        .opt("1 without `os:`; required in it");
    k.positive_number("os.max_promote_mib", "promotion rate limit per scan")
        .opt("64 without `os:`; required in it")
        .in("MiB");
    k.section("planner", "the planner's bandwidth estimates (the replay measures real times)");
    k.positive_number("planner.fast_gbps", "fast tier bandwidth").in("GB/s");
    k.positive_number("planner.slow_read_gbps", "slow tier read bandwidth").in("GB/s");
    k.positive_number("planner.slow_write_gbps", "slow tier write bandwidth").in("GB/s");
    k.section("replay", "the replay on the simulated hierarchy");
    k.positive_integer("replay.streams", "concurrent access streams");
    k.positive_integer("replay.chunk_kib", "largest request a stream or the DMA engine issues")
        .in("KiB");
    k.positive_number("replay.max_mib",
                      "bytes replayed per run; larger steps are scaled down (docs/sentinel.md, "
                      "\"Scaling\")")
        .in("MiB");

    KeySet& w = m.workload;
    w.choice("kind", {"trace", "transformer"},
             "an engine tensor trace, or a Transformer step generated from shapes");
    w.file("trace", "the engine's `tensor_trace.txt`").opt("required with `kind: trace`");
    w.positive_number("rows",
                      "rows through each linear layer (batch × sequence; batch for the MLP)")
        .opt("required with `kind: trace`");
    const char* shape = "required with `kind: transformer`";
    w.positive_integer("vocab", "vocabulary size").opt(shape);
    w.positive_integer("seq", "sequence length").opt(shape);
    w.positive_integer("layers", "Transformer blocks").opt(shape);
    w.positive_integer("width", "model width (divisible by heads)").opt(shape);
    w.positive_integer("heads", "attention heads").opt(shape);
    w.positive_integer("batch", "sequences per step").opt(shape);
    return m;
  }();
  return keys;
}

class SentinelExperiment : public Experiment {
 public:
  const ModelKeys& keys() const override { return sentinel_keys(); }

  void configure(const Config& hw_config, const Config& workload_config) override {
    const Keyed hw(keys().hw, hw_config);
    spec_ = memory::read_hierarchy(hw_config);
    if (spec_.tiers.size() != 2 || spec_.tiers[0].kind != DeviceKind::kDram ||
        spec_.tiers[1].kind != DeviceKind::kNvm)
      hw.fail("tiers", "sentinel needs two tiers: DRAM (fast) first, NVM (slow) second");
    po_.policy = hw.choice("policy");
    fast_fraction_ = hw.number("fast_fraction");
    if (!(fast_fraction_ > 0 && fast_fraction_ <= 1)) hw.fail("fast_fraction", "must be in (0, 1]");
    po_.page_bytes = hw.integer("page_bytes");
    if (po_.page_bytes % 64) hw.fail("page_bytes", "must be a multiple of 64");
    po_.dma_gbps = hw.number("dma_gbps");
    const Keyed proc = hw.child("processor");
    const double peak = proc.number("peak_gflops");
    const double eff = proc.number("efficiency");
    if (eff > 1) proc.fail("efficiency", "must be at most 1");
    po_.flops_per_s = peak * eff * 1e9;
    if (hw.has("sentinel")) {
      const Keyed s = hw.child("sentinel");
      SentinelSwitches& w = po_.sentinel;
      w.group_allocation = s.flag("group_allocation");
      w.short_pool = s.flag("short_pool");
      w.layer_migration = s.flag("layer_migration");
      w.bandwidth_bound = s.flag("bandwidth_bound");
      const int64_t lookahead = s.integer("max_lookahead");
      if (lookahead < 1) s.fail("max_lookahead", "must be at least 1");
      // An int in the planner; 2^30 intervals is already more than any trace has.
      w.max_lookahead = static_cast<int>(std::min<int64_t>(lookahead, 1 << 30));
      po_.layout.short_intervals = static_cast<int>(s.integer("short_intervals"));
      po_.layout.hot_accesses = static_cast<int>(s.integer("hot_accesses"));
    }
    if (hw.has("os")) {
      const Keyed s = hw.child("os");
      po_.os.period = s.integer("period");
      po_.os.hot_threshold = s.integer("hot_threshold");
      po_.os.max_promote_bytes = static_cast<int64_t>(s.number("max_promote_mib") * 1048576.0);
    }
    const Keyed pl = hw.child("planner");
    po_.fast_gbps = pl.number("fast_gbps");
    po_.slow_read_gbps = pl.number("slow_read_gbps");
    po_.slow_write_gbps = pl.number("slow_write_gbps");
    const Keyed rp = hw.child("replay");
    ro_.streams = rp.integer("streams");
    ro_.chunk_bytes = rp.integer("chunk_kib") * 1024;
    ro_.dma_chunk_bytes = ro_.chunk_bytes;
    max_replay_bytes_ = rp.number("max_mib") * 1048576.0;
    ro_.dma_gbps = po_.dma_gbps;
    ro_.flops_per_s = po_.flops_per_s;

    const Keyed workload(keys().workload, workload_config);
    const std::string kind = workload.choice("kind");
    ProfileOptions popt;
    TraceFile trace;
    if (kind == "trace") {
      popt.rows = workload.number("rows");
      trace = read_tensor_trace(workload.path("trace"));
    } else {
      TransformerShape s;
      s.vocab = workload.integer("vocab");
      s.max_seq = workload.integer("seq");
      s.seq = s.max_seq;
      s.layers = workload.integer("layers");
      s.width = workload.integer("width");
      s.heads = workload.integer("heads");
      s.batch = workload.integer("batch");
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
    const memory::NvmParams& nvm = spec_.tiers[1].nvm;
    r.metrics["bound_ms"] =
        step_lower_bound_s(profile_, po_.flops_per_s,
                           nvm.write_gbps * 1e9 * static_cast<double>(nvm.dimms),
                           plan.fast_capacity) *
        1e3;
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
