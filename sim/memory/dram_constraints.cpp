// JEDEC timing constraints as ready times, updated by each issued command.
#include "sim/memory/dram_constraints.h"

namespace tessel::memory {

DramConstraints::DramConstraints(const DramParams& p)
    : t_(p.t),
      bankgroups_(static_cast<int>(p.bankgroups)),
      banks_per_rank_(static_cast<int>(p.banks_per_rank())),
      banks_(static_cast<size_t>(p.ranks * p.banks_per_rank())),
      groups_(static_cast<size_t>(p.ranks * p.bankgroups)),
      ranks_(static_cast<size_t>(p.ranks)) {
  for (Rank& r : ranks_) r.faw.fill(-p.t.faw);
  rtw_ = p.t.cl + p.t.burst + 2 - p.t.cwl;
}

int64_t DramConstraints::earliest_refresh(int rank) const {
  int64_t ready = std::max(cmd_free_, ranks_[rank].refresh_until);
  for (int b = 0; b < banks_per_rank_; ++b)
    ready = std::max(ready, banks_[rank * banks_per_rank_ + b].act);
  return ready;
}

void DramConstraints::activate(int rank, int bg, int fb, int64_t t) {
  Bank& bank = banks_[fb];
  Group& g = groups_[rank * bankgroups_ + bg];
  Rank& r = ranks_[rank];
  bank.rd = t + t_.rcd;
  bank.wr = t + t_.rcd_wr;
  bank.pre = t + t_.ras;
  bank.act = t + t_.rc;
  g.act = std::max(g.act, t + t_.rrd_l);
  r.act = std::max(r.act, t + t_.rrd_s);
  r.faw[r.faw_head] = t;
  r.faw_head = (r.faw_head + 1) % 4;
}

void DramConstraints::precharge(int fb, int64_t t) {
  banks_[fb].act = std::max(banks_[fb].act, t + t_.rp);
}

int64_t DramConstraints::column(bool write, int rank, int bg, int fb, int64_t t) {
  Bank& bank = banks_[fb];
  Group& g = groups_[rank * bankgroups_ + bg];
  Rank& r = ranks_[rank];
  int64_t end;
  if (!write) {
    g.rd = std::max(g.rd, t + t_.ccd_l);
    r.rd = std::max(r.rd, t + t_.ccd_s);
    g.wr = std::max(g.wr, t + rtw_);
    r.wr = std::max(r.wr, t + rtw_);
    bank.pre = std::max(bank.pre, t + t_.rtp);
    end = t + t_.cl + t_.burst;
  } else {
    g.wr = std::max(g.wr, t + t_.ccd_l);
    r.wr = std::max(r.wr, t + t_.ccd_s);
    g.rd = std::max(g.rd, t + t_.cwl + t_.burst + t_.wtr_l);
    r.rd = std::max(r.rd, t + t_.cwl + t_.burst + t_.wtr_s);
    bank.pre = std::max(bank.pre, t + t_.cwl + t_.burst + t_.wr);
    end = t + t_.cwl + t_.burst;
  }
  data_free_ = end;
  last_rank_ = rank;
  return end;
}

void DramConstraints::refresh(int rank, int64_t t) {
  for (int b = 0; b < banks_per_rank_; ++b) {
    Bank& bank = banks_[rank * banks_per_rank_ + b];
    bank.act = std::max(bank.act, t + t_.rfc);
  }
  ranks_[rank].refresh_until = t + t_.rfc;
}

}  // namespace tessel::memory
