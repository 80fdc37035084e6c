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

// The rules of one bank's candidates, as a walk over its bursts in age order (reads and
// writes merged by `seq`): bursts not arrived yet lower next_ready / arrivals and are
// skipped; the walk stops once it has what it needs (which also decides which later
// arrivals it saw, so pick_arrived keeps to bursts that all arrived).
template <DramPolicy kPolicy>
DramScheduler::Pick DramScheduler::pick_in_order(const BankQueue& q, int64_t open, bool other,
                                                 int64_t now, int64_t& next_ready,
                                                 int64_t& arrivals) const {
  constexpr bool fcfs = kPolicy == DramPolicy::kFcfs;
  constexpr bool drain = kPolicy == DramPolicy::kFrFcfsWriteDrain;
  const std::vector<DramBurst>&reads = q.dir[0], &writes = q.dir[1];
  Pick pk;
  size_t r = 0, w = 0, shown = 0;
  while (r < reads.size() || w < writes.size()) {
    const bool is_write = r == reads.size() || (w < writes.size() && writes[w].seq < reads[r].seq);
    const DramBurst& b = is_write ? writes[w++] : reads[r++];
    if (b.arrival > now) {
      next_ready = std::min(next_ready, b.arrival);
      arrivals = std::min(arrivals, b.arrival);
      continue;
    }
    const bool served = !drain || b.write == write_mode_;
    if (served) {
      if (++shown > window_) break;
      if (!pk.oldest) {
        pk.oldest = &b;
        if (fcfs || open < 0) break;
      }
    } else if (!other || open < 0 || b.first_cmd < 0) {
      continue;
    }
    if (!fcfs && !pk.hit && b.row == open) {
      pk.hit = &b;
      if (pk.oldest) break;
    }
  }
  return pk;
}

namespace {
// The first of the first `n` bursts of `list` on `row` (null: none).
const DramBurst* first_on_row(const std::vector<DramBurst>& list, size_t n, int64_t row) {
  for (const DramBurst *b = list.data(), *end = b + n; b != end; ++b)
    if (b->row == row) return b;
  return nullptr;
}
}  // namespace

// pick_in_order's result when every queued burst of the bank has arrived, from the two
// lists directly: the oldest is a list's front, the hit the earlier of each list's first.
// `inline`: GCC otherwise calls it out of line from the scan, its hottest loop.
template <DramPolicy kPolicy>
inline DramScheduler::Pick DramScheduler::pick_arrived(const BankQueue& q, int64_t open,
                                                       bool other) const {
  constexpr bool fcfs = kPolicy == DramPolicy::kFcfs;
  constexpr bool drain = kPolicy == DramPolicy::kFrFcfsWriteDrain;
  Pick pk;
  if constexpr (!drain) {
    const std::vector<DramBurst>&reads = q.dir[0], &writes = q.dir[1];
    const bool write_first =
        reads.empty() || (!writes.empty() && writes.front().seq < reads.front().seq);
    pk.oldest = write_first ? &writes.front() : &reads.front();
    if (fcfs || open < 0) return pk;
    const DramBurst* r = first_on_row(reads, reads.size(), open);
    const DramBurst* w = first_on_row(writes, writes.size(), open);
    pk.hit = w && (!r || w->seq < r->seq) ? w : r;
    return pk;
  } else {
    const std::vector<DramBurst>&served = q.dir[write_mode_], &others = q.dir[!write_mode_];
    if (!served.empty()) pk.oldest = &served.front();
    if (open < 0) return pk;  // no hit on a closed bank
    // The per-bank command queue shows the first window_ served bursts; the walk in age
    // order stops at the next one, so the other queue's bursts count only before it.
    pk.hit = first_on_row(served, std::min(window_, served.size()), open);
    // The other queue offers only hits whose own command already issued (usually none).
    if (other && q.started[!write_mode_] > 0) {
      uint64_t before = served.size() > window_ ? served[window_].seq : UINT64_MAX;
      if (pk.hit) before = std::min(before, pk.hit->seq);
      for (const DramBurst& b : others) {
        if (b.seq >= before) break;
        if (b.first_cmd >= 0 && b.row == open) {
          pk.hit = &b;
          break;
        }
      }
    }
    return pk;
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
  // its "oldest" command multiplexer). Write drain: FR-FCFS over one queue at a time; the
  // other queue only offers a hit whose own ACT opened the row (Ramulator 2.0's "active
  // buffer"): that activation is not wasted, and the row is not closed under it. A per-bank
  // command queue shows the scheduler only its first `window_` bursts of the queue served.
  constexpr bool fcfs = kPolicy == DramPolicy::kFcfs;
  const bool any_refresh = refresh.any_pending();
  const bool other = queued_[!write_mode_] > 0;  // the write drain's other queue has work
  // FR-FCFS's hit among the first window_ bursts of both lists needs the merged walk.
  const bool windowed = !fcfs && kPolicy != DramPolicy::kFrFcfsWriteDrain && window_ != SIZE_MAX;
  struct Candidate {
    DramCmd cmd = DramCmd::kNone;
    int bank = -1;
    const DramBurst* burst = nullptr;
  };
  Candidate win, win_other;  // the oldest ready column command (FCFS: any), ACT or PRE
  next_ready = kNever;
  // Runner-up readiness per kind, so that the channel can bound its next wake without a
  // second scan: the two smallest per kind (the smallest may be the chosen command).
  int64_t cas1 = kNever, cas2 = kNever, oth1 = kNever, oth2 = kNever;
  uint64_t cas1_seq = 0, oth1_seq = 0;
  int64_t arrivals = kNever;
  for (int fb : active_) {
    if (probe && (win.burst || win_other.burst)) break;
    const BankQueue& q = queues_[fb];
    const int64_t open = banks.open_row(fb);
    Pick pk;
    if (q.latest_arrival <= now && !windowed) {
      const int mode = write_mode_ + 2 * other;
      if (q.picked_version != q.version || q.picked_open != open || q.picked_mode != mode) {
        q.picked = pick_arrived<kPolicy>(q, open, other);
        q.picked_version = q.version;
        q.picked_open = open;
        q.picked_mode = mode;
      }
      pk = q.picked;
    } else {
      pk = pick_in_order<kPolicy>(q, open, other, now, next_ready, arrivals);
    }
    const DramBurst *oldest = pk.oldest, *hit = pk.hit;
    if (!oldest && !hit) continue;
    if (any_refresh && refresh.pending((oldest ? oldest : hit)->rank))
      continue;  // the refresh manager owns this rank
    auto consider = [&](DramCmd cmd, const DramBurst& b) {
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
      Candidate& slot = (cas || fcfs) ? win : win_other;
      if (!slot.burst || b.seq < slot.burst->seq) slot = Candidate{cmd, fb, &b};
    };
    if constexpr (fcfs) {
      consider(oldest->row == open ? (oldest->write ? DramCmd::kWr : DramCmd::kRd)
               : open < 0          ? DramCmd::kAct
                                   : DramCmd::kPre,
               *oldest);
      continue;
    }
    if (hit) consider(hit->write ? DramCmd::kWr : DramCmd::kRd, *hit);
    if (!oldest) continue;
    if (open < 0) {
      consider(DramCmd::kAct, *oldest);
    } else if (oldest != hit && (!hit || banks.hits(fb) >= row_hit_cap_)) {
      consider(DramCmd::kPre, *oldest);
    }
  }
  const Candidate& w = win.burst ? win : win_other;
  best = DramChoice{};
  if (w.burst) {
    const std::vector<DramBurst>& list = queues_[w.bank].dir[w.burst->write];
    best = DramChoice{w.cmd, w.bank, w.burst->write, static_cast<size_t>(w.burst - list.data()),
                      w.burst->seq};
  }
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
  BankQueue& q = queues_[c.bank];
  std::vector<DramBurst>& list = q.dir[c.write];
  --queued_[c.write];
  if (list[c.pos].first_cmd >= 0) --q.started[c.write];
  list.erase(list.begin() + static_cast<long>(c.pos));
  ++q.version;
  if (q.empty()) {
    q.latest_arrival = std::numeric_limits<int64_t>::min();
    active_.erase(std::find(active_.begin(), active_.end(), c.bank));
  }
}

bool DramScheduler::row_wanted(int fb, int64_t row) const {
  for (const std::vector<DramBurst>& list : queues_[fb].dir)
    for (const DramBurst& b : list)
      if (b.row == row) return true;
  return false;
}

}  // namespace tessel::memory
