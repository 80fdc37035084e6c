// Compute tile: D DPUs of width K working on one row block at a time, a weight SRAM slice,
// and an MFU; runs the blocks the dispatcher assigned to it, step by step.
#pragma once

#include <systemc>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/lstm/lstm_fixed.h"
#include "runtime/core/trace_writer.h"
#include "sim/core/sc_runtime.h"
#include "sim/lstm_sharp/buffers.h"
#include "sim/lstm_sharp/dispatcher.h"
#include "sim/lstm_sharp/dpu.h"
#include "sim/lstm_sharp/mfu.h"

namespace tessel::lstm_sharp {

class WeightStreamer;

// Values of one pass in functional mode (null pointer in timing-only mode).
struct PassData {
  const lstm::FixedLayerParams* weights = nullptr;  // PyTorch row order (gates i, f, g, o)
  std::vector<int16_t> input;   // [step][X], in the order the pass processes steps
  std::vector<int16_t> output;  // [step][H]
  std::vector<int64_t> acc;     // [step][4H], PyTorch row order
  std::vector<int16_t> c;       // [H], the cell state carried from step to step
};

SC_MODULE(Tile) {
  SC_HAS_PROCESS(Tile);
  Tile(sc_core::sc_module_name name, int64_t id, Dispatcher & dispatcher,
       std::vector<PassData> * data, int64_t runahead_steps, const sim::Clock& clock,
       TraceWriter* trace, bool rtl_dpu = false);

  const TileActivity& activity() const {
    return activity_;
  }
  // Memory runs: streamed blocks take their weights from these engines (W·x, U·h) at the
  // SRAM pass rate instead of the link's share (null: the link model).
  void bind_streams(WeightStreamer * wx, WeightStreamer * uh) {
    streams_[0] = wx;
    streams_[1] = uh;
  }

 private:
  void run();
  void run_pass(size_t p);
  // W·x of one of this tile's blocks for step t.
  void compute_wx(size_t p, int64_t t, int64_t local);
  // Runs the next W·x block ahead of its step if the run-ahead window allows; false if not.
  bool run_ahead(size_t p, int64_t t);
  // U·h of a block, pass by pass as the slices of h(t-1) it reads become ready.
  void compute_uh(size_t p, int64_t t, int64_t local, bool runahead);
  // DPU drain, MFU, and the dispatcher learns when the block's h elements are ready.
  void complete(size_t p, int64_t t, int64_t local);
  void wait_until(int64_t cycle, bool stall);
  void busy(int64_t cycles);
  int64_t pytorch_row(const LayerPlan& plan, int64_t row) const;
  int64_t pass_cycles(const LayerPlan& plan, const RowBlock& b) const;

  int64_t id_;
  Dispatcher& dispatcher_;
  std::vector<PassData>* data_;
  int64_t runahead_steps_;
  const sim::Clock& clock_;
  TraceWriter* trace_;
  int track_ = 0;
  Mfu mfu_{1, 0};
  TileActivity activity_;
  // W·x blocks done so far in the current pass, in (step, local block) order.
  int64_t wx_done_ = 0;
  uint64_t parked_bytes_ = 0;  // partial sums of run-ahead blocks waiting for their U·h
  // The DPU's arithmetic and timing: behavioural, or the Verilated one (rtl: {dpu: true}).
  std::unique_ptr<DpuModel> dpu_;
  WeightStreamer* streams_[2] = {nullptr, nullptr};
  // One pass of a block whose weights come from stream `s`: wait for the chunk, compute.
  void streamed_pass(int s, int64_t pass);
};

}  // namespace tessel::lstm_sharp
