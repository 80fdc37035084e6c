// Bank state machines: open row per bank and open-bank time per rank.
#include "sim/memory/dram_banks.h"

namespace tessel::memory {

DramBanks::DramBanks(const DramParams& p)
    : per_rank_(static_cast<int>(p.banks_per_rank())),
      banks_(static_cast<size_t>(p.ranks * p.banks_per_rank())),
      ranks_(static_cast<size_t>(p.ranks)) {}

void DramBanks::activate(int rank, int fb, int64_t row, int64_t t) {
  banks_[fb].open_row = row;
  banks_[fb].hits = 0;
  Rank& r = ranks_[rank];
  if (r.open++ == 0) r.open_since = t;
}

void DramBanks::precharge(int rank, int fb, int64_t t) {
  banks_[fb].open_row = -1;
  Rank& r = ranks_[rank];
  if (--r.open == 0) active_cycles_ += static_cast<uint64_t>(t - r.open_since);
}

void DramBanks::finish(int64_t end) {
  for (Rank& r : ranks_)
    if (r.open > 0 && end > r.open_since) {
      active_cycles_ += static_cast<uint64_t>(end - r.open_since);
      r.open_since = end;
    }
}

}  // namespace tessel::memory
