// `zoom`: the Zoom study (models/ann/zoom.h) plus each query's page reads replayed through the
// simulated NVMe SSD (sim/memory), giving a device time per query beside the host's measured one.
#include <algorithm>

#include "models/ann/zoom.h"
#include "runtime/core/keys.h"
#include "runtime/core/registry.h"
#include "sim/memory/ftl.h"
#include "sim/memory/memory_keys.h"
#include "sim/zoom/ssd_replay.h"

namespace tessel::zoom {
namespace {

void add_stats(SimResult& r, const std::vector<double>& us, const std::string& name) {
  std::vector<double> s = us;
  std::sort(s.begin(), s.end());
  double sum = 0;
  for (double v : s) sum += v;
  const double n = static_cast<double>(s.size());
  r.metrics["ssd_us_mean_" + name] = sum / n;
  r.metrics["ssd_us_p50_" + name] = s[static_cast<std::size_t>(0.5 * (n - 1))];
  r.metrics["ssd_us_p99_" + name] = s[static_cast<std::size_t>(0.99 * (n - 1))];
}

// ann.zoom's keys and the simulated drive.
const ModelKeys& zoom_keys() {
  static const ModelKeys keys = [] {
    ModelKeys m("zoom");
    m.hw.include("", ann::zoom_study_keys().hw);
    m.hw.nested("ssd", memory::ssd_keys(),
                "the simulated drive: the keys of `ssd:` in \"Memory hierarchy\"; its prefill is "
                "raised to cover the full-view file");
    m.hw.number("query_gap_us", 1, 1e7,
                "simulated time between queries' first reads (a check fails if queries overlap)")
        .def("20000")
        .in("us");
    m.workload.include("", ann::zoom_study_keys().workload);
    return m;
  }();
  return keys;
}

class Zoom : public Experiment {
 public:
  bool uses_energy_table() const override { return false; }
  const ModelKeys& keys() const override { return zoom_keys(); }
  void configure(const Config& hw, const Config& w) override {
    study_.configure(hw, w);
    ssd_ = memory::read_ssd_params(hw.child("ssd"));
    gap_us_ = Keyed(keys().hw, hw).number("query_gap_us");
  }
  SimResult run(RunContext& ctx) override {
    SimResult r = study_.run(ctx);
    if (static_cast<uint64_t>(study_.file_bytes()) > ssd_.logical_bytes)
      throw Error("zoom: the full-view file (" + std::to_string(study_.file_bytes()) +
                      " bytes) does not fit the simulated SSD's capacity",
                  kExitConfig);
    const SsdReplayResult s =
        replay_query_pages(study_.query_pages(), ssd_, study_.queue_depth(), gap_us_);
    add_stats(r, s.parallel_us, "parallel");
    add_stats(r, s.sequential_us, "sequential");
    r.metrics["ssd_qps_parallel"] = 1e6 / r.metrics["ssd_us_mean_parallel"];
    // Host QPS if the device were the simulated SSD: preview CPU time plus the device time
    // (the re-rank's distances are a few µs and are counted in the preview's neighbourhood).
    r.metrics["qps_simulated_ssd"] =
        1e6 / (r.metrics["preview_us"] + r.metrics["ssd_us_mean_parallel"]);
    r.checks.push_back({"queries do not overlap in the SSD replay (query_gap_us)", !s.overlapped,
                        0.0, 0.0, s.overlapped ? "raise hw.query_gap_us" : ""});
    return r;
  }

 private:
  ann::ZoomStudy study_;
  memory::SsdParams ssd_;
  double gap_us_ = 20000;
};

}  // namespace
}  // namespace tessel::zoom

TESSEL_REGISTER_MODEL(
    "zoom", tessel::zoom::Zoom,
    "Zoom: PQ preview + full-view re-rank, with the simulated NVMe SSD (sim/zoom)");
