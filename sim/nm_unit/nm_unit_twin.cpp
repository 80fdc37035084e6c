// The analytical twin registered as model "nm_unit_analytical".
#include <cmath>
#include <cstdio>
#include <string>

#include "runtime/core/energy_table.h"
#include "runtime/core/registry.h"
#include "sim/core/dram_stream_term.h"
#include "sim/nm_unit/nm_unit_analytical.h"

namespace tessel::nm_unit {
namespace {

// Where the memory term is held to the cycle model within 5%
// (tests/sim/nm_unit/nm_unit_memory_test.cpp, docs/systems.md "Limits"). Outside it the
// twin is optimistic: with double buffering or too few requests in flight the loaded
// latency (queueing behind other streams, write drains) is exposed, not the unloaded one the
// term has, and small transfers switch rows between the operand regions for every step.
// Output writes are priced as bus time only, but each write drain also turns the bus around
// (up to 34 ns on DDR5). Measured on random DDR4/DDR5 configurations: outstanding bytes < 6x
// bandwidth x latency, up to 18% off; 2 buffer slots, up to 14%; < 4 KiB per region, up to
// 38%; outputs > 25% of the bytes, up to 11%.
constexpr double kMinLatencyCover = 6;
constexpr int64_t kMinBufferSlots = 3;
constexpr double kMinReadBytesPerRegion = 4096;
constexpr double kMaxWriteFraction = 0.25;

class NmUnitAnalytical : public Experiment {
 public:
  const ModelKeys& keys() const override { return model_keys(); }
  void configure(const Config& hw, const Config& workload) override {
    params_ = read_params(hw);
    params_.node_nm = EnergyTable::for_run(hw.child("energy")).node_nm();
    workload_ = read_workload(workload);
    map_ = map_workload(params_, workload_, &hw, &workload);
    workload_.functional = false;  // closed-form model: timing and activity only
    check_size(workload, params_, workload_, map_, /*simulated=*/false);
    steps_ = schedule(params_, workload_, map_);
    if (params_.offchip_memory) read_memory(hw);
  }

  SimResult run(RunContext& ctx) override {
    count_activity(params_, map_, steps_, ctx.counters);
    SimResult r;
    r.cycles = pipeline_cycles(params_, map_, steps_);
    r.clock_ghz = params_.clock_ghz;
    add_metrics(params_, workload_, map_, steps_, r);
    return r;
  }

 private:
  // A DRAM device's sustained stream bandwidth and unloaded latency replace the link's
  // (sim/core/dram_stream_term.h), where the twin is held to the cycle model.
  void read_memory(const Config& hw) {
    const sim::DramStreamTerm term =
        sim::read_twin_dram_term(hw, "nm_unit_analytical", "nm_unit", kMinLatencyCover);
    const std::string file = hw.get<std::string>("memory");
    const std::string use = "; use model nm_unit";
    if (params_.buffer_slots < kMinBufferSlots)
      hw.child("buffers").fail("slots", "nm_unit_analytical needs at least " +
                                            std::to_string(kMinBufferSlots) + " buffer slots on '" +
                                            file +
                                            "': with double buffering each step waits "
                                            "for the memory's loaded latency" +
                                            use);
    double read = 0, write = 0, regions = 0;
    for (const Step& s : steps_) {
      read += static_cast<double>(load_bytes(params_, map_, s));
      regions += (s.load_weights ? 1 + (metadata_bytes(map_, s) > 0) : 0) + (s.load_acts ? 1 : 0);
      if (s.last) write += static_cast<double>(store_bytes(s));
    }
    if (read < kMinReadBytesPerRegion * regions || write > kMaxWriteFraction * (read + write))
      hw.fail("memory", "nm_unit_analytical is held to the cycle model on '" + file +
                            "' for streaming layers only (at least " +
                            sim::format_number(kMinReadBytesPerRegion, "%.0f") +
                            " B per operand region a step reads, outputs at most " +
                            sim::format_number(100 * kMaxWriteFraction, "%.0f") +
                            "% of the bytes); this layer reads " +
                            sim::format_number(read / regions, "%.0f") +
                            " B per region and writes " +
                            sim::format_number(100 * write / (read + write), "%.1f") +
                            "% of its bytes" + use);
    params_.memory_bytes_per_cycle = term.sustained_gbps / params_.clock_ghz;
    params_.memory_latency_cycles =
        static_cast<uint64_t>(std::ceil(term.latency_ns * params_.clock_ghz - 1e-9));
  }

  NmUnitParams params_;
  NmUnitWorkload workload_;
  Mapping map_;
  std::vector<Step> steps_;
};

}  // namespace

TESSEL_REGISTER_MODEL("nm_unit_analytical", NmUnitAnalytical,
                      "closed-form twin of nm_unit (same hw/workload keys; timing and energy)");

}  // namespace tessel::nm_unit
