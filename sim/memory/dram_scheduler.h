// The request queues of one DRAM channel and the policy that picks the next command: a read
// queue and a write queue (optionally seen through per-bank command queues of a few
// entries), scheduled by FCFS, FR-FCFS, or FR-FCFS with read priority and a write drain
// between two watermarks.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include "sim/memory/dram_banks.h"
#include "sim/memory/dram_constraints.h"
#include "sim/memory/dram_params.h"
#include "sim/memory/dram_refresh.h"

namespace tessel::memory {

enum class RowOutcome : uint8_t { kUnknown, kHit, kMiss, kConflict };

struct DramBurst {
  uint32_t txn = 0;  // the controller's transaction slot
  int32_t rank = 0, bankgroup = 0, bank = 0;
  int64_t row = 0;
  int64_t arrival = 0;     // cycle from which it may be scheduled
  int64_t first_cmd = -1;  // cycle of the first command issued for it
  uint64_t seq = 0;        // age: order of entry into the queues, set by the scheduler
  bool write = false;
  RowOutcome outcome = RowOutcome::kUnknown;
};

struct BurstDone {
  uint32_t txn;
  int64_t done;  // cycle the last data beat leaves (read) or enters (write) the device
  RowOutcome outcome;
  int64_t first_cmd;  // cycle of its first command (ACT, PRE or the column command)
};

// A command the scheduler picked: for the burst at `pos` of bank `bank`'s read (write) list.
struct DramChoice {
  DramCmd cmd = DramCmd::kNone;
  int bank = -1;  // flat bank
  bool write = false;
  size_t pos = 0;
  uint64_t seq = 0;
};

// Lower bounds on when the candidates that lost arbitration (or wait on timing) are ready.
struct DramBounds {
  int64_t cas = kNever;      // column commands
  int64_t other = kNever;    // ACT and PRE
  int64_t arrival = kNever;  // bursts not arrived yet
};

class DramScheduler {
 public:
  explicit DramScheduler(const DramParams& p);

  // Admission: room in the read (write) queue.
  bool can_accept(bool write) const { return queued_[write] < capacity_[write]; }
  // Queues `b` for flat bank `fb`; it is a candidate from its arrival cycle on.
  void enqueue(DramBurst b, int fb) {
    BankQueue& q = queues_[fb];
    if (q.empty()) active_.push_back(fb);
    b.seq = next_seq_++;
    q.latest_arrival = std::max(q.latest_arrival, b.arrival);
    q.dir[b.write].push_back(b);
    ++q.version;
    ++queued_[b.write];
  }
  size_t held() const { return queued_[0] + queued_[1]; }

  // Write drain: enters write mode above the high watermark (or when no read is queued)
  // and leaves it below the low one while reads are queued; requests count from their
  // acceptance. Returns true when the mode changed.
  bool update_mode() {
    if (!drain_) return false;
    const bool next = next_mode();
    if (next == write_mode_) return false;
    write_mode_ = next;
    if (next) ++drains_;
    return true;
  }
  bool mode_would_change() const { return drain_ && next_mode() != write_mode_; }
  bool write_mode() const { return write_mode_; }
  uint64_t write_drains() const { return drains_; }

  // The command to issue at `now` (best.cmd == kNone: none) among the arrived bursts of
  // ranks not held by refresh; `next_ready` gets the earliest cycle a candidate becomes
  // ready (or a burst arrives). With `probe`, stops at the first candidate ready now.
  void choose(int64_t now, const DramBanks& banks, const DramConstraints& timing,
              const DramRefresh& refresh, DramChoice& best, int64_t& next_ready, DramBounds* bounds,
              bool probe) const;
  DramBurst& burst(const DramChoice& c) { return queues_[c.bank].dir[c.write][c.pos]; }
  // Stamps the cycle of the chosen burst's first command (ACT, PRE or the column command).
  void first_command(const DramChoice& c, int64_t now) {
    BankQueue& q = queues_[c.bank];
    DramBurst& b = q.dir[c.write][c.pos];
    if (b.first_cmd >= 0) return;
    b.first_cmd = now;
    ++q.started[c.write];
    ++q.version;
  }
  void remove(const DramChoice& c);
  // Whether a held burst wants `row` of flat bank `fb` (closed page keeps it open then).
  bool row_wanted(int fb, int64_t row) const;

 private:
  // The bank's oldest candidate of the queue being served and its oldest candidate hit on
  // the open row (see choose_as for the rules); null: none. Pointers, not list positions:
  // the scan runs ~10 banks per command and indexing showed in its profile.
  struct Pick {
    const DramBurst* oldest = nullptr;
    const DramBurst* hit = nullptr;
  };
  // One bank's queued bursts, reads and writes in two lists, each in order of entry (age
  // order across both is their `seq`). Split by direction because a write drain serves one
  // queue at a time: the scan for the served queue's oldest burst and hit then skips none
  // of the other queue's (up to the high watermark of writes waiting behind the reads).
  struct BankQueue {
    std::array<std::vector<DramBurst>, 2> dir;  // [0] reads, [1] writes
    std::array<uint32_t, 2> started{};          // bursts with a command issued, per list
    // No queued burst arrives later (raised on entry, reset when the bank empties): when it
    // is <= now every burst is a candidate, and the choice needs no merged walk in age order.
    int64_t latest_arrival = std::numeric_limits<int64_t>::min();
    // The last pick_arrived result, reused while nothing it depends on changed: the lists
    // (`version`, bumped on entry, removal and first command), the open row and the mode.
    // A command changes one bank, so most of the ~10 banks a scan visits reuse theirs.
    uint64_t version = 0;
    mutable uint64_t picked_version = ~uint64_t{0};
    mutable int64_t picked_open = 0;
    mutable int picked_mode = -1;  // write_mode_ + 2 * other
    mutable Pick picked;
    bool empty() const { return dir[0].empty() && dir[1].empty(); }
  };
  template <DramPolicy kPolicy>
  Pick pick_in_order(const BankQueue& q, int64_t open, bool other, int64_t now, int64_t& next_ready,
                     int64_t& arrivals) const;
  template <DramPolicy kPolicy>
  Pick pick_arrived(const BankQueue& q, int64_t open, bool other) const;
  template <DramPolicy kPolicy>
  void choose_as(int64_t now, const DramBanks& banks, const DramConstraints& timing,
                 const DramRefresh& refresh, DramChoice& best, int64_t& next_ready,
                 DramBounds* bounds, bool probe) const;
  bool next_mode() const {
    const size_t reads = queued_[0], writes = queued_[1];
    const double w = static_cast<double>(writes);
    if (!write_mode_) return w > high_ || (reads == 0 && writes > 0);
    return !(writes == 0 || (w < low_ && reads > 0));
  }

  DramPolicy policy_;
  bool drain_;
  size_t window_;  // per-bank command queue entries (SIZE_MAX: unlimited)
  int64_t row_hit_cap_;
  std::array<size_t, 2> capacity_;
  double high_, low_;  // watermarks in writes
  // The read and write queues, kept per flat bank: a decision looks only at the few banks
  // with work, not at every queued request.
  std::vector<BankQueue> queues_;
  std::vector<int> active_;  // banks with a queued burst
  std::array<size_t, 2> queued_{};
  uint64_t next_seq_ = 0, drains_ = 0;
  bool write_mode_ = false;
};

}  // namespace tessel::memory
