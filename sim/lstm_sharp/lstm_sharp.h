// LSTM-Sharp top level: the dispatcher and the compute tiles over one LSTM workload, and,
// bound to a memory, the tiles' weight stream engines and the input/output DMA.
#pragma once

#include <systemc>

#include <memory>
#include <vector>

#include "sim/core/offchip_port.h"
#include "sim/lstm_sharp/dispatcher.h"
#include "sim/lstm_sharp/io_dma.h"
#include "sim/lstm_sharp/tile.h"
#include "sim/lstm_sharp/weight_layout.h"
#include "sim/lstm_sharp/weight_streamer.h"

namespace tessel::lstm_sharp {

SC_MODULE(LstmSharp) {
  // `data` is null in timing-only mode. `layout` and the ports are null with the link
  // (streamed blocks then run at the link's share); given, the off-chip traffic goes
  // through the ports at the layout's addresses.
  LstmSharp(sc_core::sc_module_name name, const MachineParams& machine,
            const std::vector<PassPlan>& passes, int64_t seq_len, std::vector<PassData>* data,
            TraceWriter* trace, const WeightLayout* layout = nullptr,
            sim::OffchipPort* read_port = nullptr, sim::OffchipPort* write_port = nullptr);

  // Cycle at which the last output of the last pass is ready (with a memory: written to
  // it); -1 if the run did not end.
  int64_t finish_cycle() const;
  Dispatcher& dispatcher() {
    return dispatcher_;
  }
  const std::vector<std::unique_ptr<Tile>>& tiles() const {
    return tiles_;
  }

 private:
  sim::Clock clock_;
  Dispatcher dispatcher_;
  std::vector<std::unique_ptr<Tile>> tiles_;
  std::vector<std::unique_ptr<WeightStreamer>> streamers_;
  std::unique_ptr<IoDma> io_;
};

}  // namespace tessel::lstm_sharp
