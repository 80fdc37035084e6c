// Laying out the input, output and streamed weights of a run in off-chip memory.
#include "sim/lstm_sharp/weight_layout.h"

#include <algorithm>

namespace tessel::lstm_sharp {
namespace {

uint64_t align(uint64_t a) {
  return (a + kRegionAlign - 1) / kRegionAlign * kRegionAlign;
}

}  // namespace

uint64_t WeightLayout::step_bytes(size_t p) const {
  uint64_t b = 0;
  for (const auto& tile : streams[p])
    for (const auto& stream : tile)
      for (const Chunk& c : stream) b += c.bytes;
  return b;
}

WeightLayout make_weight_layout(const std::vector<PassPlan>& passes, const LstmWorkload& w,
                                bool tile_major) {
  WeightLayout l;
  l.directions = w.bidirectional ? 2 : 1;
  // A step's x (h) holds every sequence of the batch, one after the other.
  l.input_step_bytes = static_cast<uint64_t>(w.batch * w.input_size) * 2;
  l.output_step_bytes = static_cast<uint64_t>(w.batch * w.hidden_size) * 2;
  l.input_base = 0;
  l.output_base = align(l.input_base + static_cast<uint64_t>(w.seq_len) * l.input_step_bytes);
  uint64_t next =
      align(l.output_base + static_cast<uint64_t>(w.seq_len * l.directions) * l.output_step_bytes);
  for (const PassPlan& pp : passes) {
    const LayerPlan& plan = pp.plan;
    const size_t tiles = static_cast<size_t>(plan.tiles);
    auto& pass = l.streams.emplace_back(tiles, std::vector<std::vector<Chunk>>(2));
    // Each tile's streamed blocks, in its order.
    std::vector<std::vector<const RowBlock*>> mine(tiles);
    size_t rounds = 0;
    for (size_t t = 0; t < tiles; ++t) {
      for (int64_t bi : plan.tile_blocks[t])
        if (plan.blocks[static_cast<size_t>(bi)].streamed)
          mine[t].push_back(&plan.blocks[static_cast<size_t>(bi)]);
      rounds = std::max(rounds, mine[t].size());
    }
    for (int s = 0; s < 2; ++s) {
      const int64_t columns = s == 0 ? plan.input : plan.hidden;
      uint64_t a = next;
      // One block's W (U) part: pass-major chunks, from a burst boundary.
      auto place = [&](size_t t, const RowBlock& b) {
        a = (a + kPartAlign - 1) / kPartAlign * kPartAlign;
        for (int64_t c = 0; c < columns; c += plan.dpu_width) {
          const uint64_t bytes =
              static_cast<uint64_t>(b.rows * std::min(plan.dpu_width, columns - c) * 2);
          pass[t][static_cast<size_t>(s)].push_back(Chunk{a, bytes});
          a += bytes;
        }
      };
      if (tile_major) {
        for (size_t t = 0; t < tiles; ++t) {
          for (const RowBlock* b : mine[t]) place(t, *b);
          a = align(a);
        }
      } else {
        for (size_t i = 0; i < rounds; ++i)
          for (size_t t = 0; t < tiles; ++t)
            if (i < mine[t].size()) place(t, *mine[t][i]);
      }
      next = align(a);
    }
  }
  l.end = next;
  return l;
}

}  // namespace tessel::lstm_sharp
