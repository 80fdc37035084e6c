// The "memory" model: a hierarchy from YAML driven by a trace or a synthetic workload;
// reports latency percentiles, bandwidth, energy per byte and conservation checks.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "runtime/core/error.h"
#include "runtime/core/registry.h"
#include "sim/core/sc_runtime.h"
#include "sim/memory/dram_controller.h"
#include "sim/memory/dram_timing_check.h"
#include "sim/memory/memory_keys.h"
#include "sim/memory/memory_system.h"
#include "sim/memory/trace_player.h"
#include "sim/memory/workload.h"

namespace tessel::memory {
namespace {

double percentile(std::vector<int64_t>& v, double q) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
  k = std::min(k, v.size() - 1);
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return static_cast<double>(v[k]) / 1000.0;
}

const ModelKeys& memory_keys() {
  static const ModelKeys keys = [] {
    ModelKeys m("memory");
    m.hw.include("", hierarchy_keys());
    m.workload.include("", memory_workload_keys());
    return m;
  }();
  return keys;
}

class MemoryExperiment : public Experiment {
 public:
  const ModelKeys& keys() const override { return memory_keys(); }

  void configure(const Config& hw, const Config& workload) override {
    spec_ = read_hierarchy(hw);
    workload_ = read_memory_workload(workload);
    // Logs every DRAM command and replays it through the timing checker after the run
    // (tessel validate turns it on; off by default: the log costs 24 bytes a command).
    check_timing_ = Keyed(memory_keys().workload, workload).flag("check_timing");
    synthetic_tier_ = spec_.default_tier;
    if (workload_.synthetic && !workload_.tier.empty()) {
      const int i = spec_.tier_index(workload_.tier);
      if (i < 0) workload.fail("tier", "no tier named '" + workload_.tier + "'");
      synthetic_tier_ = static_cast<size_t>(i);
    }
    if (workload_.synthetic && workload_.footprint_bytes > spec_.tiers[synthetic_tier_].capacity)
      workload.fail("footprint_mib",
                    "exceeds the capacity of tier '" + spec_.tiers[synthetic_tier_].name + "'");
  }

  SimResult run(RunContext& ctx) override {
    sim::prepare_systemc();
    const std::vector<PlayerRequest> requests = [&] {
      // The trace itself is dropped once resolved to flat addresses.
      MemoryTrace trace = workload_.synthetic ? generate_trace(workload_, ctx.seed)
                                              : read_memory_trace(workload_.trace_path);
      const std::string name = workload_.synthetic ? "synthetic workload" : workload_.trace_path;
      const uint64_t offset = workload_.synthetic ? spec_.tiers[synthetic_tier_].base : 0;
      std::vector<PlayerRequest> out = resolve(trace, spec_, offset, name);
      for (size_t i = 0; i < out.size(); ++i) out[i].batch = trace.requests[i].batch;
      return out;
    }();
    uint64_t bytes = 0, read_bytes = 0;
    for (const PlayerRequest& r : requests) {
      bytes += r.bytes;
      if (!r.write) read_bytes += r.bytes;
    }
    auto system = std::make_unique<MemorySystem>(spec_);
    auto player = std::make_unique<TracePlayer>("player", requests, workload_.max_outstanding);
    player->socket.bind(system->socket());
    // Per DRAM tier, one command log per channel.
    std::vector<std::vector<std::vector<DramCommand>>> logs(spec_.tiers.size());
    if (check_timing_)
      for (size_t t = 0; t < spec_.tiers.size(); ++t)
        if (auto* dram = dynamic_cast<DramController*>(&system->device(t)))
          dram->set_command_logs(&logs[t]);
    sc_core::sc_start();

    const sc_core::sc_time end(static_cast<double>(player->last_completion_ps()), sc_core::SC_PS);
    SimResult r;
    system->report(end, ctx.counters, r.metrics);
    const std::vector<int64_t>& issued = player->issued_ps();
    const std::vector<int64_t>& done = player->completed_ps();
    std::vector<int64_t> lat, rlat, wlat;
    lat.reserve(done.size());
    uint64_t done_bytes = 0;
    int64_t first = issued.empty() ? 0 : issued.front();
    double sum = 0;
    std::vector<std::vector<int64_t>> tier_lat(spec_.tiers.size());
    for (size_t i = 0; i < done.size(); ++i) {
      if (done[i] < 0) continue;
      const int64_t l = done[i] - issued[i];
      lat.push_back(l);
      (requests[i].write ? wlat : rlat).push_back(l);
      sum += static_cast<double>(l);
      done_bytes += requests[i].bytes;
      first = std::min(first, issued[i]);
      const int t = system->decode(requests[i].address);
      if (t >= 0 && spec_.tiers.size() > 1) tier_lat[static_cast<size_t>(t)].push_back(l);
    }
    const double span_ns = static_cast<double>(player->last_completion_ps() - first) / 1000.0;
    r.clock_ghz = 1.0;  // one cycle = one simulated nanosecond
    r.cycles = static_cast<uint64_t>(
        std::ceil(static_cast<double>(player->last_completion_ps()) / 1000.0));
    r.metrics["requests"] = static_cast<double>(requests.size());
    r.metrics["bytes"] = static_cast<double>(bytes);
    r.metrics["bandwidth_gbps"] = span_ns > 0 ? static_cast<double>(done_bytes) / span_ns : 0;
    r.metrics["requests_per_us"] =
        span_ns > 0 ? static_cast<double>(lat.size()) / span_ns * 1000.0 : 0;
    r.metrics["latency_mean_ns"] = lat.empty() ? 0 : sum / static_cast<double>(lat.size()) / 1000.0;
    r.metrics["latency_p50_ns"] = percentile(lat, 0.50);
    r.metrics["latency_p90_ns"] = percentile(lat, 0.90);
    r.metrics["latency_p99_ns"] = percentile(lat, 0.99);
    r.metrics["latency_p999_ns"] = percentile(lat, 0.999);
    r.metrics["latency_max_ns"] = percentile(lat, 1.0);
    if (!rlat.empty()) r.metrics["read_latency_p50_ns"] = percentile(rlat, 0.5);
    if (!wlat.empty()) r.metrics["write_latency_p50_ns"] = percentile(wlat, 0.5);
    for (size_t t = 0; t < tier_lat.size(); ++t)
      if (!tier_lat[t].empty())
        r.metrics[spec_.tiers[t].name + ".latency_p50_ns"] = percentile(tier_lat[t], 0.5);
    // Batches (trace batch markers): last completion minus first issue of each.
    std::vector<int64_t> batch = player->batch_latencies_ps();
    if (!player->batches().empty()) {
      r.metrics["batch_count"] = static_cast<double>(batch.size());
      double batch_sum = 0;
      for (int64_t b : batch) batch_sum += static_cast<double>(b);
      r.metrics["batch_latency_mean_ns"] =
          batch.empty() ? 0 : batch_sum / static_cast<double>(batch.size()) / 1000.0;
      r.metrics["batch_latency_p50_ns"] = percentile(batch, 0.50);
      r.metrics["batch_latency_p99_ns"] = percentile(batch, 0.99);
      r.metrics["batch_latency_max_ns"] = percentile(batch, 1.0);
    }
    // Latency histogram: requests completing within 2^k ns, cumulative, from 8 ns up to
    // the first bucket that holds every request.
    if (!lat.empty()) {
      const int64_t max_ps = *std::max_element(lat.begin(), lat.end());
      std::vector<uint64_t> buckets;
      for (int64_t edge = 8000;; edge *= 2) {
        buckets.push_back(0);
        if (edge >= max_ps) break;
      }
      for (int64_t l : lat) {
        size_t k = 0;
        for (int64_t edge = 8000; edge < l; edge *= 2) ++k;
        ++buckets[k];
      }
      uint64_t cumulative = 0;
      int64_t edge_ns = 8;
      for (uint64_t b : buckets) {
        cumulative += b;
        char name[48];
        std::snprintf(name, sizeof name, "latency_le_%010lldns", static_cast<long long>(edge_ns));
        ctx.counters.stat(name, cumulative);
        edge_ns *= 2;
      }
    }
    // Every action of the hierarchy is priced by its device (define_action), so the
    // energy is known here, before the runner applies the table (which adds nothing).
    double pj = 0;
    for (const auto& kv : ctx.counters.defined_energy_pj()) pj += kv.second;
    if (bytes) r.metrics["energy_pj_per_byte"] = pj / static_cast<double>(bytes);

    // Bandwidth over time, as a counter track of the trace.
    if (ctx.trace && span_ns > 0) {
      const double window = std::max(1000.0, span_ns / 200);
      std::vector<double> bins(static_cast<size_t>(span_ns / window) + 1, 0);
      for (size_t i = 0; i < done.size(); ++i)
        if (done[i] >= 0)
          bins[static_cast<size_t>((static_cast<double>(done[i] - first) / 1000.0) / window)] +=
              requests[i].bytes;
      for (size_t b = 0; b < bins.size(); ++b)
        ctx.trace->counter("bandwidth_gbps", static_cast<double>(first) / 1000.0 + b * window,
                           bins[b] / window);
    }

    Check once{"every request completes exactly once", true, 0, 0, ""};
    const double missing = static_cast<double>(requests.size() - player->completions());
    once.max_error = missing + static_cast<double>(player->duplicate_completions());
    once.passed = once.max_error == 0;
    if (!once.passed)
      once.detail = std::to_string(player->completions()) + " completions for " +
                    std::to_string(requests.size()) + " requests, " +
                    std::to_string(player->duplicate_completions()) + " duplicates";
    r.checks.push_back(once);
    Check conserve{"bytes completed == bytes requested", done_bytes == bytes,
                   std::abs(static_cast<double>(bytes) - static_cast<double>(done_bytes)), 0, ""};
    r.checks.push_back(conserve);
    Check ok{"no error responses", player->errors() == 0, static_cast<double>(player->errors()), 0,
             ""};
    r.checks.push_back(ok);
    if (check_timing_) {
      Check timing{"DRAM command log obeys the JEDEC timing constraints", true, 0, 0, ""};
      uint64_t commands = 0;
      for (size_t t = 0; t < logs.size(); ++t)
        for (size_t ch = 0; ch < logs[t].size(); ++ch) {
          const TimingCheckResult c = check_dram_timing(spec_.tiers[t].dram, logs[t][ch]);
          commands += c.commands;
          timing.max_error += static_cast<double>(c.violations);
          if (c.violations && timing.detail.empty())
            timing.detail = spec_.tiers[t].name + " channel " + std::to_string(ch) + ": " +
                            c.first + " (" + std::to_string(c.violations) + " violations)";
        }
      timing.passed = timing.max_error == 0;
      r.checks.push_back(timing);
      r.metrics["timing_commands_checked"] = static_cast<double>(commands);
      r.metrics["timing_violations"] = timing.max_error;
    }
    ctx.counters.stat("player.read_bytes", read_bytes);
    ctx.counters.stat("player.write_bytes", bytes - read_bytes);
    return r;
  }

 private:
  HierarchySpec spec_;
  MemoryWorkload workload_;
  size_t synthetic_tier_ = 0;
  bool check_timing_ = false;
};

}  // namespace

TESSEL_REGISTER_MODEL("memory", MemoryExperiment,
                      "memory hierarchy over TLM-2.0: DRAM (command level), NVM, SSD, PCIe; "
                      "trace or synthetic workload");

}  // namespace tessel::memory
