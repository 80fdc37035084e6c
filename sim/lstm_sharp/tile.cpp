// Tile behaviour: dispatch order, dependence waits, W·x run-ahead, DPU and MFU timing.
#include "sim/lstm_sharp/tile.h"

#include <algorithm>

#include "sim/lstm_sharp/weight_streamer.h"

namespace tessel::lstm_sharp {

Tile::Tile(sc_core::sc_module_name name, int64_t id, Dispatcher& dispatcher,
           std::vector<PassData>* data, int64_t runahead_steps, const sim::Clock& clock,
           TraceWriter* trace, bool rtl_dpu)
    : sc_module(name),
      id_(id),
      dispatcher_(dispatcher),
      data_(data),
      runahead_steps_(runahead_steps),
      clock_(clock),
      trace_(trace),
      dpu_(make_dpu(rtl_dpu)) {
  SC_THREAD(run);
}

// A pass takes what the weight SRAM (or the off-chip stream) needs, and at least the
// DPU's initiation interval (1 for the behavioural DPU, measured for the Verilated one).
// With a memory, a streamed block's data sits in the stream buffer when its pass starts
// (streamed_pass waits for it), so the pass runs at the SRAM rate.
int64_t Tile::pass_cycles(const LayerPlan& plan, const RowBlock& b) const {
  const int64_t pass = streams_[0] ? plan.pass_cycles : plan.pass_of(b);
  return std::max(pass, dpu_->ii());
}

void Tile::streamed_pass(int s, int64_t pass) {
  uint64_t waited = 0;
  streams_[s]->acquire(&waited);
  activity_.stall_cycles += waited;
  activity_.weight_wait_cycles += waited;
  busy(pass);
  streams_[s]->release();
}

int64_t Tile::pytorch_row(const LayerPlan& plan, int64_t row) const {
  return plan.gate_major ? row : (row % 4) * plan.hidden + row / 4;
}

void Tile::wait_until(int64_t cycle, bool stall) {
  const int64_t now = static_cast<int64_t>(clock_.now_cycles());
  if (cycle <= now) return;
  if (stall) activity_.stall_cycles += static_cast<uint64_t>(cycle - now);
  if (trace_ && stall) trace_->span(track_, "stall", clock_.now_ns(), (cycle - now) / clock_.ghz());
  sc_core::wait(clock_.cycles(static_cast<uint64_t>(cycle - now)));
}

void Tile::busy(int64_t cycles) {
  activity_.busy_cycles += static_cast<uint64_t>(cycles);
  sc_core::wait(clock_.cycles(static_cast<uint64_t>(cycles)));
}

// Layer l > 0 reads, at each time step, the outputs of both directions of layer l-1
// (forward then reverse), which exist once the earlier passes have finished.
void assemble_input(std::vector<PassData>& data, const std::vector<PassPlan>& passes, size_t p,
                    int64_t seq) {
  PassData& d = data[p];
  if (!d.input.empty()) return;
  const int64_t layer = passes[p].layer;
  const int64_t h = passes[p].plan.hidden;
  std::vector<size_t> sources;
  for (size_t q = 0; q < passes.size(); ++q)
    if (passes[q].layer == layer - 1) sources.push_back(q);
  d.input.assign(static_cast<size_t>(seq * passes[p].plan.input), 0);
  for (int64_t s = 0; s < seq; ++s) {
    const int64_t t = passes[p].direction ? seq - 1 - s : s;
    for (size_t k = 0; k < sources.size(); ++k) {
      const PassPlan& src = passes[sources[k]];
      const int64_t src_step = src.direction ? seq - 1 - t : t;
      std::copy_n(data[sources[k]].output.begin() + src_step * h, h,
                  d.input.begin() + s * passes[p].plan.input + static_cast<int64_t>(k) * h);
    }
  }
}

void Tile::run() {
  if (trace_) track_ = trace_->track(name());
  for (size_t p = 0; p < dispatcher_.passes().size(); ++p) {
    // A pass starts when the previous one has produced all of its outputs.
    for (;;) {
      const int64_t start = dispatcher_.pass_start(p);
      if (start >= 0) {
        wait_until(start, true);
        break;
      }
      sc_core::wait(dispatcher_.changed);
    }
    if (data_) assemble_input(*data_, dispatcher_.passes(), p, dispatcher_.seq_len());
    run_pass(p);
  }
}

void Tile::run_pass(size_t p) {
  const LayerPlan& plan = dispatcher_.passes()[p].plan;
  const auto& mine = plan.tile_blocks[static_cast<size_t>(id_)];
  mfu_ = Mfu(plan.mfu_lanes, plan.mfu_latency);
  wx_done_ = 0;
  parked_bytes_ = 0;
  const int64_t n = static_cast<int64_t>(mine.size());
  const Schedule s = dispatcher_.schedule();
  for (int64_t t = 0; t < dispatcher_.seq_len(); ++t) {
    if (s == Schedule::kSequential || s == Schedule::kInterGate) {
      // Barrier schedules: the step (sequential: each gate) starts when everything it
      // depends on is ready; every block then runs W·x and U·h back to back.
      const int gates = s == Schedule::kSequential ? 4 : 1;
      for (int g = 0; g < gates; ++g) {
        for (;;) {
          const int64_t ready =
              g == 0 ? dispatcher_.step_ready(p, t - 1) : dispatcher_.gate_ready(p, t, g - 1);
          if (ready >= 0) {
            wait_until(ready, true);
            break;
          }
          sc_core::wait(dispatcher_.changed);
        }
        for (int64_t local = 0; local < n; ++local) {
          const RowBlock& b = plan.blocks[mine[local]];
          if (s == Schedule::kSequential && b.gate != g) continue;
          compute_wx(p, t, local);
          compute_uh(p, t, local, false);
          complete(p, t, local);
        }
      }
      continue;
    }
    // Unfolded and SHARP: W·x may run ahead; U·h waits only for what it reads.
    for (int64_t local = 0; local < n; ++local) {
      if (wx_done_ <= t * n + local) {
        compute_wx(p, t, local);
      } else {
        // Run ahead earlier: its sums leave the partial-sum buffer for the DPUs.
        const RowBlock& b = plan.blocks[mine[local]];
        parked_bytes_ -= kPsumBytes * static_cast<uint64_t>(plan.batch * b.rows);
      }
      compute_uh(p, t, local, true);
      complete(p, t, local);
    }
  }
}

void Tile::compute_wx(size_t p, int64_t t, int64_t local) {
  const LayerPlan& plan = dispatcher_.passes()[p].plan;
  const RowBlock& b = plan.blocks[plan.tile_blocks[static_cast<size_t>(id_)][local]];
  const double start = clock_.now_ns();
  dispatcher_.note_read(p, t, -1, static_cast<int64_t>(clock_.now_cycles()));
  if (streams_[0] && b.streamed) {
    for (int64_t j = 0; j < plan.wx_passes; ++j) streamed_pass(0, pass_cycles(plan, b));
  } else {
    busy(pass_cycles(plan, b) * plan.wx_passes);
  }
  ++wx_done_;
  // Per sequence of the batch: its products, accumulates and input slices; the weights
  // are read once for all of them.
  activity_.macs += static_cast<uint64_t>(plan.batch * b.rows * plan.input);
  activity_.accumulations += static_cast<uint64_t>(plan.batch * b.rows * plan.wx_passes);
  activity_.act_buffer_bytes +=
      static_cast<uint64_t>(plan.batch * plan.wx_passes * plan.dpu_width * 2);
  const uint64_t weight_bytes = static_cast<uint64_t>(b.rows * plan.input * 2);
  (b.streamed ? activity_.streamed_weight_bytes : activity_.weight_sram_bytes) += weight_bytes;
  if (trace_) trace_->span(track_, "W·x", start, clock_.now_ns() - start);
  if (!data_) return;
  PassData& d = (*data_)[p];
  const int16_t* x = d.input.data() + t * plan.input;
  for (int64_t r = b.first_row; r < b.first_row + b.rows; ++r) {
    const int64_t pr = pytorch_row(plan, r);
    d.acc[t * 4 * plan.hidden + pr] =
        dpu_->accumulate(0, d.weights->w_ih_row(static_cast<int>(pr)), x, plan.input);
  }
}

bool Tile::run_ahead(size_t p, int64_t t) {
  const int64_t n = static_cast<int64_t>(
      dispatcher_.passes()[p].plan.tile_blocks[static_cast<size_t>(id_)].size());
  const int64_t next_step = wx_done_ / n;
  if (next_step >= dispatcher_.seq_len() || next_step > t + runahead_steps_) return false;
  // The block in the DPUs keeps its accumulators, so a block computed out of turn parks
  // its W·x sums in the partial-sum buffer until its U·h runs.
  ++activity_.runahead_chunks;
  const LayerPlan& plan = dispatcher_.passes()[p].plan;
  const RowBlock& b = plan.blocks[plan.tile_blocks[static_cast<size_t>(id_)][wx_done_ % n]];
  const uint64_t sums = static_cast<uint64_t>(plan.batch * b.rows);  // one per row and sequence
  activity_.psum_bytes += 2 * kPsumBytes * sums;
  parked_bytes_ += kPsumBytes * sums;
  activity_.psum_peak_bytes = std::max(activity_.psum_peak_bytes, parked_bytes_);
  compute_wx(p, next_step, wx_done_ % n);
  return true;
}

void Tile::compute_uh(size_t p, int64_t t, int64_t local, bool runahead) {
  const LayerPlan& plan = dispatcher_.passes()[p].plan;
  const RowBlock& b = plan.blocks[plan.tile_blocks[static_cast<size_t>(id_)][local]];
  const int64_t pass = pass_cycles(plan, b);
  double span_start = clock_.now_ns();
  const bool from_memory = streams_[1] && b.streamed;
  int64_t j = 0;
  while (j < plan.uh_passes) {
    // Run every pass whose h slice is ready by the time the pass would start.
    const int64_t now = static_cast<int64_t>(clock_.now_cycles());
    if (from_memory) {
      // Weights from memory: one pass at a time, each waiting for its chunk.
      const int64_t ready = dispatcher_.segment_ready(p, t, j);
      if (ready >= 0 && ready <= now) {
        dispatcher_.note_read(p, t, j, now);
        streamed_pass(1, pass);
        ++j;
        continue;
      }
    } else {
      int64_t f = now;
      const int64_t first = j;
      for (; j < plan.uh_passes; ++j) {
        const int64_t ready = dispatcher_.segment_ready(p, t, j);
        if (ready < 0 || ready > f) break;
        dispatcher_.note_read(p, t, j, f);
        f += pass;
      }
      if (j > first) {
        busy(f - now);
        continue;
      }
    }
    // Stalled on slice j: fill the gap with W·x of later steps, else wait for the slice.
    if (trace_ && clock_.now_ns() > span_start)
      trace_->span(track_, "U·h", span_start, clock_.now_ns() - span_start);
    if (runahead && run_ahead(p, t)) {
      span_start = clock_.now_ns();
      continue;
    }
    const int64_t ready = dispatcher_.segment_ready(p, t, j);
    if (ready >= 0) {
      wait_until(ready, true);
    } else {
      const int64_t before = static_cast<int64_t>(clock_.now_cycles());
      sc_core::wait(dispatcher_.changed);
      activity_.stall_cycles += clock_.now_cycles() - static_cast<uint64_t>(before);
    }
    span_start = clock_.now_ns();
  }
  if (trace_ && clock_.now_ns() > span_start)
    trace_->span(track_, "U·h", span_start, clock_.now_ns() - span_start);
  activity_.macs += static_cast<uint64_t>(plan.batch * b.rows * plan.hidden);
  activity_.accumulations += static_cast<uint64_t>(plan.batch * b.rows * plan.uh_passes);
  activity_.act_buffer_bytes +=
      static_cast<uint64_t>(plan.batch * plan.uh_passes * plan.dpu_width * 2);
  const uint64_t weight_bytes = static_cast<uint64_t>(b.rows * plan.hidden * 2);
  (b.streamed ? activity_.streamed_weight_bytes : activity_.weight_sram_bytes) += weight_bytes;
  if (!data_) return;
  PassData& d = (*data_)[p];
  const int16_t* h_prev = t > 0 ? d.output.data() + (t - 1) * plan.hidden : nullptr;
  if (!h_prev) return;  // the initial state is zero
  for (int64_t r = b.first_row; r < b.first_row + b.rows; ++r) {
    const int64_t pr = pytorch_row(plan, r);
    int64_t& acc = d.acc[t * 4 * plan.hidden + pr];
    acc = dpu_->accumulate(acc, d.weights->w_hh_row(static_cast<int>(pr)), h_prev, plan.hidden);
  }
}

void Tile::complete(size_t p, int64_t t, int64_t local) {
  const LayerPlan& plan = dispatcher_.passes()[p].plan;
  const RowBlock& b = plan.blocks[plan.tile_blocks[static_cast<size_t>(id_)][local]];
  const int64_t done = static_cast<int64_t>(clock_.now_cycles()) + dpu_->latency(plan.dpu_width);
  if (b.gate >= 0) dispatcher_.gate_block_done(p, t, b.gate, done);
  if (b.elements == 0) return;
  // Every sequence's sums leave with the last pass's (an element of h(t) counts as ready
  // when the MFU has it for all sequences: the U·h passes that read it serve them all).
  const int64_t ready = mfu_.accept(done, plan.batch * b.elements);
  activity_.mfu_elements += static_cast<uint64_t>(plan.batch * b.elements);
  if (data_) {
    PassData& d = (*data_)[p];
    const int64_t h = plan.hidden;
    for (int64_t e = b.first_element; e < b.first_element + b.elements; ++e) {
      int16_t z[4];
      for (int64_t g = 0; g < 4; ++g)
        z[g] = fixed::preactivation(d.acc[t * 4 * h + g * h + e], d.weights->bias[g * h + e]);
      d.output[t * h + e] = Mfu::element(z, d.c[e]);
    }
  }
  dispatcher_.publish(p, t, b, ready);
}

}  // namespace tessel::lstm_sharp
