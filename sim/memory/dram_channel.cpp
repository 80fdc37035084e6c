// Command-level DRAM channel: FR-FCFS over per-bank state with JEDEC timing constraints.
#include "sim/memory/dram_channel.h"

#include <algorithm>

namespace tessel::memory {
namespace {

int log2i(int64_t v) {
  int b = 0;
  while ((int64_t{1} << b) < v) ++b;
  return b;
}

}  // namespace

AddressMapper::AddressMapper(const DramParams& p) {
  order_.assign(p.mapping.rbegin(), p.mapping.rend());
  bits_[static_cast<int>(MapField::kChannel)] = log2i(p.channels);
  bits_[static_cast<int>(MapField::kRank)] = log2i(p.ranks);
  bits_[static_cast<int>(MapField::kBankGroup)] = log2i(p.bankgroups);
  bits_[static_cast<int>(MapField::kBank)] = log2i(p.banks_per_group);
  bits_[static_cast<int>(MapField::kRow)] = log2i(p.rows);
  bits_[static_cast<int>(MapField::kColumn)] = log2i(p.bursts_per_row());
}

AddressMapper::Fields AddressMapper::decode(uint64_t burst_index) const {
  Fields f;
  int64_t* slot[6] = {&f.channel, &f.rank, &f.bankgroup, &f.bank, &f.row, &f.column};
  for (MapField m : order_) {
    int b = bits_[static_cast<int>(m)];
    *slot[static_cast<int>(m)] = static_cast<int64_t>(burst_index & ((uint64_t{1} << b) - 1));
    burst_index >>= b;
  }
  // Addresses beyond the capacity wrap onto the row field (the device aliases them).
  return f;
}

uint64_t AddressMapper::encode(const Fields& f) const {
  const int64_t value[6] = {f.channel, f.rank, f.bankgroup, f.bank, f.row, f.column};
  uint64_t out = 0;
  int shift = 0;
  for (MapField m : order_) {
    int b = bits_[static_cast<int>(m)];
    out |= static_cast<uint64_t>(value[static_cast<int>(m)]) << shift;
    shift += b;
  }
  return out;
}

DramChannel::DramChannel(const DramParams& p)
    : p_(p),
      banks_(static_cast<size_t>(p.ranks * p.banks_per_rank())),
      groups_(static_cast<size_t>(p.ranks * p.bankgroups)),
      ranks_(static_cast<size_t>(p.ranks)) {
  // Ranks refresh staggered across tREFI so that they do not all stall the bus together.
  for (size_t r = 0; r < ranks_.size(); ++r) {
    ranks_[r].refresh_due = p.t.refi * static_cast<int64_t>(r + 1) / p.ranks;
    ranks_[r].faw.fill(-p.t.faw);
  }
  rtw_ = p.t.cl + p.t.burst + 2 - p.t.cwl;
  bank_queues_.resize(banks_.size());
}

void DramChannel::enqueue(DramBurst b) {
  b.seq = next_seq_++;
  const int fb = flat(b.rank, b.bankgroup, b.bank);
  if (bank_queues_[fb].empty()) active_banks_.push_back(fb);
  bank_queues_[fb].push_back(b);
  ++queued_;
}

bool DramChannel::row_has_hits(int fb, int64_t row, int64_t now) const {
  for (const DramBurst& b : bank_queues_[fb])
    if (b.arrival <= now && b.row == row) return true;
  return false;
}

int64_t DramChannel::ready_of(Cmd cmd, int fb, const DramBurst& b) const {
  const Bank& bank = banks_[fb];
  const Group& g = groups_[b.rank * p_.bankgroups + b.bankgroup];
  const Rank& r = ranks_[b.rank];
  const int64_t switch_rank = b.rank != last_rank_ ? p_.t.rtrs : 0;
  int64_t ready;
  switch (cmd) {
    case Cmd::kWr:
      ready =
          std::max({bank.ready_wr, g.ready_wr, r.ready_wr, data_free_ + switch_rank - p_.t.cwl});
      break;
    case Cmd::kRd:
      ready = std::max({bank.ready_rd, g.ready_rd, r.ready_rd, data_free_ + switch_rank - p_.t.cl});
      break;
    case Cmd::kAct:
      ready = std::max({bank.ready_act, g.ready_act, r.ready_act, r.faw[r.faw_head] + p_.t.faw,
                        r.refresh_until});
      break;
    case Cmd::kPre:
      ready = bank.ready_pre;
      break;
    default:
      return kNever;
  }
  return std::max(ready, cmd_free_);
}

void DramChannel::scan(int64_t now, Choice& best, int64_t& next_ready, bool probe,
                       Bounds* bounds) const {
  // FR-FCFS: among commands ready now, column commands (row hits) first, then the oldest.
  // Per bank the candidates are its oldest arrived hit (CAS) and its oldest arrived
  // request otherwise (ACT to a closed bank, PRE for a conflict once no hit is waiting or
  // the open row has served row_hit_cap hits: FR-FCFS-Cap bounds a conflict's wait).
  best = Choice{};
  Choice best_other;
  next_ready = kNever;
  // Runner-up readiness per kind, so that step() can bound the next wake without a
  // second scan: the two smallest per kind (the smallest may be the chosen command).
  int64_t cas1 = kNever, cas2 = kNever, oth1 = kNever, oth2 = kNever;
  uint64_t cas1_seq = 0, oth1_seq = 0;
  int64_t arrivals = kNever;
  for (int fb : active_banks_) {
    if (probe && (best.cmd != Cmd::kNone || best_other.cmd != Cmd::kNone)) break;
    const std::vector<DramBurst>& q = bank_queues_[fb];
    const DramBurst& head = q.front();
    if (ranks_[head.rank].refresh_pending) continue;  // refresh_step owns this rank
    const Bank& bank = banks_[fb];
    size_t oldest = q.size(), hit = q.size();
    for (size_t i = 0; i < q.size(); ++i) {
      if (q[i].arrival > now) {
        next_ready = std::min(next_ready, q[i].arrival);
        arrivals = std::min(arrivals, q[i].arrival);
        continue;
      }
      if (oldest == q.size()) oldest = i;
      if (q[i].row == bank.open_row) {
        hit = i;
        break;
      }
    }
    if (oldest == q.size()) continue;
    auto consider = [&](Cmd cmd, size_t i) {
      const int64_t ready = ready_of(cmd, fb, q[i]);
      const bool cas = cmd == Cmd::kRd || cmd == Cmd::kWr;
      int64_t &m1 = cas ? cas1 : oth1, &m2 = cas ? cas2 : oth2;
      uint64_t& m1_seq = cas ? cas1_seq : oth1_seq;
      if (ready < m1) {
        m2 = m1;
        m1 = ready;
        m1_seq = q[i].seq;
      } else if (ready < m2) {
        m2 = ready;
      }
      if (ready > now) {
        next_ready = std::min(next_ready, ready);
        return;
      }
      Choice& slot = (cmd == Cmd::kRd || cmd == Cmd::kWr) ? best : best_other;
      if (slot.cmd == Cmd::kNone || q[i].seq < slot.seq) slot = Choice{cmd, ready, fb, i, q[i].seq};
    };
    if (hit < q.size()) consider(q[hit].write ? Cmd::kWr : Cmd::kRd, hit);
    if (bank.open_row < 0) {
      consider(Cmd::kAct, oldest);
    } else if (oldest != hit && (hit == q.size() || bank.hits >= p_.row_hit_cap)) {
      consider(Cmd::kPre, oldest);
    }
  }
  if (best.cmd == Cmd::kNone) best = best_other;
  if (bounds) {
    const bool chose_cas = best.cmd == Cmd::kRd || best.cmd == Cmd::kWr;
    // Candidates tie on readiness often; excluding the chosen one by age is exact when it
    // is the unique minimum and conservative (earlier) otherwise.
    bounds->cas = (chose_cas && cas1_seq == best.seq) ? cas2 : cas1;
    bounds->other = (!chose_cas && best.cmd != Cmd::kNone && oth1_seq == best.seq) ? oth2 : oth1;
    bounds->arrival = arrivals;
  }
}

void DramChannel::activate(int rank, int bg, int fb, int64_t row, int64_t t) {
  Bank& bank = banks_[fb];
  Group& g = groups_[rank * p_.bankgroups + bg];
  Rank& r = ranks_[rank];
  bank.open_row = row;
  bank.hits = 0;
  bank.ready_rd = t + p_.t.rcd;
  bank.ready_wr = t + p_.t.rcd_wr;
  bank.ready_pre = t + p_.t.ras;
  bank.ready_act = t + p_.t.rc;
  g.ready_act = std::max(g.ready_act, t + p_.t.rrd_l);
  r.ready_act = std::max(r.ready_act, t + p_.t.rrd_s);
  r.faw[r.faw_head] = t;
  r.faw_head = (r.faw_head + 1) % 4;
  if (r.open_banks++ == 0) r.open_since = t;
  ++stats_.act;
  if (log_)
    log_->push_back(
        {DramCommand::kAct, t, rank, bg, fb % static_cast<int>(p_.banks_per_group), row});
}

void DramChannel::precharge(int rank, int fb, int64_t t) {
  Bank& bank = banks_[fb];
  Rank& r = ranks_[rank];
  const int64_t row = bank.open_row;
  bank.open_row = -1;
  bank.ready_act = std::max(bank.ready_act, t + p_.t.rp);
  if (--r.open_banks == 0) stats_.active_cycles += static_cast<uint64_t>(t - r.open_since);
  ++stats_.pre;
  if (log_) {
    const int in_rank = fb % static_cast<int>(p_.banks_per_rank());
    log_->push_back({DramCommand::kPre, t, rank, in_rank / static_cast<int>(p_.banks_per_group),
                     in_rank % static_cast<int>(p_.banks_per_group), row});
  }
}

void DramChannel::refresh(int rank, int64_t t) {
  Rank& r = ranks_[rank];
  const int per_rank = static_cast<int>(p_.banks_per_rank());
  for (int b = 0; b < per_rank; ++b) {
    Bank& bank = banks_[rank * per_rank + b];
    bank.ready_act = std::max(bank.ready_act, t + p_.t.rfc);
  }
  r.refresh_until = t + p_.t.rfc;
  r.refresh_due += p_.t.refi;
  r.refresh_pending = false;
  ++stats_.ref;
  if (log_) log_->push_back({DramCommand::kRef, t, rank, 0, 0, 0});
}

bool DramChannel::refresh_step(int64_t now, int64_t& next_ready, bool act) {
  // All-bank refresh: close every open bank of the rank, then REF once tRP has passed.
  // With act == false nothing changes: only next_ready is computed.
  const int per_rank = static_cast<int>(p_.banks_per_rank());
  for (int rank = 0; rank < static_cast<int>(ranks_.size()); ++rank) {
    Rank& r = ranks_[rank];
    const bool pending = r.refresh_pending || now >= r.refresh_due;
    if (act && pending) r.refresh_pending = true;
    if (!pending) {
      next_ready = std::min(next_ready, r.refresh_due);
      continue;
    }
    int64_t ready = std::max(cmd_free_, r.refresh_until);
    int open = -1;
    int64_t pre_ready = kNever;
    for (int b = 0; b < per_rank; ++b) {
      const Bank& bank = banks_[rank * per_rank + b];
      if (bank.open_row >= 0 && std::max(bank.ready_pre, cmd_free_) < pre_ready) {
        pre_ready = std::max(bank.ready_pre, cmd_free_);
        open = rank * per_rank + b;
      }
      ready = std::max(ready, bank.ready_act);
    }
    if (open >= 0) {
      if (act && pre_ready <= now) {
        precharge(rank, open, now);
        cmd_free_ = now + 1;
        return true;
      }
      next_ready = std::min(next_ready, pre_ready);
      continue;
    }
    // REF needs every bank precharged for tRP and the last ACT tRC ago: bank.ready_act.
    if (act && ready <= now) {
      refresh(rank, now);
      cmd_free_ = now + 1;
      return true;
    }
    next_ready = std::min(next_ready, ready);
  }
  return false;
}

void DramChannel::issue(const Choice& c, int64_t now, std::vector<BurstDone>& done) {
  const Cmd cmd = c.cmd;
  const int fb = c.bank;
  std::vector<DramBurst>& q = bank_queues_[fb];
  DramBurst& b = q[c.pos];
  Bank& bank = banks_[fb];
  Group& g = groups_[b.rank * p_.bankgroups + b.bankgroup];
  Rank& r = ranks_[b.rank];
  if (b.outcome == RowOutcome::kUnknown)
    b.outcome = cmd == Cmd::kAct   ? RowOutcome::kMiss
                : cmd == Cmd::kPre ? RowOutcome::kConflict
                                   : RowOutcome::kHit;
  cmd_free_ = now + 1;
  switch (cmd) {
    case Cmd::kAct:
      activate(b.rank, b.bankgroup, fb, b.row, now);
      return;
    case Cmd::kPre:
      precharge(b.rank, fb, now);
      return;
    case Cmd::kRd:
    case Cmd::kWr:
      break;
    case Cmd::kNone:
      return;
  }
  const int64_t t = now;
  int64_t end;
  if (cmd == Cmd::kRd) {
    g.ready_rd = std::max(g.ready_rd, t + p_.t.ccd_l);
    r.ready_rd = std::max(r.ready_rd, t + p_.t.ccd_s);
    g.ready_wr = std::max(g.ready_wr, t + rtw_);
    r.ready_wr = std::max(r.ready_wr, t + rtw_);
    bank.ready_pre = std::max(bank.ready_pre, t + p_.t.rtp);
    end = t + p_.t.cl + p_.t.burst;
    ++stats_.rd;
  } else {
    g.ready_wr = std::max(g.ready_wr, t + p_.t.ccd_l);
    r.ready_wr = std::max(r.ready_wr, t + p_.t.ccd_s);
    g.ready_rd = std::max(g.ready_rd, t + p_.t.cwl + p_.t.burst + p_.t.wtr_l);
    r.ready_rd = std::max(r.ready_rd, t + p_.t.cwl + p_.t.burst + p_.t.wtr_s);
    bank.ready_pre = std::max(bank.ready_pre, t + p_.t.cwl + p_.t.burst + p_.t.wr);
    end = t + p_.t.cwl + p_.t.burst;
    ++stats_.wr;
  }
  data_free_ = end;
  last_rank_ = b.rank;
  if (log_)
    log_->push_back({cmd == Cmd::kRd ? DramCommand::kRd : DramCommand::kWr, t, b.rank, b.bankgroup,
                     b.bank, b.row});
  stats_.data_cycles += static_cast<uint64_t>(p_.t.burst);
  ++bank.hits;
  switch (b.outcome) {
    case RowOutcome::kHit:
      ++stats_.hits;
      break;
    case RowOutcome::kMiss:
      ++stats_.misses;
      break;
    default:
      ++stats_.conflicts;
      break;
  }
  done.push_back({b.txn, end, b.outcome});
  const int64_t row = b.row;
  const int rank = b.rank;
  q.erase(q.begin() + static_cast<long>(c.pos));
  --queued_;
  if (q.empty()) active_banks_.erase(std::find(active_banks_.begin(), active_banks_.end(), fb));
  // Closed-page policy: auto-precharge (RDA/WRA) unless another request wants this row.
  if (!p_.open_page && !row_has_hits(fb, row, kNever)) precharge(rank, fb, bank.ready_pre);
}

int64_t DramChannel::step(int64_t now, std::vector<BurstDone>& done) {
  if (queued_ == 0) return kNever;
  int64_t next_ready = kNever;
  const int64_t later = now + 1;
  if (refresh_step(now, next_ready, true)) {
    // A refresh command changed many banks at once: look at everything again.
    if (queued_ == 0) return kNever;
    int64_t refresh_next = kNever;
    refresh_step(later, refresh_next, false);
    Choice c;
    int64_t future;
    scan(later, c, future, true);
    if (c.cmd != Cmd::kNone) return later;
    return std::max(later, std::min(future, refresh_next));
  }
  const int64_t refresh_next = next_ready;  // refreshes not due yet
  Choice c;
  int64_t future;
  Bounds b;
  scan(now, c, future, false, &b);
  if (c.cmd == Cmd::kNone) return std::max(later, std::min(future, refresh_next));
  issue(c, now, done);
  if (queued_ == 0) return kNever;
  // When to look again, without a second scan. Issuing a command only delays the others
  // (every constraint is a maximum), so their earlier readiness is a lower bound, with
  // these exceptions that the issued command itself creates:
  //  - after RD/WR, another column command waits at least min(tCCD_S, tBURST) (same rank:
  //    tCCD; other rank: the data bus), and the bank's next request may become a PRE
  //    candidate no earlier than tRTP;
  //  - after ACT the bank's requests become column commands after tRCD;
  //  - after PRE the bank's next request becomes an ACT after tRP.
  // Waking early only costs a scan that finds nothing; the bounds never wake late.
  const DramTiming& t = p_.t;
  int64_t created, cas = b.cas;
  switch (c.cmd) {
    case Cmd::kRd:
    case Cmd::kWr:
      cas = std::max(cas, now + std::min(t.ccd_s, t.burst));
      created = now + std::min({t.rtp, t.ccd_s, t.burst});
      break;
    case Cmd::kAct:
      created = now + std::min(t.rcd, t.rcd_wr);
      break;
    default:
      created = now + t.rp;
      break;
  }
  // A refresh falls due by the calendar even while commands are pending.
  const int64_t bound = std::min({cas, b.other, b.arrival, created, refresh_next});
  return std::max(later, bound);
}

void DramChannel::catch_up(int64_t now) {
  // Refreshes that fell due while idle, oldest first across ranks; the open banks of a
  // rank close together first (PREA).
  const int per_rank = static_cast<int>(p_.banks_per_rank());
  while (true) {
    int rank = -1;
    for (int r = 0; r < static_cast<int>(ranks_.size()); ++r)
      if (ranks_[r].refresh_due <= now &&
          (rank < 0 || ranks_[r].refresh_due < ranks_[rank].refresh_due))
        rank = r;
    if (rank < 0) break;
    Rank& r = ranks_[rank];
    int64_t t = std::max({r.refresh_due, r.refresh_until, cmd_free_});
    for (int b = 0; b < per_rank; ++b) {
      Bank& bank = banks_[rank * per_rank + b];
      if (bank.open_row >= 0) precharge(rank, rank * per_rank + b, std::max(t, bank.ready_pre));
    }
    for (int b = 0; b < per_rank; ++b) t = std::max(t, banks_[rank * per_rank + b].ready_act);
    refresh(rank, t);
    cmd_free_ = t + 1;
  }
  cmd_free_ = std::max(cmd_free_, now);
}

void DramChannel::finish(int64_t end) {
  catch_up(end);
  for (Rank& r : ranks_)
    if (r.open_banks > 0 && end > r.open_since) {
      stats_.active_cycles += static_cast<uint64_t>(end - r.open_since);
      r.open_since = end;
    }
}

}  // namespace tessel::memory
