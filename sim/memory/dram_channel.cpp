// Command-level DRAM channel: the scheduler, refresh manager, constraints and banks in one
// command loop; and the address mapping.
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
  int shift = 0;
  for (MapField m : order_) {
    const int i = static_cast<int>(m);
    shift_[i] = shift;
    mask_[i] = (uint64_t{1} << bits_[i]) - 1;
    shift += bits_[i];
  }
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
    : p_(p), timing_(p), banks_(p), refresh_(p), sched_(p) {}

void DramChannel::enqueue(const DramBurst& b) {
  sched_.enqueue(b, flat(b.rank, b.bankgroup, b.bank));
}

DramChannelStats DramChannel::stats() const {
  DramChannelStats s = stats_;
  s.active_cycles = banks_.active_cycles();
  s.write_drains = sched_.write_drains();
  return s;
}

void DramChannel::activate(int rank, int bg, int fb, int64_t row, int64_t t) {
  timing_.activate(rank, bg, fb, t);
  banks_.activate(rank, fb, row, t);
  ++stats_.act;
  if (log_)
    log_->push_back(
        {DramCommand::kAct, t, rank, bg, fb % static_cast<int>(p_.banks_per_group), row});
}

void DramChannel::precharge(int rank, int fb, int64_t t) {
  const int64_t row = banks_.open_row(fb);
  timing_.precharge(fb, t);
  banks_.precharge(rank, fb, t);
  ++stats_.pre;
  if (log_) {
    const int in_rank = fb % static_cast<int>(p_.banks_per_rank());
    log_->push_back({DramCommand::kPre, t, rank, in_rank / static_cast<int>(p_.banks_per_group),
                     in_rank % static_cast<int>(p_.banks_per_group), row});
  }
}

void DramChannel::refresh(int rank, int64_t t) {
  timing_.refresh(rank, t);
  refresh_.refreshed(rank);
  ++stats_.ref;
  if (log_) log_->push_back({DramCommand::kRef, t, rank, 0, 0, 0});
}

void DramChannel::issue(const DramChoice& c, int64_t now, std::vector<BurstDone>& done) {
  const DramCmd cmd = c.cmd;
  const int fb = c.bank;
  DramBurst& b = sched_.burst(c);
  if (b.outcome == RowOutcome::kUnknown)
    b.outcome = cmd == DramCmd::kAct   ? RowOutcome::kMiss
                : cmd == DramCmd::kPre ? RowOutcome::kConflict
                                       : RowOutcome::kHit;
  sched_.first_command(c, now);
  timing_.claim_bus(now);
  if (cmd == DramCmd::kAct) {
    activate(b.rank, b.bankgroup, fb, b.row, now);
    return;
  }
  if (cmd == DramCmd::kPre) {
    precharge(b.rank, fb, now);
    return;
  }
  const bool write = cmd == DramCmd::kWr;
  const int64_t end = timing_.column(write, b.rank, b.bankgroup, fb, now);
  ++(write ? stats_.wr : stats_.rd);
  if (log_)
    log_->push_back(
        {write ? DramCommand::kWr : DramCommand::kRd, now, b.rank, b.bankgroup, b.bank, b.row});
  stats_.data_cycles += static_cast<uint64_t>(p_.t.burst);
  banks_.column(fb);
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
  done.push_back({b.txn, end, b.outcome, b.first_cmd});
  const int64_t row = b.row;
  const int rank = b.rank;
  sched_.remove(c);
  // Closed-page policy: auto-precharge (RDA/WRA) unless another request wants this row.
  if (!p_.open_page && !sched_.row_wanted(fb, row)) precharge(rank, fb, timing_.pre_ready(fb));
}

int64_t DramChannel::step(int64_t now, std::vector<BurstDone>& done) {
  if (sched_.held() == 0) return kNever;
  const int64_t later = now + 1;
  int64_t refresh_next = kNever;
  const DramRefresh::Action a = refresh_.next(now, banks_, timing_, refresh_next, true);
  DramChoice c;
  int64_t future;
  if (a.kind != DramRefresh::Action::kNone) {
    // A refresh command takes this cycle; it may change many banks at once, so look at
    // everything again from the next cycle.
    timing_.claim_bus(now);
    if (a.kind == DramRefresh::Action::kPre)
      precharge(a.rank, a.bank, now);
    else
      refresh(a.rank, now);
    refresh_next = kNever;
    refresh_.next(later, banks_, timing_, refresh_next, false);
    sched_.update_mode();
    sched_.choose(later, banks_, timing_, refresh_, c, future, nullptr, true);
    if (c.cmd != DramCmd::kNone) return later;
    return std::max(later, std::min(future, refresh_next));
  }
  sched_.update_mode();
  DramBounds b;
  sched_.choose(now, banks_, timing_, refresh_, c, future, &b, false);
  if (c.cmd == DramCmd::kNone) return std::max(later, std::min(future, refresh_next));
  issue(c, now, done);
  if (sched_.held() == 0) return kNever;
  // The write-drain mode flips: the other queue's candidates were not in the bounds.
  if (sched_.mode_would_change()) return later;
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
    case DramCmd::kRd:
    case DramCmd::kWr:
      cas = std::max(cas, now + std::min(t.ccd_s, t.burst));
      created = now + std::min({t.rtp, t.ccd_s, t.burst});
      break;
    case DramCmd::kAct:
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
  for (int rank = refresh_.overdue(now); rank >= 0; rank = refresh_.overdue(now)) {
    int64_t t =
        std::max({refresh_.due(rank), timing_.refresh_done(rank), timing_.command_bus_free()});
    for (int fb = rank * per_rank; fb < (rank + 1) * per_rank; ++fb)
      if (banks_.open_row(fb) >= 0) precharge(rank, fb, std::max(t, timing_.pre_ready(fb)));
    t = std::max(t, timing_.earliest_refresh(rank));
    refresh(rank, t);
    timing_.claim_bus(t);
  }
  timing_.idle_until(now);
}

void DramChannel::finish(int64_t end) {
  catch_up(end);
  banks_.finish(end);
}

}  // namespace tessel::memory
