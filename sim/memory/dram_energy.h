// DRAM energy from command counts: DRAMPower-style IDD equations, or per-bit figures.
#pragma once

#include "sim/memory/dram_channel.h"
#include "sim/memory/dram_params.h"

namespace tessel::memory {

// Energy in pJ by part. With IDD currents (JESD79 measurement conditions), following
// Chandrasekar et al. (DRAMPower, DATE 2011), per device, times devices per rank:
//   activate+precharge  VDD·[IDD0·tRC − (IDD3N·tRAS + IDD2N·(tRC − tRAS))], at least 0
//   read burst          VDD·(IDD4R − IDD3N)·tBURST,  write burst with IDD4W
//   refresh             VDD·(IDD5B − IDD3N)·tRFC
//   background          VDD·(IDD3N·t_any_bank_open + IDD2N·t_all_closed)
struct DramEnergy {
  double activate = 0, read = 0, write = 0, refresh = 0, background = 0;
  double total() const { return activate + read + write + refresh + background; }
};

// `stats` summed over channels; `rank_cycles` = cycles simulated × ranks × channels.
DramEnergy dram_energy(const DramParams& p, const DramChannelStats& stats, uint64_t rank_cycles);

}  // namespace tessel::memory
