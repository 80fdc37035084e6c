// The bank state machines of one DRAM channel: which row each bank holds open, how many
// column commands it served since the activation, and how long each rank had a bank open
// (the background-power state that dram_energy prices).
#pragma once

#include <cstdint>
#include <vector>

#include "sim/memory/dram_params.h"

namespace tessel::memory {

class DramBanks {
 public:
  explicit DramBanks(const DramParams& p);

  int64_t open_row(int fb) const { return banks_[fb].open_row; }  // -1: precharged
  int64_t hits(int fb) const { return banks_[fb].hits; }
  int banks_per_rank() const { return per_rank_; }

  void activate(int rank, int fb, int64_t row, int64_t t);
  void precharge(int rank, int fb, int64_t t);
  void column(int fb) { ++banks_[fb].hits; }
  // Counts the open-bank time of ranks still open at `end` (and restarts it there).
  void finish(int64_t end);
  // Rank-cycles with at least one open bank.
  uint64_t active_cycles() const { return active_cycles_; }

 private:
  struct Bank {
    int64_t open_row = -1;
    int64_t hits = 0;
  };
  struct Rank {
    int open = 0;
    int64_t open_since = 0;
  };
  int per_rank_;
  std::vector<Bank> banks_;
  std::vector<Rank> ranks_;
  uint64_t active_cycles_ = 0;
};

}  // namespace tessel::memory
