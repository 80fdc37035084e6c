// The twin's memory term: a DRAM device's sustained bandwidth for streamed weights and its
// unloaded read latency, from the device file `hw.memory` names (no SystemC needed).
#pragma once

#include <cstdint>
#include <string>

#include "runtime/core/config.h"

namespace tessel::lstm_sharp {

struct MemoryTerm {
  bool dram = false;          // false: not a single DRAM device (tiers, NVM, SSD)
  std::string kind;           // the device file's `kind`, for messages
  double peak_gbps = 0;       // data-bus peak of all channels
  double efficiency = 0;      // refresh × row-switch efficiency (docs/lstm_sharp_memory.md)
  double sustained_gbps = 0;  // min(peak × efficiency, Little's law bound of the port)
  double latency_ns = 0;      // ACT + RD + burst: a row miss on an idle bank
  // (tRP + tRCD) / the bus time of one open row across the bank groups: how much a row
  // switch costs a stream. The twin is held to the cycle model only where it is small.
  double row_switch_fraction = 0;
};

// Above this the time of row switches and of bank conflicts between the tiles' streams is
// a large part of the memory's time and the twin's term misses it (HBM2e: 0.17, off by
// up to 11% on random configurations); DDR4-3200 (0.021) and DDR5-4800 (0.019) are held
// within 5% (tests/sim/lstm_sharp/lstm_sharp_memory_test.cpp).
inline constexpr double kTwinMaxRowSwitchFraction = 0.05;

// Reads the device file `hw.memory` names and the port keys `hw.offchip.request_bytes` and
// `max_outstanding` (sim/system/offchip.h's ranges and defaults).
MemoryTerm read_memory_term(const Config& hw);

}  // namespace tessel::lstm_sharp
