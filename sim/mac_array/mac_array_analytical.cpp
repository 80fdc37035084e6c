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

void count_activity(const MacArrayParams& p, const std::vector<Chunk>& chunks, Counters& out) {
  for (const Chunk& ch : chunks) {
    out.add("offchip", "dram_read_byte", ch.load_bytes());
    out.add("input_buffer", p.sram_action + "_write_byte", ch.load_bytes());
    out.add("input_buffer", p.sram_action + "_read_byte", ch.load_bytes());
    out.add("pe_array", "mac_int8", static_cast<uint64_t>(ch.rows * ch.cols * ch.kt));
    out.stat("pe_array.idle_pe_cycles",
             static_cast<uint64_t>((p.rows * p.cols - ch.rows * ch.cols) * ch.kt));
    if (ch.last) out.add("offchip", "dram_write_byte", ch.store_bytes());
  }
}

}  // namespace tessel::mac_array
