// Building the LSTM-Sharp module tree.
#include "sim/lstm_sharp/lstm_sharp.h"

#include <algorithm>
#include <string>

namespace tessel::lstm_sharp {

LstmSharp::LstmSharp(sc_core::sc_module_name name, const MachineParams& machine,
                     const std::vector<PassPlan>& passes, int64_t seq_len,
                     std::vector<PassData>* data, TraceWriter* trace, const WeightLayout* layout,
                     sim::OffchipPort* read_port, sim::OffchipPort* write_port)
    : sc_module(name),
      clock_(machine.clock_ghz),
      // With a memory the first weights' latency is the memory's, not a fixed figure.
      dispatcher_("dispatcher", passes, seq_len, machine.schedule,
                  layout ? 0 : static_cast<int64_t>(machine.offchip_latency_cycles),
                  machine.reconfig_cycles) {
  for (int64_t i = 0; i < machine.tiles; ++i)
    tiles_.push_back(std::make_unique<Tile>(("tile" + std::to_string(i)).c_str(), i, dispatcher_,
                                            data, machine.runahead_steps, clock_, trace,
                                            machine.rtl_dpu));
  if (!layout) return;
  const char* names[2] = {"wx", "uh"};
  for (int64_t i = 0; i < machine.tiles; ++i) {
    WeightStreamer* s[2];
    for (int k = 0; k < 2; ++k) {
      std::vector<std::vector<Chunk>> chunks;
      for (const auto& pass : layout->streams) chunks.push_back(pass[i][k]);
      streamers_.push_back(std::make_unique<WeightStreamer>(
          ("tile" + std::to_string(i) + "_" + names[k] + "_stream").c_str(), std::move(chunks),
          seq_len, static_cast<uint64_t>(machine.stream_buffer_bytes / 2), *read_port, clock_));
      s[k] = streamers_.back().get();
    }
    tiles_[static_cast<size_t>(i)]->bind_streams(s[0], s[1]);
  }
  io_ = std::make_unique<IoDma>("io_dma", dispatcher_, *layout, *read_port, *write_port, clock_);
}

int64_t LstmSharp::finish_cycle() const {
  const int64_t ready =
      dispatcher_.step_ready(dispatcher_.passes().size() - 1, dispatcher_.seq_len() - 1);
  if (!io_ || ready < 0) return ready;
  return io_->done_cycle() < 0 ? -1 : std::max(ready, io_->done_cycle());
}

}  // namespace tessel::lstm_sharp
