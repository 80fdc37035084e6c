// DRAM request queues and the FCFS / FR-FCFS / write-drain command choice.
#include "sim/memory/dram_scheduler.h"

#include <algorithm>
#include <cstdint>

namespace tessel::memory {

DramScheduler::DramScheduler(const DramParams& p)
    : policy_(p.scheduler),
      drain_(p.scheduler == DramPolicy::kFrFcfsWriteDrain),
      window_(p.bank_queue > 0 ? static_cast<size_t>(p.bank_queue) : SIZE_MAX),
      row_hit_cap_(p.row_hit_cap),
      capacity_{static_cast<size_t>(p.read_queue), static_cast<size_t>(p.write_queue)},
      high_(p.write_high * static_cast<double>(p.write_queue)),
      low_(p.write_low * static_cast<double>(p.write_queue)),
      queues_(static_cast<size_t>(p.ranks * p.banks_per_rank())) {}

void DramScheduler::choose(int64_t now, const DramBanks& banks, const DramConstraints& timing,
                           const DramRefresh& refresh, DramChoice& best, int64_t& next_ready,
                           DramBounds* bounds, bool probe) const {
  // One copy per policy, so that the scan carries no policy tests per bank.
  switch (policy_) {
    case DramPolicy::kFcfs:
      return choose_as<DramPolicy::kFcfs>(now, banks, timing, refresh, best, next_ready, bounds,
                                          probe);
    case DramPolicy::kFrFcfs:
      return choose_as<DramPolicy::kFrFcfs>(now, banks, timing, refresh, best, next_ready, bounds,
                                            probe);
    default:
      return choose_as<DramPolicy::kFrFcfsWriteDrain>(now, banks, timing, refresh, best, next_ready,
                                                      bounds, probe);
  }
}

template <DramPolicy kPolicy>
void DramScheduler::choose_as(int64_t now, const DramBanks& banks, const DramConstraints& timing,
                              const DramRefresh& refresh, DramChoice& best, int64_t& next_ready,
                              DramBounds* bounds, bool probe) const {
  // FR-FCFS: among commands ready now, column commands (row hits) first, then the oldest.
  // Per bank the candidates are its oldest hit (CAS) and its oldest request otherwise (ACT
  // to a closed bank, PRE for a conflict once no hit is waiting or the open row has served
  // row_hit_cap hits: FR-FCFS-Cap bounds a conflict's wait). FCFS: per bank only the oldest
  // request, and the oldest ready command of all banks wins (DRAMSys's FIFO scheduler with
  // its "oldest" command multiplexer). Write drain: FR-FCFS over one queue at a time.
  constexpr bool fcfs = kPolicy == DramPolicy::kFcfs;
  constexpr bool drain = kPolicy == DramPolicy::kFrFcfsWriteDrain;
  const bool any_refresh = refresh.any_pending();
  const bool other = queued_[!write_mode_] > 0;  // the write drain's other queue has work
  const bool cur = write_mode_;
  best = DramChoice{};
  DramChoice best_other;
  next_ready = kNever;
  // Runner-up readiness per kind, so that the channel can bound its next wake without a
  // second scan: the two smallest per kind (the smallest may be the chosen command).
  int64_t cas1 = kNever, cas2 = kNever, oth1 = kNever, oth2 = kNever;
  uint64_t cas1_seq = 0, oth1_seq = 0;
  int64_t arrivals = kNever;
  for (int fb : active_) {
    if (probe && (best.cmd != DramCmd::kNone || best_other.cmd != DramCmd::kNone)) break;
    const std::vector<DramBurst>& q = queues_[fb];
    const int64_t open = banks.open_row(fb);
    // The bank's oldest arrived burst of the queue being served, and its oldest arrived
    // hit on the open row. During a write drain the other queue only offers a hit whose
    // own ACT opened the row (Ramulator 2.0's "active buffer"): that activation is not
    // wasted, and the row is not closed under it. A per-bank command queue shows the
    // scheduler only its first `window_` bursts of the queue being served.
    size_t oldest = SIZE_MAX, hit = SIZE_MAX, shown = 0;
    for (size_t i = 0; i < q.size(); ++i) {
      const DramBurst& b = q[i];
      if (b.arrival > now) {
        next_ready = std::min(next_ready, b.arrival);
        arrivals = std::min(arrivals, b.arrival);
        continue;
      }
      const bool served = !drain || b.write == cur;
      if (served) {
        if (++shown > window_) break;
        if (oldest == SIZE_MAX) {
          oldest = i;
          if (fcfs || open < 0) break;
        }
      } else if (!other || open < 0 || b.first_cmd < 0) {
        continue;
      }
      if (!fcfs && hit == SIZE_MAX && b.row == open) {
        hit = i;
        if (oldest != SIZE_MAX) break;
      }
    }
    if (oldest == SIZE_MAX && hit == SIZE_MAX) continue;
    if (any_refresh && refresh.pending(q[oldest != SIZE_MAX ? oldest : hit].rank))
      continue;  // the refresh manager owns this rank
    auto consider = [&](DramCmd cmd, size_t i) {
      const DramBurst& b = q[i];
      const int64_t ready = timing.earliest(cmd, b.rank, b.bankgroup, fb);
      const bool cas = cmd == DramCmd::kRd || cmd == DramCmd::kWr;
      int64_t &m1 = cas ? cas1 : oth1, &m2 = cas ? cas2 : oth2;
      uint64_t& m1_seq = cas ? cas1_seq : oth1_seq;
      if (ready < m1) {
        m2 = m1;
        m1 = ready;
        m1_seq = b.seq;
      } else if (ready < m2) {
        m2 = ready;
      }
      if (ready > now) {
        next_ready = std::min(next_ready, ready);
        return;
      }
      DramChoice& slot = (cas || fcfs) ? best : best_other;
      if (slot.cmd == DramCmd::kNone || b.seq < slot.seq) slot = DramChoice{cmd, fb, i, b.seq};
    };
    if constexpr (fcfs) {
      const DramBurst& b = q[oldest];
      consider(b.row == open ? (b.write ? DramCmd::kWr : DramCmd::kRd)
               : open < 0    ? DramCmd::kAct
                             : DramCmd::kPre,
               oldest);
      continue;
    }
    if (hit != SIZE_MAX) consider(q[hit].write ? DramCmd::kWr : DramCmd::kRd, hit);
    if (oldest == SIZE_MAX) continue;
    if (open < 0) {
      consider(DramCmd::kAct, oldest);
    } else if (oldest != hit && (hit == SIZE_MAX || banks.hits(fb) >= row_hit_cap_)) {
      consider(DramCmd::kPre, oldest);
    }
  }
  if (best.cmd == DramCmd::kNone) best = best_other;
  if (bounds) {
    const bool chose_cas = best.cmd == DramCmd::kRd || best.cmd == DramCmd::kWr;
    // Candidates tie on readiness often; excluding the chosen one by age is exact when it
    // is the unique minimum and conservative (earlier) otherwise.
    bounds->cas = (chose_cas && cas1_seq == best.seq) ? cas2 : cas1;
    bounds->other =
        (!chose_cas && best.cmd != DramCmd::kNone && oth1_seq == best.seq) ? oth2 : oth1;
    bounds->arrival = arrivals;
  }
}

void DramScheduler::remove(const DramChoice& c) {
  std::vector<DramBurst>& q = queues_[c.bank];
  --queued_[q[c.pos].write];
  q.erase(q.begin() + static_cast<long>(c.pos));
  if (q.empty()) active_.erase(std::find(active_.begin(), active_.end(), c.bank));
}

bool DramScheduler::row_wanted(int fb, int64_t row) const {
  for (const DramBurst& b : queues_[fb])
    if (b.row == row) return true;
  return false;
}

}  // namespace tessel::memory
