// Dispatcher: hands each tile its row blocks and tracks when every slice of h(t-1) exists
// (the dependence scoreboard), plus the gate and step barriers of the simpler schedules.
#pragma once

#include <systemc>

#include <cstdint>
#include <vector>

#include "sim/lstm_sharp/layer_plan.h"

namespace tessel::lstm_sharp {

SC_MODULE(Dispatcher) {
  // `fetch_latency`: cycles before the first streamed weights of a pass arrive (the
  // off-chip latency; later fetches are prefetched behind it). `reconfig_cycles`: the
  // datapath's stop when a pass runs at another DPU width than the one before it.
  Dispatcher(sc_core::sc_module_name name, const std::vector<PassPlan>& passes, int64_t seq_len,
             Schedule schedule, int64_t fetch_latency, int64_t reconfig_cycles = 0);

  const std::vector<PassPlan>& passes() const {
    return passes_;
  }
  int64_t seq_len() const {
    return seq_len_;
  }
  Schedule schedule() const {
    return schedule_;
  }

  // A tile finished a block: its elements of step `t` of pass `p` are ready at `ready`.
  void publish(size_t p, int64_t t, const RowBlock& block, int64_t ready);
  // Cycle at which U·h segment j of step t may read h(t-1): -1 while unknown. Step 0 reads
  // the initial state, ready when the pass starts. Barrier schedules wait for all of h(t-1).
  int64_t segment_ready(size_t p, int64_t t, int64_t j) const;
  // Cycle at which all of h(t) of pass p is ready; -1 while unknown.
  int64_t step_ready(size_t p, int64_t t) const;
  // Sequential schedule: the gate barrier (all blocks of gate g of step t finished).
  void gate_block_done(size_t p, int64_t t, int64_t g, int64_t done);
  int64_t gate_ready(size_t p, int64_t t, int64_t g) const;
  // Cycle at which pass p may start (the previous pass has produced all its outputs).
  int64_t pass_start(size_t p) const;

  sc_core::sc_event changed;  // notified on every publish / gate completion

  // What the machine did, for tests of its dependences (off unless record() is called):
  // every published block's elements with their ready cycle, and every DPU pass's start.
  struct Produced {
    size_t pass;
    int64_t step, first_element, elements, ready;
  };
  struct Read {
    size_t pass;
    int64_t step;
    int64_t segment;  // U·h: the K-wide slice of h(step-1) read; -1: a W·x pass
    int64_t start;
  };
  void record() {
    recording_ = true;
  }
  void note_read(size_t p, int64_t t, int64_t segment, int64_t start) {
    if (recording_) reads_.push_back({p, t, segment, start});
  }
  const std::vector<Produced>& produced() const {
    return produced_;
  }
  const std::vector<Read>& reads() const {
    return reads_;
  }

 private:
  struct Board {
    int64_t segments = 0;
    std::vector<int64_t> seg_count, seg_ready;    // [t * segments + j]
    std::vector<int64_t> step_count, step_ready;  // [t]
    std::vector<int64_t> gate_count, gate_ready;  // [t * 4 + g]
    std::vector<int64_t> gate_blocks;             // blocks per gate
  };
  std::vector<PassPlan> passes_;
  int64_t seq_len_;
  Schedule schedule_;
  int64_t fetch_latency_;
  int64_t reconfig_cycles_;
  std::vector<Board> boards_;
  bool recording_ = false;
  std::vector<Produced> produced_;
  std::vector<Read> reads_;
};

}  // namespace tessel::lstm_sharp
