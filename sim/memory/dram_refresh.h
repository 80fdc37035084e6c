// All-bank refresh manager of one DRAM channel: a REF per rank every tREFI (ranks staggered
// across the interval). When a rank's REF falls due, the scheduler leaves that rank alone,
// its open banks are precharged one command at a time, and REF issues once tRP/tRC allow.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "sim/memory/dram_banks.h"
#include "sim/memory/dram_constraints.h"
#include "sim/memory/dram_params.h"

namespace tessel::memory {

class DramRefresh {
 public:
  explicit DramRefresh(const DramParams& p);

  struct Action {
    enum Kind : uint8_t { kNone, kPre, kRef } kind = kNone;
    int rank = 0;
    int bank = 0;  // flat bank of a kPre
  };
  // The refresh command that may issue at `now`, if any; otherwise lowers `next_ready` to
  // the cycle one might. With `mark`, ranks whose REF is due become pending.
  Action next(int64_t now, const DramBanks& banks, const DramConstraints& c, int64_t& next_ready,
              bool mark) {
    // Called once per command slot: most of the time no REF is near.
    if (pending_ == 0 && now < next_due_) {
      next_ready = std::min(next_ready, next_due_);
      return {};
    }
    return next_slow(now, banks, c, next_ready, mark);
  }
  bool pending(int rank) const { return ranks_[rank].pending; }
  bool any_pending() const { return pending_ > 0; }
  int64_t due(int rank) const { return ranks_[rank].due; }
  // The rank whose REF fell due earliest by `now` (-1: none).
  int overdue(int64_t now) const;
  void refreshed(int rank);

 private:
  struct Rank {
    int64_t due = 0;
    bool pending = false;
  };
  Action next_slow(int64_t now, const DramBanks& banks, const DramConstraints& c,
                   int64_t& next_ready, bool mark);
  void update_next_due();

  int64_t refi_;
  std::vector<Rank> ranks_;
  int pending_ = 0;       // ranks with a REF pending
  int64_t next_due_ = 0;  // the earliest due time over all ranks
};

}  // namespace tessel::memory
