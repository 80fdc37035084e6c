// Closed-form LSTM-Sharp timing.
#include "sim/lstm_sharp/analytical.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "sim/lstm_sharp/weight_layout.h"

namespace tessel::lstm_sharp {
namespace {

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// `n` consecutive row blocks of one tile with the same pass time and element count.
struct Run {
  int64_t n = 0;
  int64_t pass = 1;      // cycles per DPU pass
  int64_t elements = 0;  // h elements each block completes
};

// At most three runs per tile (resident full blocks, streamed full blocks, a partial last
// block), kept on the stack: the twin evaluates thousands of shapes per second.
struct Runs {
  Run run[3];
  int count = 0;
  void push_back(const Run& r) { run[count++] = r; }
  const Run* begin() const { return run; }
  const Run* end() const { return run + count; }
};

// The per-layer constants every formula uses (the same as plan_layer's).
struct Shape {
  int64_t x, h, k, d, tiles, cx, ch, pass, streamed_pass, dpu_latency, lanes, mfu_latency;
  int64_t cap_rows;  // rows of weights one tile's SRAM holds
  bool gate_major;
  int64_t batch;  // sequences: the MFU takes each element once per sequence
};

Shape shape_of(const MachineParams& m, int64_t x, int64_t h, int64_t k) {
  const LayerPlan p = plan_layer_constants(m, x, h, k);
  return Shape{x,
               h,
               k,
               p.dpus_per_tile,
               m.tiles,
               p.wx_passes,
               p.uh_passes,
               p.pass_cycles,
               p.streamed_pass_cycles,
               p.dpu_latency,
               m.mfu_lanes,
               m.mfu_latency,
               static_cast<int64_t>(m.weight_sram_kib * 1024) / ((x + h) * 2),
               m.schedule == Schedule::kSequential,
               p.batch};
}

// The runs of one tile: `full` blocks of D rows then, if `last_rows` > 0, one block of
// `last_rows`; `before` rows of this tile's SRAM are already taken. A block streams once
// the tile's rows so far exceed the SRAM (plan_layer's rule). `per_row` elements per row
// (1/4 interleaved, 1 or 0 gate-major), given as numerator/denominator.
Runs tile_runs(const Shape& s, int64_t full, int64_t last_rows, int64_t before, int64_t elem_num,
               int64_t elem_den) {
  Runs runs;
  const int64_t resident = std::clamp<int64_t>((s.cap_rows - before) / s.d, 0, full);
  const int64_t e_full = s.d * elem_num / elem_den;
  if (resident > 0) runs.push_back({resident, s.pass, e_full});
  if (full > resident) runs.push_back({full - resident, s.streamed_pass, e_full});
  if (last_rows > 0) {
    const bool streamed = before + full * s.d + last_rows > s.cap_rows;
    runs.push_back({1, streamed ? s.streamed_pass : s.pass, last_rows * elem_num / elem_den});
  }
  return runs;
}

// A tile runs its blocks back to back, `passes` passes each, from time 0; a block's result
// leaves dpu_latency after its last pass and the MFU takes its elements in order (each once
// per sequence of the batch), `lanes` a cycle. Returns {end of the last pass, h of the last element
// ready (0 if none)}. The MFU finishes at max over blocks j of (done_j + MFU time of blocks
// j..last); within a run that is linear in j, so only the runs' first and last blocks need
// evaluating.
std::pair<int64_t, int64_t> flow(const Shape& s, const Runs& runs, int64_t passes) {
  int64_t end = 0, mfu_total = 0;
  for (const Run& r : runs) {
    end += r.n * r.pass * passes;
    mfu_total += r.n * ceil_div(r.elements * s.batch, s.lanes);
  }
  int64_t t = 0, mfu_after = mfu_total, finish = 0;  // mfu_after: MFU time of blocks j..last
  for (const Run& r : runs) {
    const int64_t c = r.pass * passes, m = ceil_div(r.elements * s.batch, s.lanes);
    if (m > 0) {
      finish = std::max(finish, t + c + s.dpu_latency + mfu_after);                        // first
      finish = std::max(finish, t + r.n * c + s.dpu_latency + mfu_after - (r.n - 1) * m);  // last
    }
    t += r.n * c;
    mfu_after -= r.n * m;
  }
  return {end, mfu_total > 0 ? finish + s.mfu_latency : 0};
}

// Interleaved rows: block b of ceil(4H / D) goes to tile b mod T; the last may be partial.
Runs interleaved_runs(const Shape& s, int64_t tile, int64_t* blocks) {
  const int64_t rows = 4 * s.h, nb = ceil_div(rows, s.d);
  const int64_t n = tile < nb ? ceil_div(nb - tile, s.tiles) : 0;
  *blocks = n;
  const bool has_last = n > 0 && (nb - 1) % s.tiles == tile;
  const int64_t last_rows = has_last ? rows - (nb - 1) * s.d : 0;
  return tile_runs(s, has_last ? n - 1 : n, last_rows, 0, 1, 4);
}

int64_t barrier_step(const Shape& s) {
  if (!s.gate_major) {
    int64_t step = 0, blocks = 0;
    for (int64_t t = 0; t < s.tiles; ++t)
      step = std::max(step, flow(s, interleaved_runs(s, t, &blocks), s.cx + s.ch).second);
    return step;
  }
  // Gate-major: each gate's H rows are dealt out afresh from tile 0; a gate starts when the
  // previous one has left every DPU; only the last gate's blocks complete elements.
  const int64_t nb = ceil_div(s.h, s.d);
  std::vector<int64_t> before(static_cast<size_t>(s.tiles), 0);
  int64_t start = 0, step = 0;
  for (int g = 0; g < 4; ++g) {
    int64_t gate_end = start;
    for (int64_t t = 0; t < std::min(s.tiles, nb); ++t) {
      const int64_t n = ceil_div(nb - t, s.tiles);
      const bool has_last = (nb - 1) % s.tiles == t;
      const int64_t last_rows = has_last ? s.h - (nb - 1) * s.d : 0;
      auto runs = tile_runs(s, has_last ? n - 1 : n, last_rows, before[t], g == 3 ? 1 : 0, 1);
      auto [end, ready] = flow(s, runs, s.cx + s.ch);
      gate_end = std::max(gate_end, start + end + s.dpu_latency);
      if (g == 3) step = std::max(step, start + ready);
      before[t] += (has_last ? n - 1 : n) * s.d + last_rows;
    }
    start = gate_end;
  }
  return step;
}

// Whether any tile holds more weight rows than its SRAM: then the layer waits one off-chip
// latency for its first streamed weights.
bool streams(const Shape& s) {
  const int64_t rows = s.gate_major ? s.h : 4 * s.h;
  const int64_t nb = ceil_div(rows, s.d);
  const int64_t last_rows = rows - (nb - 1) * s.d;
  const int64_t gates = s.gate_major ? 4 : 1;
  for (int64_t t = 0; t < std::min(s.tiles, nb); ++t) {
    const int64_t n = ceil_div(nb - t, s.tiles);
    const bool has_last = (nb - 1) % s.tiles == t;
    if (gates * ((has_last ? n - 1 : n) * s.d + (has_last ? last_rows : 0)) > s.cap_rows)
      return true;
  }
  return false;
}

// Bursts (kPartAlign-byte windows: 64 B, the burst of the DDR4 and DDR5 presets, the only
// memories the twin prices) that one
// block part of `rows` rows × `columns` reads, chunk by chunk, as weight_layout.cpp stores it:
// from a burst boundary, pass-major, chunks of rows × min(K, columns − c) int16 one after
// another. A chunk that is not a whole number of bursts shares its last burst with the next,
// and each is a read of its own, so the memory moves that burst twice.
int64_t part_bursts(int64_t rows, int64_t columns, int64_t k) {
  const int64_t burst = static_cast<int64_t>(kPartAlign);
  int64_t bursts = 0, at = 0;
  for (int64_t c = 0; c < columns; c += k) {
    const int64_t bytes = rows * std::min(k, columns - c) * 2;
    bursts += ceil_div(at + bytes, burst) - at / burst;
    at += bytes;
  }
  return bursts;
}

// DRAM bytes one step of the layer's streamed weights moves, per tile and stream (W·x, U·h):
// whole bursts per chunk.
std::vector<std::array<double, 2>> stream_burst_bytes(const LayerPlan& plan) {
  std::vector<std::array<double, 2>> bytes(static_cast<size_t>(plan.tiles), {0, 0});
  int64_t rows = -1, wx = 0, uh = 0;
  for (const RowBlock& b : plan.blocks) {
    if (!b.streamed) continue;
    if (b.rows != rows) {  // blocks have at most two sizes: D rows and a last, partial one
      rows = b.rows;
      wx = part_bursts(rows, plan.input, plan.dpu_width);
      uh = part_bursts(rows, plan.hidden, plan.dpu_width);
    }
    const double burst = static_cast<double>(kPartAlign);
    bytes[static_cast<size_t>(b.tile)][0] += static_cast<double>(wx) * burst;
    bytes[static_cast<size_t>(b.tile)][1] += static_cast<double>(uh) * burst;
  }
  return bytes;
}

}  // namespace

uint64_t analytical_layer_cycles(const MachineParams& m, int64_t input, int64_t hidden, int64_t k,
                                 int64_t seq_len, int64_t io_bytes_per_step, bool run_start) {
  if (m.memory_bytes_per_cycle > 0) {
    // Bound to a memory: the tiles' stream engines prefetch ahead of the DPUs and share
    // the memory, so a layer takes the longer of its compute (streamed passes at the SRAM
    // rate, the data waiting in the stream buffer) and the memory's time for the bursts its
    // streamed weights, x and h move, after one read latency (docs/lstm_sharp.md,
    // "Off-chip memory").
    MachineParams fast = m;
    fast.memory_bytes_per_cycle = 0;
    fast.offchip_bytes_per_cycle = 1e30;
    fast.offchip_latency_cycles = 0;
    const uint64_t compute = analytical_layer_cycles(fast, input, hidden, k, seq_len);
    const LayerPlan plan = plan_layer(m, input, hidden, k);
    if (plan.streamed_bytes == 0) return compute;
    const double steps = static_cast<double>(seq_len);
    const double half = static_cast<double>(m.stream_buffer_bytes / 2);
    // At the start of the run every stream engine requests what its half of the stream
    // buffer holds (or its whole stream), all at once, and the engines take the port's
    // slots in an order of their own (weight_streamer.cpp, offchip_port.cpp), not the one
    // the tiles need: measured, the tiles, tied by h(t-1) and the barriers, start when the
    // last engine (the last tile's U·h) has had its first chunk, behind the others'
    // prefill. A compute-bound run never recovers that time.
    double step_bytes = static_cast<double>(io_bytes_per_step), prefill = 0, last = 0;
    for (const auto& tile : stream_burst_bytes(plan)) {
      for (double b : tile) {
        if (b == 0) continue;
        step_bytes += b;
        last = std::min(half, b * steps);
        prefill += last;
      }
    }
    const double memory = step_bytes * steps / m.memory_bytes_per_cycle;
    const double stall = run_start ? (prefill - last) / m.memory_bytes_per_cycle : 0;
    return m.memory_latency_cycles +
           static_cast<uint64_t>(std::ceil(std::max(static_cast<double>(compute) + stall, memory)));
  }
  const Shape s = shape_of(m, input, hidden, k);
  const int64_t fetch = streams(s) ? static_cast<int64_t>(m.offchip_latency_cycles) : 0;
  const int64_t first = barrier_step(s);
  if (m.schedule == Schedule::kSequential || m.schedule == Schedule::kInterGate)
    return static_cast<uint64_t>(fetch + seq_len * first);

  // Per tile, with W·x assumed hidden: U·h and W·x work per step, and its drain gap (last
  // U·h pass → its last element ready), from the same flow shop over U·h passes only.
  struct Terms {
    int64_t uh = 0, wx = 0, gap = 0, blocks = 0, first_pass = 1;
  };
  std::vector<Terms> terms;
  int64_t most = 0;
  for (int64_t t = 0; t < s.tiles; ++t) {
    Terms tt;
    auto runs = interleaved_runs(s, t, &tt.blocks);
    if (tt.blocks == 0) continue;
    for (const Run& r : runs) {
      tt.uh += r.n * r.pass * s.ch;
      tt.wx += r.n * r.pass * s.cx;
    }
    tt.first_pass = runs.begin()->pass;
    auto [end, ready] = flow(s, runs, s.ch);
    tt.gap = std::max<int64_t>(0, ready - end);
    most = std::max(most, tt.blocks);
    terms.push_back(tt);
  }
  int64_t period = 0;
  if (m.schedule == Schedule::kUnfolded) {
    // W·x of step t+1 runs while the tile waits for the barrier: each tile needs its U·h,
    // then either its W·x work or its own drain gap, whichever is longer.
    for (const auto& t : terms) period = std::max(period, t.uh + std::max(t.wx, t.gap));
  } else {
    // SHARP: no barrier. A slice of h(t-1) is "late" if a tile's final block of the step
    // produces part of it: those are the last blocks of the tiles with the most blocks,
    // consecutive block indices, so the late slices run from the first such block's first
    // element to the end of h. A tile starts its first block of step t on the early slices
    // right after its own last block, waits (doing W·x ahead) until the late slices arrive,
    // runs their passes, then the U·h of its other blocks. The work bound holds as well.
    const int64_t nb = ceil_div(4 * s.h, s.d);
    const int64_t first_late_element = (most - 1) * s.tiles * s.d / 4;
    const int64_t n_late = nb > 0 ? s.ch - first_late_element / s.k : 0;
    // The first block's passes run at its own rate (resident or streamed), the other
    // blocks' U·h at theirs: a tile whose later blocks stream is slower only there.
    for (const auto& t : terms) {
      const int64_t early = (s.ch - n_late) * t.first_pass;
      const int64_t chain =
          std::max(early, t.gap) + n_late * t.first_pass + (t.uh - s.ch * t.first_pass);
      period = std::max({period, t.uh + t.wx, chain});
    }
  }
  return static_cast<uint64_t>(fetch + first + (seq_len - 1) * period);
}

}  // namespace tessel::lstm_sharp
