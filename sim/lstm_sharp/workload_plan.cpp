// Workload → passes.
#include "sim/lstm_sharp/workload_plan.h"

#include <algorithm>
#include <string>

#include "sim/lstm_sharp/analytical.h"
#include "sim/lstm_sharp/gpu_reference.h"

namespace tessel::lstm_sharp {

std::vector<PassPlan> plan_workload(const MachineParams& m, const LstmWorkload& w) {
  std::vector<PassPlan> passes;
  const int64_t dirs = w.bidirectional ? 2 : 1;
  for (int64_t l = 0; l < w.layers; ++l) {
    const int64_t input = l == 0 ? w.input_size : dirs * w.hidden_size;
    LayerPlan plan = choose_plan(m, input, w.hidden_size, w.seq_len);
    for (int64_t d = 0; d < dirs; ++d) passes.push_back(PassPlan{plan, l, d});
  }
  return passes;
}

uint64_t analytical_workload_cycles(const MachineParams& m, const LstmWorkload& w) {
  const int64_t dirs = w.bidirectional ? 2 : 1;
  uint64_t cycles = 0;
  for (int64_t l = 0; l < w.layers; ++l) {
    const int64_t input = l == 0 ? w.input_size : dirs * w.hidden_size;
    uint64_t best = 0;
    if (m.reconfigurable) {
      for (int64_t k : m.dpu_width_options) {
        const uint64_t c = analytical_layer_cycles(m, input, w.hidden_size, k, w.seq_len);
        if (best == 0 || c < best) best = c;
      }
    } else {
      best = analytical_layer_cycles(m, input, w.hidden_size, m.dpu_width, w.seq_len);
    }
    cycles += static_cast<uint64_t>(dirs) * best;
  }
  return cycles;
}

double workload_macs(const std::vector<PassPlan>& passes, int64_t seq_len) {
  double macs = 0;
  for (const auto& p : passes)
    macs += 4.0 * p.plan.hidden * (p.plan.input + p.plan.hidden) * static_cast<double>(seq_len);
  return macs;
}

void add_gpu_metrics(const MachineParams& m, const LstmWorkload& w, double seconds,
                     std::map<std::string, double>& metrics) {
  if (m.gpu_reference.empty()) return;
  const double gpu = GpuReference::load(m.gpu_reference).seconds(w);
  metrics["gpu_seconds_estimate"] = gpu;
  metrics["speedup_vs_gpu"] = gpu / seconds;
}

void add_plan_metrics(const std::vector<PassPlan>& passes, std::map<std::string, double>& metrics) {
  double weight = 0, streamed = 0;
  for (const auto& p : passes) {
    if (p.direction == 0)
      metrics["dpu_width_layer" + std::to_string(p.layer)] = static_cast<double>(p.plan.dpu_width);
    weight += static_cast<double>(p.plan.weight_bytes);
    streamed += static_cast<double>(p.plan.streamed_bytes);
  }
  metrics["weights_streamed_fraction"] = weight > 0 ? streamed / weight : 0;
}

void add_sram_metrics(const MachineParams& m, std::map<std::string, double>& metrics) {
  metrics["weight_sram_banks"] = static_cast<double>(m.weight_sram_banks);
  // Share of the widest datapath's weight demand (2 bytes per MAC lane per cycle) the banks
  // can deliver each cycle; below 1 the SRAM, not the MACs, bounds the dot products.
  const double demand = static_cast<double>(m.mac_budget / m.tiles * 2);
  metrics["weight_sram_feed_fraction"] =
      std::min(1.0, static_cast<double>(m.weight_sram_banks * m.weight_sram_bank_bytes) / demand);
}

}  // namespace tessel::lstm_sharp

namespace tessel::lstm_sharp {

void analytical_activity(const MachineParams& m, const LstmWorkload& w,
                         const std::vector<PassPlan>& passes, Counters& out) {
  const bool ahead = m.schedule == Schedule::kUnfolded || m.schedule == Schedule::kSharp;
  std::vector<TileActivity> tiles(static_cast<size_t>(m.tiles));
  for (const auto& pp : passes) {
    const LayerPlan& p = pp.plan;
    for (const auto& b : p.blocks) {
      TileActivity& a = tiles[static_cast<size_t>(b.tile)];
      const uint64_t steps = static_cast<uint64_t>(w.seq_len);
      a.macs += steps * static_cast<uint64_t>(b.rows * (p.input + p.hidden));
      a.accumulations += steps * static_cast<uint64_t>(b.rows * (p.wx_passes + p.uh_passes));
      const uint64_t bytes = steps * static_cast<uint64_t>(b.rows * (p.input + p.hidden) * 2);
      (b.streamed ? a.streamed_weight_bytes : a.weight_sram_bytes) += bytes;
      a.act_buffer_bytes +=
          steps * static_cast<uint64_t>((p.wx_passes + p.uh_passes) * p.dpu_width * 2);
      if (ahead) a.psum_bytes += steps * 2 * kPsumBytes * static_cast<uint64_t>(b.rows);
      a.mfu_elements += steps * static_cast<uint64_t>(b.elements);
    }
  }
  const SramMacros macros = sram_macros(m);
  for (size_t i = 0; i < tiles.size(); ++i)
    add_tile_counters("tile" + std::to_string(i), tiles[i], macros, out);
  add_io_counters(w, out);
}

void add_io_counters(const LstmWorkload& w, Counters& out) {
  const int64_t dirs = w.bidirectional ? 2 : 1;
  out.add("offchip", "dram_read_byte", static_cast<uint64_t>(w.seq_len * w.input_size * 2));
  out.add("offchip", "dram_write_byte",
          static_cast<uint64_t>(w.seq_len * dirs * w.hidden_size * 2));
}

}  // namespace tessel::lstm_sharp
