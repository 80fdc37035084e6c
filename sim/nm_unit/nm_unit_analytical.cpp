// N:M unit recurrence model and closed-form activity counts.
#include "sim/nm_unit/nm_unit_analytical.h"

#include <algorithm>
#include <cmath>

namespace tessel::nm_unit {
namespace {

// Link occupancy of a transfer (sim/core/offchip_port.h, pipelined LinkPort: latency overlaps,
// bandwidth does not).
uint64_t link_cycles(uint64_t bytes, double bytes_per_cycle) {
  return static_cast<uint64_t>(std::ceil(static_cast<double>(bytes) / bytes_per_cycle - 1e-9));
}

}  // namespace

uint64_t pipeline_cycles(const NmUnitParams& p, const Mapping& map,
                         const std::vector<Step>& steps) {
  const size_t n = steps.size();
  const uint64_t decode = map.sparse ? static_cast<uint64_t>(p.decode_latency) : 0;
  // A memory has one data bus for reads and writes (the link has one of each); its term is
  // the sustained rate of a stream, so the bus serves the charged bytes back to back.
  const bool memory = p.memory_bytes_per_cycle > 0;
  const double read_rate = memory ? p.memory_bytes_per_cycle : p.read_bytes_per_cycle;
  const double write_rate = memory ? p.memory_bytes_per_cycle : p.write_bytes_per_cycle;
  const uint64_t latency = memory ? p.memory_latency_cycles : p.latency_cycles;
  std::vector<uint64_t> release(n), store_end;
  uint64_t load_end = 0, decode_end = 0, prev_release = 0;
  uint64_t bus_free = 0;  // memory: the bus has moved every byte charged so far
  for (size_t i = 0; i < n; ++i) {
    const Step& s = steps[i];
    // Loader: serial on its link; step i reuses the slot step i-slots released.
    uint64_t load_start = load_end;
    const size_t slots = static_cast<size_t>(p.buffer_slots);
    if (i >= slots) load_start = std::max(load_start, release[i - slots]);
    const uint64_t read = link_cycles(static_cast<uint64_t>(load_bytes(p, map, s)), read_rate);
    // With a memory the transfer also waits for the bytes charged before it (stores too).
    if (memory) load_start = std::max(load_start, bus_free);
    load_end = load_start + read;
    if (memory) bus_free = load_end;
    // Metadata decoders: one step at a time, once the step's data has arrived.
    decode_end = std::max(load_end + latency, decode_end) + decode;
    // Array: after the decoded step arrives and the previous step left.
    uint64_t done = std::max(prev_release, decode_end) + compute_cycles(p, map, s);
    if (s.last) {
      size_t t = store_end.size();
      if (t >= 2) done = std::max(done, store_end[t - 2]);  // two output-buffer slots
      uint64_t store_start = std::max(t ? store_end[t - 1] : 0, done);
      const uint64_t write = link_cycles(static_cast<uint64_t>(store_bytes(s)), write_rate);
      store_end.push_back(store_start + write);
      // The memory queues the write and drains it between reads (reads first): it takes
      // bus time from later loads, but does not hold the bus until the tile is done.
      if (memory) bus_free += write;
    }
    release[i] = prev_release = done;
  }
  if (store_end.empty()) return 0;
  // The run ends when the memory has written the last output (all writes are queued).
  return (memory ? std::max(store_end.back(), bus_free) : store_end.back()) + latency;
}

void count_activity(const NmUnitParams& p, const Mapping& map, const std::vector<Step>& steps,
                    Counters& out) {
  for (const Step& s : steps) {
    const uint64_t wv = static_cast<uint64_t>(weight_value_bytes(p, map, s));
    const uint64_t meta = static_cast<uint64_t>(metadata_bytes(map, s));
    const uint64_t acts = static_cast<uint64_t>(act_bytes(p, s));
    const uint64_t kept = static_cast<uint64_t>(kept_per_row(map, s.kt));
    const uint64_t macs = static_cast<uint64_t>(s.rows * s.toks) * kept;
    // loader
    out.add("offchip", "dram_read_byte", static_cast<uint64_t>(load_bytes(p, map, s)));
    if (s.load_weights) out.add("weight_buffer", p.weight_sram + "_write_byte", wv + meta);
    if (s.load_acts) out.add("act_buffer", p.act_sram + "_write_byte", acts);
    // metadata decoders
    if (map.sparse) {
      out.add("weight_buffer", p.weight_sram + "_read_byte", meta);
      out.add("decoders", "nm_index_decode", static_cast<uint64_t>(s.rows) * kept);
    }
    // array: weights broadcast along PE rows, activation windows along PE columns
    out.add("weight_buffer", p.weight_sram + "_read_byte", wv);
    out.add("act_buffer", p.act_sram + "_read_byte", acts);
    out.add("pe_array", p.mac_action, macs);
    if (map.sparse) out.add("act_mux", p.mux_action, macs * static_cast<uint64_t>(p.mux_fanin - 1));
    out.stat("pe_array.idle_pe_cycles",
             static_cast<uint64_t>(p.rows * p.cols - s.rows * s.toks) * compute_cycles(p, map, s));
    if (s.last) {
      const uint64_t bytes = static_cast<uint64_t>(store_bytes(s));
      out.add("out_buffer", p.out_sram + "_write_byte", bytes);
      // storer
      out.add("out_buffer", p.out_sram + "_read_byte", bytes);
      out.add("offchip", "dram_write_byte", bytes);
    }
  }
}

uint64_t useful_macs(const Mapping& map, const std::vector<Step>& steps) {
  uint64_t macs = 0;
  for (const Step& s : steps)
    macs += static_cast<uint64_t>(s.rows * s.toks) * static_cast<uint64_t>(kept_per_row(map, s.kt));
  return macs;
}

}  // namespace tessel::nm_unit

namespace tessel::nm_unit {

void add_metrics(const NmUnitParams& p, const NmUnitWorkload& w, const Mapping& map,
                 const std::vector<Step>& steps, SimResult& r) {
  const double cycles = static_cast<double>(r.cycles);
  const double dense_macs = static_cast<double>(w.m) * w.n * w.k;
  uint64_t compute = 0, dram = 0;
  for (const Step& s : steps) {
    compute += compute_cycles(p, map, s);
    dram += static_cast<uint64_t>(load_bytes(p, map, s)) +
            (s.last ? static_cast<uint64_t>(store_bytes(s)) : 0);
  }
  r.metrics["utilization"] = static_cast<double>(useful_macs(map, steps)) /
                             (static_cast<double>(p.rows * p.cols * p.lanes) * cycles);
  r.metrics["gflops"] = 2 * dense_macs * p.clock_ghz / cycles;
  r.metrics["ideal_speedup"] = map.sparse ? static_cast<double>(map.m) / map.n : 1.0;
  r.metrics["array_speedup_bound"] = static_cast<double>(map.k_per_cycle) / p.lanes;
  r.metrics["compute_fraction"] = static_cast<double>(compute) / cycles;
  r.metrics["dram_bytes"] = static_cast<double>(dram);
  r.metrics["k_chunk"] = static_cast<double>(map.k_chunk);
  r.metrics["weights_outer"] = map.weights_outer ? 1 : 0;
  const Area a = area(p);
  r.metrics["area_mm2"] = a.total();
  r.metrics["area_macs_mm2"] = a.macs;
  r.metrics["area_sram_mm2"] = a.sram;
  r.metrics["area_nm_logic_mm2"] = a.nm_logic;
}

}  // namespace tessel::nm_unit
