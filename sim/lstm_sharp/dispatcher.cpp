// Dependence scoreboard bookkeeping.
#include "sim/lstm_sharp/dispatcher.h"

#include <algorithm>

namespace tessel::lstm_sharp {

Dispatcher::Dispatcher(sc_core::sc_module_name name, const std::vector<PassPlan>& passes,
                       int64_t seq_len, Schedule schedule, int64_t fetch_latency,
                       int64_t reconfig_cycles)
    : sc_module(name),
      passes_(passes),
      seq_len_(seq_len),
      schedule_(schedule),
      fetch_latency_(fetch_latency),
      reconfig_cycles_(reconfig_cycles) {
  for (const auto& pp : passes_) {
    const LayerPlan& plan = pp.plan;
    Board b;
    b.segments = plan.uh_passes;
    b.seg_count.assign(static_cast<size_t>(seq_len * b.segments), 0);
    b.seg_ready.assign(b.seg_count.size(), 0);
    b.step_count.assign(static_cast<size_t>(seq_len), 0);
    b.step_ready.assign(b.step_count.size(), 0);
    b.gate_count.assign(static_cast<size_t>(seq_len * 4), 0);
    b.gate_ready.assign(b.gate_count.size(), 0);
    b.gate_blocks.assign(4, 0);
    for (const auto& blk : plan.blocks)
      if (blk.gate >= 0) ++b.gate_blocks[blk.gate];
    boards_.push_back(std::move(b));
  }
}

void Dispatcher::publish(size_t p, int64_t t, const RowBlock& block, int64_t ready) {
  Board& b = boards_[p];
  const int64_t k = passes_[p].plan.dpu_width;
  int64_t e = block.first_element;
  const int64_t end = block.first_element + block.elements;
  while (e < end) {
    const int64_t j = e / k;
    const int64_t n = std::min(end, (j + 1) * k) - e;
    const size_t s = static_cast<size_t>(t * b.segments + j);
    b.seg_count[s] += n;
    b.seg_ready[s] = std::max(b.seg_ready[s], ready);
    e += n;
  }
  if (recording_) produced_.push_back({p, t, block.first_element, block.elements, ready});
  b.step_count[t] += block.elements;
  b.step_ready[t] = std::max(b.step_ready[t], ready);
  changed.notify(sc_core::SC_ZERO_TIME);
}

int64_t Dispatcher::step_ready(size_t p, int64_t t) const {
  if (t < 0) return pass_start(p);
  const Board& b = boards_[p];
  return b.step_count[t] == passes_[p].plan.hidden ? b.step_ready[t] : -1;
}

int64_t Dispatcher::segment_ready(size_t p, int64_t t, int64_t j) const {
  if (t == 0) return pass_start(p);
  if (schedule_ != Schedule::kSharp) return step_ready(p, t - 1);
  const Board& b = boards_[p];
  const size_t s = static_cast<size_t>((t - 1) * b.segments + j);
  const int64_t size = passes_[p].plan.segment_last_element(j) + 1 - j * passes_[p].plan.dpu_width;
  return b.seg_count[s] == size ? b.seg_ready[s] : -1;
}

void Dispatcher::gate_block_done(size_t p, int64_t t, int64_t g, int64_t done) {
  Board& b = boards_[p];
  const size_t s = static_cast<size_t>(t * 4 + g);
  ++b.gate_count[s];
  b.gate_ready[s] = std::max(b.gate_ready[s], done);
  changed.notify(sc_core::SC_ZERO_TIME);
}

int64_t Dispatcher::gate_ready(size_t p, int64_t t, int64_t g) const {
  const Board& b = boards_[p];
  const size_t s = static_cast<size_t>(t * 4 + g);
  return b.gate_count[s] == b.gate_blocks[g] ? b.gate_ready[s] : -1;
}

int64_t Dispatcher::pass_start(size_t p) const {
  const int64_t previous = p == 0 ? 0 : step_ready(p - 1, seq_len_ - 1);
  if (previous < 0) return -1;
  // The previous pass has drained (all its outputs are ready); a new DPU width then costs
  // the reconfiguration, and streamed weights their first fetch, one after the other.
  const bool switching = p > 0 && passes_[p].plan.dpu_width != passes_[p - 1].plan.dpu_width;
  return previous + (switching ? reconfig_cycles_ : 0) +
         (passes_[p].plan.streamed_bytes > 0 ? fetch_latency_ : 0);
}

}  // namespace tessel::lstm_sharp
