// The analytical twin registered as model "mac_array_analytical".
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "runtime/core/registry.h"
#include "sim/core/dram_stream_term.h"
#include "sim/mac_array/mac_array_analytical.h"
#include "sim/memory/dram_channel.h"
#include "sim/memory/dram_energy.h"

namespace tessel::mac_array {
namespace {

// Where the memory term is held to the cycle model within 5%
// (tests/sim/mac_array/mac_array_memory_test.cpp, docs/mac_array.md). Outside it the twin is
// optimistic: with few requests in flight the loaded latency (queueing behind the other
// operand's requests, write drains), not the unloaded one, bounds the rate; when a chunk's
// A or B part is small the rows of the two operand regions (and of C) switch for each part;
// and when int32 outputs are much of the traffic each write drain's turnaround and row
// switches dominate. Measured on 150 random DDR4/DDR5 configurations (seed 2 of the test's
// draws) before the limits (mean 3.8%, worst 33%): requests in flight for < 4x bandwidth x
// latency, up to 20% off; parts < 2 KiB, up to 12% (1-2 KiB: up to 8.9% on seed 3's
// draws); outputs > 25% of the bytes, up to 32%. Inside them: 39 of those 150, worst 3.3%.
constexpr double kMinLatencyCover = 4;
constexpr double kMinPartBytes = 2048;
constexpr double kMaxWriteFraction = 0.25;

// How the twin prices a DRAM device's data bus, in accelerator cycles.
struct BusPrices {
  double bytes_per_cycle = 0;                     // between refreshes
  double turnaround_cycles = 0, drain_bytes = 0;  // per write drain; bytes it moves
};

// The transfers in the order the model issues them (each tile's store after its last
// chunk's load; FR-FCFS reordering inside the queues is not followed), through the device's
// address mapping: each transfer's data-bus time, and the memory's command counts for its
// IDD energy (sim/memory/dram_energy.h). A transfer moves whole bursts. Its bus time is its
// bursts over the rate (row switches are in the rate; charging a load that reopens the
// previous load's bank tRTP + tRP + tRCD fixed one case and put 15 of 117 others above 5%:
// whether a switch costs time depends on what FR-FCFS has queued). A store adds its share
// of a write drain's turnaround. An activate is counted wherever a transfer
// reaches a bank whose open row is another; an all-bank refresh per rank every tREFI; and
// every rank-cycle has a bank open but those the refreshes close until the next access
// (open-page policy).
struct MemoryWalk {
  std::vector<double> load_bus, store_bus;
  memory::DramChannelStats stats;
};

MemoryWalk walk_memory(const memory::DramParams& d, const BusPrices& price, const GemmWorkload& w,
                       const std::vector<Chunk>& chunks) {
  MemoryWalk m;
  m.load_bus.assign(chunks.size(), 0);
  m.store_bus.assign(chunks.size(), 0);
  memory::DramChannelStats& s = m.stats;
  const memory::AddressMapper mapper(d);
  const uint64_t burst = static_cast<uint64_t>(d.burst_bytes());
  auto bank_of = [&](const memory::AddressMapper::Fields& f) {
    return ((static_cast<uint64_t>(f.channel) * static_cast<uint64_t>(d.ranks) +
             static_cast<uint64_t>(f.rank)) *
                static_cast<uint64_t>(d.bankgroups) +
            static_cast<uint64_t>(f.bankgroup)) *
               static_cast<uint64_t>(d.banks_per_group) +
           static_cast<uint64_t>(f.bank);
  };
  // Open row by bank (channel, rank, group, bank); -1: closed.
  std::vector<int64_t> open_row(
      static_cast<size_t>(d.channels * d.ranks * d.bankgroups * d.banks_per_group), -1);
  // Walks a transfer, adds its bus time to `bus`; returns the bytes of its bursts.
  auto walk = [&](const AddressRange& r, bool load, double& bus) {
    const uint64_t first = r.address / burst, last = (r.address + r.bytes - 1) / burst;
    for (uint64_t b = first; b <= last; ++b) {
      const memory::AddressMapper::Fields f = mapper.decode(b);
      int64_t& row = open_row[bank_of(f)];
      if (row != f.row) {
        ++s.act;
        row = f.row;
      }
    }
    const uint64_t bursts = last - first + 1;
    (load ? s.rd : s.wr) += bursts;
    bus += static_cast<double>(bursts * burst) / price.bytes_per_cycle;
    return static_cast<double>(bursts * burst);
  };
  const Layout l = make_layout(w);
  for (size_t c = 0; c < chunks.size(); ++c) {
    for (const AddressRange& r : load_ranges(w, l, chunks[c])) walk(r, true, m.load_bus[c]);
    if (chunks[c].last) {
      const double bytes = walk(store_range(w, l, chunks[c]), false, m.store_bus[c]);
      m.store_bus[c] += std::min(1.0, bytes / price.drain_bytes) * price.turnaround_cycles;
    }
  }
  return m;
}

// The refreshes and background of a run of `end_cycle` device clocks.
void count_refresh(const memory::DramParams& d, uint64_t end_cycle, memory::DramChannelStats& s) {
  const uint64_t ranks = static_cast<uint64_t>(d.ranks * d.channels);
  s.ref = end_cycle / static_cast<uint64_t>(d.t.refi) * ranks;
  // After a refresh the banks stay closed until the next request reaches them: about the
  // refresh itself plus an activate (tRFC + tRCD) while the stream runs.
  const uint64_t closed = s.ref * static_cast<uint64_t>(d.t.rfc + d.t.rcd);
  s.active_cycles = end_cycle * ranks > closed ? end_cycle * ranks - closed : 0;
}

class MacArrayAnalytical : public Experiment {
 public:
  const ModelKeys& keys() const override { return model_keys(); }
  void configure(const Config& hw, const Config& workload) override {
    params_ = read_params(hw);
    workload_ = read_workload(workload);
    workload_.functional = false;  // closed-form model: timing and activity only
    check_size(workload, params_, workload_, /*simulated=*/false);
    chunks_ = schedule(params_, workload_);
    if (params_.offchip_memory) read_memory(hw);
  }

  SimResult run(RunContext& ctx) override {
    const std::vector<Chunk>& chunks = chunks_;
    count_activity(params_, chunks, ctx.counters);
    SimResult r;
    r.clock_ghz = params_.clock_ghz;
    if (!params_.offchip_memory) {
      r.cycles = pipeline_cycles(params_, chunks);
    } else {
      MemoryWalk walk = walk_memory(dram_, prices_, workload_, chunks);
      r.cycles = memory_pipeline_cycles(params_, chunks, walk.load_bus, walk.store_bus);
      const double ns = static_cast<double>(r.cycles) / params_.clock_ghz;
      const auto end = static_cast<uint64_t>(std::ceil(ns / dram_.tck_ns - 1e-9));
      memory::DramChannelStats& s = walk.stats;
      count_refresh(dram_, end, s);
      memory::count_dram_energy(
          tier_, dram_, s, end * static_cast<uint64_t>(dram_.ranks * dram_.channels), ctx.counters);
      ctx.counters.stat(tier_ + ".act", s.act);
      ctx.counters.stat(tier_ + ".rd", s.rd);
      ctx.counters.stat(tier_ + ".wr", s.wr);
      ctx.counters.stat(tier_ + ".ref", s.ref);
      r.labels["offchip"] = memory_file_;
    }
    double macs = static_cast<double>(workload_.m) * workload_.n * workload_.k;
    r.metrics["utilization"] = macs / (static_cast<double>(params_.rows * params_.cols) * r.cycles);
    r.metrics["gflops"] = 2 * macs * params_.clock_ghz / static_cast<double>(r.cycles);
    return r;
  }

 private:
  // A DRAM device's bandwidth, refreshes, write turnarounds and unloaded latency replace the
  // link's (from sim/core/dram_stream_term.h and the device file), where the twin is held
  // to the cycle model.
  void read_memory(const Config& hw) {
    const sim::DramStreamTerm term =
        sim::read_twin_dram_term(hw, "mac_array_analytical", "mac_array", kMinLatencyCover);
    memory_file_ = hw.get_path("memory");
    const std::string use = "; use model mac_array";
    // The smaller of each chunk's two parts (its A rows, its B columns), on average, and
    // the outputs' share of the bytes.
    double part = 0, read = 0, write = 0;
    for (const Chunk& ch : chunks_) {
      part += static_cast<double>(std::min(ch.rows, ch.cols) * ch.kt);
      read += static_cast<double>(ch.load_bytes());
      if (ch.last) write += static_cast<double>(ch.store_bytes());
    }
    part /= static_cast<double>(chunks_.size());
    if (part < kMinPartBytes || write > kMaxWriteFraction * (read + write))
      hw.fail("memory", "mac_array_analytical is held to the cycle model on '" + memory_file_ +
                            "' for streaming GEMMs only (chunks whose A and B parts are at least " +
                            sim::format_number(kMinPartBytes, "%.0f") + " B, outputs at most " +
                            sim::format_number(100 * kMaxWriteFraction, "%.0f") +
                            "% of the bytes); this GEMM's smaller part is " +
                            sim::format_number(part, "%.0f") +
                            " B on average (rows, cols, buffer_kib and k set it) and it writes " +
                            sim::format_number(100 * write / (read + write), "%.1f") +
                            "% of its bytes" + use);
    const Config mem = Config::load(memory_file_, "memory");
    dram_ = memory::read_dram_params(mem.child("dram"), mem.child("controller"));
    tier_ = mem.get<std::string>("name");
    // The term's sustained rate averages refresh in (× (1 - tRFC/tREFI)); the twin instead
    // stops the bus for each refresh (precharge, tRFC, activate again: tRP + tRFC + tRCD,
    // both presets' channels refresh together), which a chunk that runs into one waits for.
    // So the rate between refreshes is the peak × the row efficiency, or the Little's-law
    // bound of the port when that is lower.
    const sim::MemoryPortParams port = sim::read_port_params(hw.child("offchip"));
    const double little_gbps = static_cast<double>(port.max_outstanding) *
                               static_cast<double>(port.request_bytes) / term.latency_ns;
    const double open_gbps = std::min(term.peak_gbps / (1 + term.row_switch_fraction), little_gbps);
    prices_.bytes_per_cycle = open_gbps / params_.clock_ghz;
    const double cycles_per_tck = dram_.tck_ns * params_.clock_ghz;
    if (dram_.t.rp + dram_.t.rfc + dram_.t.rcd >= dram_.t.refi)
      hw.fail("memory", "mac_array_analytical needs tRP + tRFC + tRCD below tREFI on '" +
                            memory_file_ + "' (the bus would never be free)" + use);
    params_.memory_refresh_period_cycles = static_cast<double>(dram_.t.refi) * cycles_per_tck;
    params_.memory_refresh_cycles =
        static_cast<double>(dram_.t.rp + dram_.t.rfc + dram_.t.rcd) * cycles_per_tck;
    // The write-drain scheduler collects writes until write_high x write_queue bursts wait
    // (or no read does), then turns the bus around for them: read to write (CL - CWL + burst
    // + 2 clocks) and back (CWL + burst + tWTR_L), 27.5 ns on DDR4-3200, 34 ns on DDR5-4800.
    // A tile of at least (high - low) x write_queue bursts (every channel's) pays one
    // turnaround (the storer issues it whole); a smaller one its share of one.
    const memory::DramTiming& t = dram_.t;
    prices_.turnaround_cycles =
        static_cast<double>(t.cl - t.cwl + t.burst + 2 + t.cwl + t.burst + t.wtr_l) *
        cycles_per_tck;
    prices_.drain_bytes =
        (dram_.write_high - dram_.write_low) *
        static_cast<double>(dram_.write_queue * dram_.burst_bytes() * dram_.channels);
    params_.memory_latency_cycles =
        static_cast<uint64_t>(std::ceil(term.latency_ns * params_.clock_ghz - 1e-9));
  }

  MacArrayParams params_;
  GemmWorkload workload_;
  std::vector<Chunk> chunks_;
  memory::DramParams dram_;
  BusPrices prices_;
  std::string tier_, memory_file_;
};

}  // namespace

TESSEL_REGISTER_MODEL("mac_array_analytical", MacArrayAnalytical,
                      "closed-form twin of mac_array (same hw/workload keys; timing and energy)");

}  // namespace tessel::mac_array
