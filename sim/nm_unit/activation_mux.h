// Activation multiplexers: per lane, pick the activation a compressed weight belongs to.
#pragma once

#include <systemc>

#include <cstdint>

#include "runtime/core/counters.h"
#include "runtime/core/error.h"
#include "sim/nm_unit/nm_unit_params.h"

namespace tessel::nm_unit {

// Combinational block between the activation window of a PE column and its MAC lanes.
// A lane's mux sees the M activations of its weight's group (fan-in `mux_fanin` >= M)
// and the decoded select picks one; all mux_fanin - 1 two-input muxes of the tree see
// their inputs toggle, which is what each selection is charged for. No process: the PE
// array evaluates it inside its cycle, and it accounts for its own energy.
SC_MODULE(ActivationMux) {
  ActivationMux(sc_core::sc_module_name name, const NmUnitParams& params, const Mapping& map,
                Counters& counters)
      : sc_module(name), params_(params), map_(map), counters_(counters) {}

  // Position in the chunk's activation window for stored weight j with decoded select
  // `sel` (K offset within the chunk). A select outside the weight's group would need a
  // wider mux than the hardware has: that is a decoder or format bug, reported loudly.
  int64_t route(int64_t j, int32_t sel) const {
    const int64_t group_base = j / map_.n * map_.m;
    if (sel < group_base || sel >= group_base + map_.m)
      throw SimError("nm_unit activation mux: select " + std::to_string(sel) + " outside group [" +
                     std::to_string(group_base) + ", " + std::to_string(group_base + map_.m) + ")");
    return sel;
  }

  // Energy of one step: every MAC lane of every active PE made one selection.
  void account(uint64_t selections) {
    counters_.add("act_mux", params_.mux_action,
                  selections * static_cast<uint64_t>(params_.mux_fanin - 1));
  }

 private:
  const NmUnitParams& params_;
  const Mapping& map_;
  Counters& counters_;
};

}  // namespace tessel::nm_unit
