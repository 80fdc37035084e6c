// Test-only models that finish, crash, hang or fail on demand, for sweep-engine tests.
#include <csignal>
#include <filesystem>
#include <thread>

#include "runtime/core/error.h"
#include "runtime/core/keys.h"
#include "runtime/core/registry.h"

namespace tessel {
namespace {

// workload.behaviour: ok | crash | hang | fail; workload.sleep_ms delays every point;
// workload.gate (a path) holds points with hw.size > workload.gate_size until that file
// exists, so a test can stop a sweep at a known point instead of racing a timer.
// The result depends on the point's seed and parameters only, so runs are reproducible.
class FaultModel : public Experiment {
 public:
  const ModelKeys& keys() const override {
    static const ModelKeys keys = [] {
      ModelKeys m("test_fault");
      m.hw.positive_integer("size", "the point's size (cycles = 1000 x size)");
      KeySet& w = m.workload;
      w.choice("behaviour", {"ok", "crash", "hang", "fail"}, "what the point does").def("ok");
      w.integer("crash_size", -1, int64_t{1} << 40, "only this size misbehaves; -1: every size")
          .def("-1");
      w.integer("sleep_ms", 0, 3600000, "delay of every point").def("0").in("ms");
      w.text("gate", "file that releases the points above gate_size; empty: no gate").def("");
      w.integer("gate_size", 0, int64_t{1} << 40, "points up to this size pass the gate").def("0");
      return m;
    }();
    return keys;
  }
  void configure(const Config& hw_config, const Config& workload_config) override {
    const Keyed hw(keys().hw, hw_config), workload(keys().workload, workload_config);
    size_ = hw.integer("size");
    behaviour_ = workload.choice("behaviour");
    crash_size_ = workload.integer("crash_size");
    sleep_ms_ = workload.integer("sleep_ms");
    gate_ = workload.text("gate");
    gate_size_ = workload.integer("gate_size");
  }
  SimResult run(RunContext& ctx) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    while (!gate_.empty() && size_ > gate_size_ && !std::filesystem::exists(gate_))
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    bool faulty = crash_size_ < 0 || crash_size_ == size_;
    if (faulty && behaviour_ == "crash") std::raise(SIGSEGV);
    if (faulty && behaviour_ == "hang") std::this_thread::sleep_for(std::chrono::hours(1));
    if (faulty && behaviour_ == "fail") throw SimError("fault model asked to fail");
    ctx.counters.add("core", "mac_int8", static_cast<uint64_t>(size_) * 100);
    SimResult r;
    r.cycles = static_cast<uint64_t>(size_) * 1000 + ctx.seed % 1000;
    r.clock_ghz = 1.0;
    r.metrics["seed_low_bits"] = static_cast<double>(ctx.seed % 1000);
    return r;
  }

 private:
  int64_t size_ = 0, crash_size_ = -1, sleep_ms_ = 0, gate_size_ = 0;
  std::string behaviour_, gate_;
};

}  // namespace

TESSEL_REGISTER_MODEL("test_fault", FaultModel, "test only: finishes, crashes, hangs or fails");

}  // namespace tessel
