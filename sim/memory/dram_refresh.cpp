// All-bank refresh: due times per rank, and the PRE/REF sequence of a due rank.
#include "sim/memory/dram_refresh.h"

namespace tessel::memory {

DramRefresh::DramRefresh(const DramParams& p)
    : refi_(p.t.refi), ranks_(static_cast<size_t>(p.ranks)) {
  // Staggered across tREFI so that the ranks do not all stall the bus together.
  for (size_t r = 0; r < ranks_.size(); ++r)
    ranks_[r].due = p.t.refi * static_cast<int64_t>(r + 1) / p.ranks;
  update_next_due();
}

void DramRefresh::update_next_due() {
  next_due_ = kNever;
  for (const Rank& r : ranks_) next_due_ = std::min(next_due_, r.due);
}

DramRefresh::Action DramRefresh::next_slow(int64_t now, const DramBanks& banks,
                                           const DramConstraints& c, int64_t& next_ready,
                                           bool mark) {
  const int per_rank = banks.banks_per_rank();
  for (int rank = 0; rank < static_cast<int>(ranks_.size()); ++rank) {
    Rank& r = ranks_[rank];
    const bool pending = r.pending || now >= r.due;
    if (mark && pending && !r.pending) {
      r.pending = true;
      ++pending_;
    }
    if (!pending) {
      next_ready = std::min(next_ready, r.due);
      continue;
    }
    // Close the open bank that may precharge first; REF when none is open.
    int open = -1;
    int64_t pre_ready = kNever;
    for (int b = rank * per_rank; b < (rank + 1) * per_rank; ++b)
      if (banks.open_row(b) >= 0 && c.earliest_pre(b) < pre_ready) {
        pre_ready = c.earliest_pre(b);
        open = b;
      }
    const int64_t ready = open >= 0 ? pre_ready : c.earliest_refresh(rank);
    if (mark && ready <= now) return {open >= 0 ? Action::kPre : Action::kRef, rank, open};
    next_ready = std::min(next_ready, ready);
  }
  return {};
}

int DramRefresh::overdue(int64_t now) const {
  int rank = -1;
  for (int r = 0; r < static_cast<int>(ranks_.size()); ++r)
    if (ranks_[r].due <= now && (rank < 0 || ranks_[r].due < ranks_[rank].due)) rank = r;
  return rank;
}

void DramRefresh::refreshed(int rank) {
  ranks_[rank].due += refi_;
  if (ranks_[rank].pending) --pending_;
  ranks_[rank].pending = false;
  update_next_due();
}

}  // namespace tessel::memory
