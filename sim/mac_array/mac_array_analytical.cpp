// MAC-array recurrence model: the same pipeline as the SystemC model, without events.
#include "sim/mac_array/mac_array_analytical.h"

#include <algorithm>
#include <cmath>

namespace tessel::mac_array {
namespace {

uint64_t link_cycles(uint64_t bytes, double bytes_per_cycle, uint64_t latency) {
  return latency +
         static_cast<uint64_t>(std::ceil(static_cast<double>(bytes) / bytes_per_cycle - 1e-9));
}

// When a memory's data bus, free from `start`, has done `work` cycles of transfers: refresh
// windows [j x period, j x period + length) (j >= 1) move nothing.
double bus_done(const MacArrayParams& p, double start, double work) {
  const double period = p.memory_refresh_period_cycles, length = p.memory_refresh_cycles;
  double t = start;
  for (;;) {
    const double j = std::floor(t / period);
    if (j >= 1 && t < j * period + length) t = j * period + length;
    const double next = (j + 1) * period;
    if (t + work <= next) return t + work;
    work -= next - t;
    t = next + length;
  }
}

}  // namespace

uint64_t pipeline_cycles(const MacArrayParams& p, const std::vector<Chunk>& chunks) {
  const size_t n = chunks.size();
  std::vector<uint64_t> load_end(n), release(n), store_end;
  uint64_t prev_release = 0;
  for (size_t c = 0; c < n; ++c) {
    const Chunk& ch = chunks[c];
    uint64_t load_start = c ? load_end[c - 1] : 0;
    if (c >= 2) load_start = std::max(load_start, release[c - 2]);
    load_end[c] =
        load_start + link_cycles(ch.load_bytes(), p.read_bytes_per_cycle, p.latency_cycles);
    uint64_t start = std::max(prev_release, load_end[c]);
    uint64_t done = start + static_cast<uint64_t>(ch.kt) + (ch.last ? p.pipeline_depth : 0);
    if (ch.last) {
      size_t t = store_end.size();
      if (t >= 2) done = std::max(done, store_end[t - 2]);
      uint64_t store_start = std::max(t ? store_end[t - 1] : 0, done);
      store_end.push_back(store_start +
                          link_cycles(ch.store_bytes(), p.write_bytes_per_cycle, p.latency_cycles));
    }
    release[c] = prev_release = done;
  }
  return store_end.empty() ? 0 : store_end.back();
}

// As the SystemC model runs on a memory: the loader issues chunk c's whole transfer once the
// array has released chunk c - 2's buffer half (the port keeps its requests in flight), the
// memory's one data bus does every transfer charged so far, in order, between refreshes,
// and the chunk is usable the unloaded latency after its last byte left the bus. Output
// tiles are written once the port has taken them (at once): the memory queues the write
// and drains it between reads, so it takes bus time from later loads without holding the
// array. The run ends with the last write's latency.
uint64_t memory_pipeline_cycles(const MacArrayParams& p, const std::vector<Chunk>& chunks,
                                const std::vector<double>& load_bus,
                                const std::vector<double>& store_bus) {
  const double latency = static_cast<double>(p.memory_latency_cycles);
  std::vector<double> release(chunks.size());
  double bus_free = 0, prev_release = 0, store_issue = 0;
  for (size_t c = 0; c < chunks.size(); ++c) {
    const Chunk& ch = chunks[c];
    const double issue = c >= 2 ? release[c - 2] : 0;
    bus_free = bus_done(p, std::max(issue, bus_free), load_bus[c]);
    double done = std::max(prev_release, bus_free + latency) + static_cast<double>(ch.kt) +
                  static_cast<double>(ch.last ? p.pipeline_depth : 0);
    if (ch.last) {
      store_issue = done;
      bus_free = bus_done(p, bus_free, store_bus[c]);
    }
    release[c] = prev_release = done;
  }
  return static_cast<uint64_t>(std::ceil(std::max(store_issue, bus_free) + latency - 1e-9));
}

void count_activity(const MacArrayParams& p, const std::vector<Chunk>& chunks, Counters& out) {
  for (const Chunk& ch : chunks) {
    // With a memory the memory prices its own commands (the twin: mac_array_twin.cpp).
    if (!p.offchip_memory) out.add("offchip", "dram_read_byte", ch.load_bytes());
    out.add("input_buffer", p.sram_action + "_write_byte", ch.load_bytes());
    out.add("input_buffer", p.sram_action + "_read_byte", ch.load_bytes());
    out.add("pe_array", "mac_int8", static_cast<uint64_t>(ch.rows * ch.cols * ch.kt));
    out.stat("pe_array.idle_pe_cycles",
             static_cast<uint64_t>((p.rows * p.cols - ch.rows * ch.cols) * ch.kt));
    if (ch.last && !p.offchip_memory) out.add("offchip", "dram_write_byte", ch.store_bytes());
  }
}

}  // namespace tessel::mac_array
