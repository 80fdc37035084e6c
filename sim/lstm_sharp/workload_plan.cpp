// Workload → passes.
#include "sim/lstm_sharp/workload_plan.h"

#include <algorithm>
#include <string>

#include "sim/lstm_sharp/analytical.h"
#include "sim/lstm_sharp/gpu_reference.h"

namespace tessel::lstm_sharp {

std::vector<int64_t> choose_widths(const MachineParams& m, const LstmWorkload& w,
                                   uint64_t* cycles) {
  const int64_t dirs = w.bidirectional ? 2 : 1;
  const size_t layers = static_cast<size_t>(w.layers);
  auto layer_cycles = [&](size_t l, int64_t k) {
    const int64_t input = l == 0 ? w.input_size : dirs * w.hidden_size;
    return static_cast<uint64_t>(dirs) *
           analytical_layer_cycles(m, input, w.hidden_size, k, w.seq_len);
  };
  if (!m.reconfigurable) {
    if (cycles) {
      *cycles = 0;
      for (size_t l = 0; l < layers; ++l) *cycles += layer_cycles(l, m.dpu_width);
    }
    return std::vector<int64_t>(layers, m.dpu_width);
  }
  std::vector<int64_t> widths = m.dpu_width_options;
  std::sort(widths.begin(), widths.end());
  const size_t n = widths.size();
  // total[k]: least cycles of layers 0..l ending at width k; from[l·n + k]: the width
  // layer l-1 ran at on that path.
  std::vector<uint64_t> total(n, 0), next(n);
  std::vector<size_t> from(layers * n);
  const uint64_t switch_cost = static_cast<uint64_t>(m.reconfig_cycles);
  for (size_t l = 0; l < layers; ++l) {
    for (size_t k = 0; k < n; ++k) {
      // Staying at width k is free; a switch from j pays reconfig_cycles (ties: stay).
      uint64_t best = total[k];
      from[l * n + k] = k;
      for (size_t j = 0; j < n && l > 0; ++j) {
        if (j != k && total[j] + switch_cost < best) {
          best = total[j] + switch_cost;
          from[l * n + k] = j;
        }
      }
      next[k] = best + layer_cycles(l, widths[k]);
    }
    total.swap(next);
  }
  size_t k = static_cast<size_t>(std::min_element(total.begin(), total.end()) - total.begin());
  if (cycles) *cycles = total[k];
  std::vector<int64_t> chosen(layers);
  for (size_t l = layers; l-- > 0;) {
    chosen[l] = widths[k];
    k = from[l * n + k];
  }
  return chosen;
}

std::vector<PassPlan> plan_workload(const MachineParams& m, const LstmWorkload& w) {
  std::vector<PassPlan> passes;
  const int64_t dirs = w.bidirectional ? 2 : 1;
  const std::vector<int64_t> widths = choose_widths(m, w);
  for (int64_t l = 0; l < w.layers; ++l) {
    const int64_t input = l == 0 ? w.input_size : dirs * w.hidden_size;
    const LayerPlan plan = plan_layer(m, input, w.hidden_size, widths[static_cast<size_t>(l)]);
    for (int64_t d = 0; d < dirs; ++d) passes.push_back(PassPlan{plan, l, d});
  }
  return passes;
}

int64_t reconfigurations(const std::vector<PassPlan>& passes) {
  int64_t n = 0;
  for (size_t p = 1; p < passes.size(); ++p)
    n += passes[p].plan.dpu_width != passes[p - 1].plan.dpu_width;
  return n;
}

uint64_t analytical_workload_cycles(const MachineParams& m, const LstmWorkload& w) {
  uint64_t cycles = 0;
  choose_widths(m, w, &cycles);
  return cycles;
}

double workload_macs(const std::vector<PassPlan>& passes, int64_t seq_len) {
  double macs = 0;
  for (const auto& p : passes)
    macs += 4.0 * p.plan.hidden * (p.plan.input + p.plan.hidden) * static_cast<double>(seq_len) *
            static_cast<double>(p.plan.batch);
  return macs;
}

void add_gpu_metrics(const MachineParams& m, const LstmWorkload& w, double seconds,
                     std::map<std::string, double>& metrics) {
  // The anchors are cuDNN at batch 1 (configs/baselines/gpu_h100_cudnn_lstm.yaml): a GPU
  // at batch B amortises its per-step latency over B sequences, by how much no anchor says,
  // so batched runs report no GPU comparison rather than an invented one.
  if (m.gpu_reference.empty() || w.batch != 1) return;
  const double gpu = GpuReference::load(m.gpu_reference).seconds(w);
  metrics["gpu_seconds_estimate"] = gpu;
  metrics["speedup_vs_gpu"] = gpu / seconds;
}

void add_batch_metrics(const MachineParams& m, const LstmWorkload& w, uint64_t cycles,
                       std::map<std::string, double>& metrics) {
  const double batch = static_cast<double>(w.batch);
  metrics["cycles_per_sample"] = static_cast<double>(cycles) / batch;
  metrics["samples_per_second"] = batch * m.clock_ghz * 1e9 / static_cast<double>(cycles);
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
  metrics["reconfigurations"] = static_cast<double>(reconfigurations(passes));
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
      // Weights are read once a step for the whole batch; the rest is per sequence.
      const uint64_t per_seq = steps * static_cast<uint64_t>(p.batch);
      a.macs += per_seq * static_cast<uint64_t>(b.rows * (p.input + p.hidden));
      a.accumulations += per_seq * static_cast<uint64_t>(b.rows * (p.wx_passes + p.uh_passes));
      const uint64_t bytes = steps * static_cast<uint64_t>(b.rows * (p.input + p.hidden) * 2);
      (b.streamed ? a.streamed_weight_bytes : a.weight_sram_bytes) += bytes;
      a.act_buffer_bytes +=
          per_seq * static_cast<uint64_t>((p.wx_passes + p.uh_passes) * p.dpu_width * 2);
      if (ahead) a.psum_bytes += per_seq * 2 * kPsumBytes * static_cast<uint64_t>(b.rows);
      a.mfu_elements += per_seq * static_cast<uint64_t>(b.elements);
    }
  }
  const SramMacros macros = sram_macros(m);
  for (size_t i = 0; i < tiles.size(); ++i)
    add_tile_counters("tile" + std::to_string(i), tiles[i], macros, out);
  add_io_counters(w, out);
}

void add_io_counters(const LstmWorkload& w, Counters& out) {
  const int64_t dirs = w.bidirectional ? 2 : 1;
  out.add("offchip", "dram_read_byte",
          static_cast<uint64_t>(w.batch * w.seq_len * w.input_size * 2));
  out.add("offchip", "dram_write_byte",
          static_cast<uint64_t>(w.batch * w.seq_len * dirs * w.hidden_size * 2));
}

}  // namespace tessel::lstm_sharp
