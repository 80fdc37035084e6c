// LSTM-Sharp top level: the dispatcher and the compute tiles over one LSTM workload.
#pragma once

#include <systemc>

#include <memory>
#include <vector>

#include "sim/lstm_sharp/dispatcher.h"
#include "sim/lstm_sharp/tile.h"

namespace tessel::lstm_sharp {

SC_MODULE(LstmSharp) {
  // `data` is null in timing-only mode.
  LstmSharp(sc_core::sc_module_name name, const MachineParams& machine,
            const std::vector<PassPlan>& passes, int64_t seq_len, std::vector<PassData>* data,
            TraceWriter* trace);

  // Cycle at which the last output of the last pass is ready; -1 if the run did not end.
  int64_t finish_cycle() const;
  const std::vector<std::unique_ptr<Tile>>& tiles() const {
    return tiles_;
  }

 private:
  sim::Clock clock_;
  Dispatcher dispatcher_;
  std::vector<std::unique_ptr<Tile>> tiles_;
};

}  // namespace tessel::lstm_sharp
