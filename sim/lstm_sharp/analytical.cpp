// Closed-form LSTM-Sharp timing.
#include "sim/lstm_sharp/analytical.h"

#include <algorithm>

namespace tessel::lstm_sharp {
namespace {

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

// One barrier-to-barrier step: every tile runs its blocks (W·x then U·h) back to back from
// the step (or gate) start; the DPU result leaves `dpu_latency` cycles after the last pass;
// the tile's MFU takes the completed elements in order, `lanes` a cycle, and h is ready
// `mfu_latency` cycles after the MFU has taken an element.
int64_t barrier_step(const LayerPlan& p) {
  const int gates = p.gate_major ? 4 : 1;
  int64_t start = 0, step_end = 0;
  for (int g = 0; g < gates; ++g) {
    int64_t gate_end = start;
    for (const auto& list : p.tile_blocks) {
      int64_t t = start, mfu_free = 0;
      for (int64_t bi : list) {
        const RowBlock& b = p.blocks[bi];
        if (p.gate_major && b.gate != g) continue;
        t += p.pass_of(b) * (p.wx_passes + p.uh_passes);
        const int64_t done = t + p.dpu_latency;
        gate_end = std::max(gate_end, done);
        if (b.elements > 0) {
          mfu_free = std::max(done, mfu_free) + ceil_div(b.elements, p.mfu_lanes);
          step_end = std::max(step_end, mfu_free + p.mfu_latency);
        }
      }
    }
    start = gate_end;
  }
  return step_end;
}

// Per tile, with W·x assumed hidden: its U·h work, its W·x work, and how long after its
// last U·h pass its last element is ready (the same flow shop over U·h passes only).
std::vector<TileTerms> tile_terms(const LayerPlan& p) {
  std::vector<TileTerms> out;
  for (const auto& list : p.tile_blocks) {
    TileTerms tt;
    int64_t t = 0, mfu_free = 0, ready = 0;
    for (int64_t bi : list) {
      const RowBlock& b = p.blocks[bi];
      const int64_t pass = p.pass_of(b);
      tt.uh += pass * p.uh_passes;
      tt.wx += pass * p.wx_passes;
      tt.last_pass = pass;
      t += pass * p.uh_passes;
      if (b.elements > 0) {
        mfu_free = std::max(t + p.dpu_latency, mfu_free) + ceil_div(b.elements, p.mfu_lanes);
        ready = std::max(ready, mfu_free + p.mfu_latency);
      }
    }
    tt.blocks = static_cast<int64_t>(list.size());
    tt.gap = std::max<int64_t>(0, ready - t);
    out.push_back(tt);
  }
  return out;
}

uint64_t analytical_layer_cycles(const MachineParams& m, const LayerPlan& p, int64_t seq_len) {
  const int64_t first = barrier_step(p);
  int64_t period = 0;
  switch (m.schedule) {
    case Schedule::kSequential:
    case Schedule::kInterGate:
      return static_cast<uint64_t>(seq_len * first);
    case Schedule::kUnfolded:
      // W·x of step t+1 runs while the tile waits for the barrier: each tile needs its
      // U·h, then either its W·x work or its own drain gap, whichever is longer.
      for (const auto& t : tile_terms(p)) period = std::max(period, t.uh + std::max(t.wx, t.gap));
      break;
    case Schedule::kSharp: {
      // No barrier. A slice of h(t-1) is "late" if a tile's final block of the step
      // produces part of it: those blocks finish together, `gap` after the tiles' last
      // passes. A tile starts its first block of step t on the early slices right after its
      // own last block, waits (doing W·x ahead) until the late slices arrive, runs their
      // passes, then the U·h of its other blocks. The work bound U·h + W·x holds as well.
      const auto terms = tile_terms(p);
      int64_t most = 0;
      for (const auto& t : terms) most = std::max(most, t.blocks);
      std::vector<bool> late(static_cast<size_t>(p.uh_passes), false);
      for (const auto& list : p.tile_blocks) {
        if (static_cast<int64_t>(list.size()) != most) continue;
        const RowBlock& b = p.blocks[list.back()];
        for (int64_t e = b.first_element; e < b.first_element + b.elements; ++e)
          late[static_cast<size_t>(e / p.dpu_width)] = true;
      }
      const int64_t n_late = std::count(late.begin(), late.end(), true);
      for (const auto& t : terms) {
        const int64_t early = (p.uh_passes - n_late) * t.last_pass;
        const int64_t chain = std::max(early, t.gap) + n_late * t.last_pass +
                              (t.blocks - 1) * p.uh_passes * t.last_pass;
        period = std::max({period, t.uh + t.wx, chain});
      }
      break;
    }
  }
  return static_cast<uint64_t>(first + (seq_len - 1) * period);
}

}  // namespace tessel::lstm_sharp
