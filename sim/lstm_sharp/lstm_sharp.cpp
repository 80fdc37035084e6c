// Building the LSTM-Sharp module tree.
#include "sim/lstm_sharp/lstm_sharp.h"

#include <string>

namespace tessel::lstm_sharp {

LstmSharp::LstmSharp(sc_core::sc_module_name name, const MachineParams& machine,
                     const std::vector<PassPlan>& passes, int64_t seq_len,
                     std::vector<PassData>* data, TraceWriter* trace)
    : sc_module(name),
      clock_(machine.clock_ghz),
      dispatcher_("dispatcher", passes, seq_len, machine.schedule,
                  static_cast<int64_t>(machine.offchip_latency_cycles)) {
  for (int64_t i = 0; i < machine.tiles; ++i)
    tiles_.push_back(std::make_unique<Tile>(("tile" + std::to_string(i)).c_str(), i, dispatcher_,
                                            data, machine.runahead_steps, clock_, trace,
                                            machine.rtl_dpu));
}

int64_t LstmSharp::finish_cycle() const {
  return dispatcher_.step_ready(dispatcher_.passes().size() - 1, dispatcher_.seq_len() - 1);
}

}  // namespace tessel::lstm_sharp
