// The twin's memory term: a DRAM device's sustained bandwidth for streamed weights and its
// unloaded read latency, from the device file `hw.memory` names (no SystemC needed). The
// derivation is shared with the N:M unit's twin (sim/core/dram_stream_term.h).
#pragma once

#include "runtime/core/config.h"
#include "sim/core/dram_stream_term.h"

namespace tessel::lstm_sharp {

using MemoryTerm = sim::DramStreamTerm;
using sim::kTwinMaxRowSwitchFraction;

// Reads the device file `hw.memory` names and the port keys `hw.offchip.request_bytes` and
// `max_outstanding` (sim/system/offchip.h's ranges and defaults).
MemoryTerm read_memory_term(const Config& hw);

}  // namespace tessel::lstm_sharp
