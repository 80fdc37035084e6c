// The `carm` experiment: one continual-learning configuration run without Carousel Memory,
// with asynchronous and with synchronous swapping, on the real disk (O_DIRECT) and with the
// page cache standing in for the data path while sim/memory's NVMe SSD model charges every
// swap its latency. Reports accuracy and the training-time overheads of each.
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>

#include <filesystem>

#include "models/continual/continual_io.h"
#include "runtime/core/error.h"
#include "runtime/core/experiment.h"
#include "runtime/core/registry.h"
#include "sim/carm/carm_timing.h"
#include "sim/carm/swap_replay.h"
#include "sim/memory/memory_keys.h"

namespace tessel::carm {
namespace {

using continual::ContinualResult;

// Both CarM traces of the SSD mode in one replay (SystemC simulates once per process): the
// sync run's requests follow the async run's, one second of simulated time later, on its
// own store object, with its batch ids after the async ones.
MemoryTrace merge(const MemoryTrace& a, const MemoryTrace& b, uint32_t* b_batch0) {
  MemoryTrace m;
  m.object_index("async_store");
  m.object_index("sync_store");
  int64_t end = 0;
  uint32_t batches = 0;
  for (MemoryRequest q : a.requests) {
    q.object = 0;
    end = std::max(end, q.time_ps);
    if (q.batch != MemoryRequest::kNoBatch) batches = std::max(batches, q.batch + 1);
    m.requests.push_back(q);
  }
  *b_batch0 = batches;
  const int64_t shift = end + 1000000000000;
  for (MemoryRequest q : b.requests) {
    q.object = 1;
    q.time_ps += shift;
    if (q.batch != MemoryRequest::kNoBatch) q.batch += batches;
    m.requests.push_back(q);
  }
  return m;
}

const ModelKeys& carm_keys() {
  static const ModelKeys keys = [] {
    ModelKeys m("carm");
    m.hw.text("description", "free text (the host trains; the storage model charges the reads)")
        .opt("none");
    m.hw.nested("storage", memory::memory_file_keys(),
                "a sim/memory hardware file (one device or a hierarchy) that charges the "
                "store's reads: its path, or the same mapping inline")
        .path_too = true;
    m.hw.positive_integer("max_outstanding", "store requests in flight in the replay").def("64");
    m.workload.include("", continual::continual_workload_keys());
    // Timing on a shared host is noisy: every configuration runs `repeats` times,
    // interleaved, and its median training time counts.
    m.workload
        .integer("repeats", 1, 99,
                 "interleaved repetitions of each configuration (the median time counts)")
        .def("3");
    return m;
  }();
  return keys;
}

class CarmExperiment : public Experiment {
 public:
  const ModelKeys& keys() const override { return carm_keys(); }

  void configure(const Config& hw_config, const Config& workload) override {
    const Keyed hw(keys().hw, hw_config);
    // A file the model loads itself is checked against its own declaration here.
    const Config storage = hw_config.at("storage").is_scalar() ? Config::load(hw.path("storage"))
                                                               : hw_config.child("storage");
    memory::memory_file_keys().check(storage);
    spec_ = memory::read_hierarchy(storage);
    max_outstanding_ = hw.integer("max_outstanding");
    repeats_ = int(Keyed(keys().workload, workload).integer("repeats"));
    w_ = continual::read_continual_workload(workload);
    if (!w_.config.carm.enabled)
      workload.fail("carm", "the carm experiment compares swapping modes: set carm.enabled: true");
  }
  bool uses_energy_table() const override { return false; }

  SimResult run(RunContext& ctx) override {
    // The point's folder holds the store and the accuracy file; the runner leaves it to us.
    if (!ctx.artifact_dir.empty()) std::filesystem::create_directories(ctx.artifact_dir);
    const continual::TaskStream stream = continual::load_stream(w_);
    const std::string base = continual::resolve_store_path(w_, ctx.artifact_dir);
    auto go = [&](const std::string& name, bool carm, bool async, bool direct) {
      continual::ContinualConfig c = w_.config;
      c.carm.enabled = carm;
      c.carm.async = async;
      c.carm.direct = direct;
      c.carm.store_path = base + "." + name;
      if (ctx.log) *ctx.log << "carm: run " << name << "\n";
      return continual::run_continual(stream, c, ctx.seed, ctx.log);
    };
    const bool direct = w_.config.carm.direct;
    // Interleaved repetitions; the first of each is the one whose accuracy and trace count.
    std::vector<ContinualResult> off, async_d, sync_d, async_c, sync_c;
    for (int k = 0; k < repeats_; ++k) {
      off.push_back(go("off", false, true, direct));
      async_d.push_back(go("async_disk", true, true, direct));
      sync_d.push_back(go("sync_disk", true, false, direct));
      async_c.push_back(go("async_ssd", true, true, false));
      sync_c.push_back(go("sync_ssd", true, false, false));
    }
    auto median = [](const std::vector<ContinualResult>& v, double ContinualResult::*f) {
      std::vector<double> x;
      for (const auto& r : v) x.push_back(r.*f);
      std::sort(x.begin(), x.end());
      return x[x.size() / 2];
    };
    const ContinualResult &off1 = off[0], &async_disk = async_d[0], &sync_disk = sync_d[0],
                          &async_cache = async_c[0], &sync_cache = sync_c[0];
    uint32_t sync0 = 0;
    const MemoryTrace trace = merge(async_cache.trace, sync_cache.trace, &sync0);
    SimResult r;
    // The device's energy counters stay local: this host-side study has no energy table.
    Counters device;
    const ReplayResult rep = replay_store_trace(trace, spec_, max_outstanding_, device, r.metrics);
    const std::vector<int64_t> lat_async(rep.batch_latency_ps.begin(),
                                         rep.batch_latency_ps.begin() + sync0);
    const std::vector<int64_t> lat_sync(rep.batch_latency_ps.begin() + sync0,
                                        rep.batch_latency_ps.end());
    const StorageCharge ssd_async = charge_async(async_cache, lat_async);
    const StorageCharge ssd_sync = charge_sync(sync_cache, lat_sync);

    auto& m = r.metrics;
    const double off_s = median(off, &ContinualResult::train_seconds);
    const double off_cpu = median(off, &ContinualResult::train_cpu_seconds);
    const double async_s = median(async_d, &ContinualResult::train_seconds);
    const double sync_s = median(sync_d, &ContinualResult::train_seconds);
    // SSD mode: the charge of each repetition, then the median.
    std::vector<double> ssd_a, ssd_s;
    for (int k = 0; k < repeats_; ++k) {
      ssd_a.push_back(charge_async(async_c[size_t(k)], lat_async).train_s);
      // Latencies replayed from the first repetition's trace; each repetition's own count of
      // swaps and its own swap waits (the page cache's) are replaced.
      ContinualResult sc = sync_c[size_t(k)];
      std::vector<int64_t> l = lat_sync;
      l.resize(size_t(sc.swaps), l.empty() ? 0 : ssd_sync.swap_latency_mean_us * 1e6);
      ssd_s.push_back(charge_sync(sc, l).train_s);
    }
    // In-run accounting (robust to load drift between runs): the training thread's CarM
    // time over the rest of its loop; SSD mode replaces the sync run's waits by the model's
    // latencies. Medians over the repetitions.
    std::vector<double> in_a, in_s, in_sa, in_ss;
    for (int k = 0; k < repeats_; ++k) {
      const auto& a = async_d[size_t(k)];
      const auto& y = sync_d[size_t(k)];
      const auto& ac = async_c[size_t(k)];
      const auto& yc = sync_c[size_t(k)];
      in_a.push_back(a.carm_seconds / (a.train_seconds - a.carm_seconds));
      in_s.push_back(y.carm_seconds / (y.train_seconds - y.carm_seconds));
      in_sa.push_back(ac.carm_seconds / (ac.train_seconds - ac.carm_seconds));
      const double ssd_wait = ssd_s[size_t(k)] - (yc.train_seconds - yc.swap_wait_seconds);
      in_ss.push_back((yc.carm_seconds - yc.swap_wait_seconds + ssd_wait) /
                      (yc.train_seconds - yc.carm_seconds));
    }
    for (auto* v : {&in_a, &in_s, &in_sa, &in_ss}) std::sort(v->begin(), v->end());
    std::sort(ssd_a.begin(), ssd_a.end());
    std::sort(ssd_s.begin(), ssd_s.end());
    const double ssd_async_s = ssd_a[ssd_a.size() / 2], ssd_sync_s = ssd_s[ssd_s.size() / 2];
    m["off_train_s"] = off_s;
    m["off_final_avg_acc"] = off1.final_average;
    m["carm_final_avg_acc"] = async_disk.final_average;
    m["sync_final_avg_acc"] = sync_disk.final_average;
    m["acc_gain"] = async_disk.final_average - off1.final_average;
    m["async_disk_train_s"] = async_s;
    m["sync_disk_train_s"] = sync_s;
    m["overhead_async_disk"] = async_s / off_s - 1;
    m["overhead_sync_disk"] = sync_s / off_s - 1;
    m["cpu_overhead_async_disk"] =
        median(async_d, &ContinualResult::train_cpu_seconds) / off_cpu - 1;
    m["cpu_overhead_sync_disk"] = median(sync_d, &ContinualResult::train_cpu_seconds) / off_cpu - 1;
    m["async_ssd_train_s"] = ssd_async_s;
    m["sync_ssd_train_s"] = ssd_sync_s;
    m["overhead_async_ssd"] = ssd_async_s / off_s - 1;
    m["overhead_sync_ssd"] = ssd_sync_s / off_s - 1;
    m["ssd_swap_latency_mean_us"] = ssd_sync.swap_latency_mean_us;
    m["ssd_swap_latency_max_us"] = ssd_sync.swap_latency_max_us;
    m["ssd_read_latency_mean_us"] = rep.read_latency_mean_ns * 1e-3;
    m["ssd_async_late_fraction"] = ssd_async.late_fraction;
    m["disk_blocking_fraction_async"] =
        (async_disk.swap_wait_seconds + async_disk.pin_wait_seconds) / async_disk.train_seconds;
    m["disk_blocking_fraction_sync"] =
        (sync_disk.swap_wait_seconds + sync_disk.pin_wait_seconds) / sync_disk.train_seconds;
    m["swap_rate"] =
        async_disk.steps ? double(async_disk.samples_swapped_in) / double(async_disk.steps) : 0;
    m["swaps_skipped_fraction"] =
        async_disk.swaps + async_disk.swaps_skipped
            ? double(async_disk.swaps_skipped) / double(async_disk.swaps + async_disk.swaps_skipped)
            : 0;
    m["disk_read_mb_per_s_async"] =
        double(async_disk.store_bytes_read) / async_disk.train_seconds / 1e6;
    m["disk_read_mb_per_s_sync"] =
        double(sync_disk.store_bytes_read) / sync_disk.train_seconds / 1e6;
    m["ssd_read_mb_per_s_sync"] = double(sync_cache.store_bytes_read) / ssd_sync.train_s / 1e6;
    m["repeats"] = repeats_;
    m["inrun_overhead_async_disk"] = in_a[in_a.size() / 2];
    m["inrun_overhead_sync_disk"] = in_s[in_s.size() / 2];
    m["inrun_overhead_async_ssd"] = in_sa[in_sa.size() / 2];
    m["inrun_overhead_sync_ssd"] = in_ss[in_ss.size() / 2];
    {
      // Spread of the baseline's repetitions: the wall-time noise floor of this host.
      std::vector<double> t;
      for (const auto& o : off) t.push_back(o.train_seconds);
      std::sort(t.begin(), t.end());
      m["off_spread"] = t.back() / t.front() - 1;
    }
    m["disk_write_mb_per_s"] =
        double(async_disk.store_bytes_written) / async_disk.train_seconds / 1e6;
    m["store_direct"] = async_disk.store_direct ? 1 : 0;
    r.labels["method"] = w_.config.method;
    r.labels["policy"] = w_.config.carm.policy;
    return r;
  }

 private:
  memory::HierarchySpec spec_;
  int64_t max_outstanding_ = 64;
  int repeats_ = 3;
  continual::ContinualWorkload w_;
};

}  // namespace
}  // namespace tessel::carm

TESSEL_REGISTER_MODEL("carm", tessel::carm::CarmExperiment,
                      "Carousel Memory: off / async / sync swapping on disk and on the SSD model");
