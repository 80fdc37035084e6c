// Replays a DRAM channel's command log against the JEDEC constraints of its parameters: the
// check `tessel validate` and `workload.check_timing` run after a memory simulation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/memory/dram_channel.h"
#include "sim/memory/dram_params.h"

namespace tessel::memory {

struct TimingCheckResult {
  uint64_t commands = 0;    // commands replayed
  uint64_t violations = 0;  // constraints broken (each command counts once per constraint)
  std::string first;        // the first violation, "cycle 1234 ACT rank 0 bg 1 bank 2: tRRD_L ..."
};

// Written from the constraint list (DramTiming's fields), not from DramChannel's scheduler:
// one command per cycle on the command bus (PRE may share a cycle, as the scheduler issues
// a precharge beside another command), ACT only to a closed bank, RD/WR only to the open
// row, and tRP, tRC, tRRD_S/L, tFAW, tRFC, tRAS, tRTP, write recovery, tRCD, tCCD_S/L,
// tWTR_S/L and the read-to-write turnaround.
TimingCheckResult check_dram_timing(const DramParams& p, const std::vector<DramCommand>& log);

}  // namespace tessel::memory
