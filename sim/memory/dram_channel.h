// One DRAM channel at command level: bank state machines, JEDEC timing checks, FR-FCFS,
// refresh. Plain C++ (no SystemC) so the scheduler is testable and fast; DramController
// drives it from SystemC.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include "sim/memory/dram_params.h"

namespace tessel::memory {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// Splits a burst index (address / burst bytes) into channel, rank, bank group, bank, row and
// column by the configured field order (most significant field first).
class AddressMapper {
 public:
  explicit AddressMapper(const DramParams& p);
  struct Fields {
    int64_t channel = 0, rank = 0, bankgroup = 0, bank = 0, row = 0, column = 0;
  };
  Fields decode(uint64_t burst_index) const;
  uint64_t encode(const Fields& f) const;

 private:
  std::vector<MapField> order_;  // least significant first
  std::array<int, 6> bits_{};
};

enum class RowOutcome : uint8_t { kUnknown, kHit, kMiss, kConflict };

struct DramBurst {
  uint32_t txn = 0;  // the controller's transaction slot
  int32_t rank = 0, bankgroup = 0, bank = 0;
  int64_t row = 0;
  bool write = false;
  int64_t arrival = 0;  // cycle from which it may be scheduled
  RowOutcome outcome = RowOutcome::kUnknown;
  uint64_t seq = 0;  // age, set by the channel
};

struct BurstDone {
  uint32_t txn;
  int64_t done;  // cycle the last data beat leaves (read) or enters (write) the device
  RowOutcome outcome;
};

struct DramChannelStats {
  uint64_t act = 0, pre = 0, rd = 0, wr = 0, ref = 0;
  uint64_t hits = 0, misses = 0, conflicts = 0;
  uint64_t active_cycles = 0;  // rank-cycles with at least one open bank
  uint64_t data_cycles = 0;    // data-bus busy cycles
};

// One issued command, for timing checkers and command traces.
struct DramCommand {
  enum Kind : uint8_t { kAct, kPre, kRd, kWr, kRef } kind;
  int64_t cycle;
  int32_t rank, bankgroup, bank;  // bank fields unused for kRef
  int64_t row;
};

class DramChannel {
 public:
  explicit DramChannel(const DramParams& p);
  // Records every command into `log` (null: none). Costs one branch per command.
  void set_command_log(std::vector<DramCommand>* log) { log_ = log; }

  bool empty() const { return queued_ == 0; }
  size_t queued() const { return queued_; }
  size_t capacity() const { return static_cast<size_t>(p_.queue_depth); }
  void enqueue(DramBurst b);

  // Performs the refreshes that fell due while the channel sat idle up to cycle `now`
  // (call before enqueueing into an idle channel).
  void catch_up(int64_t now);
  // Issues at most one command at cycle `now` (one command bus), appending bursts whose
  // column command issued to `done`. Returns the next cycle worth waking at (> now), or
  // kNever when nothing is queued.
  int64_t step(int64_t now, std::vector<BurstDone>& done);
  // Closes the accounting at cycle `end`: refreshes due by then, open-bank time.
  void finish(int64_t end);

  const DramChannelStats& stats() const { return stats_; }

 private:
  enum class Cmd : uint8_t { kNone, kAct, kPre, kRd, kWr };
  struct Bank {
    int64_t open_row = -1;
    int64_t hits = 0;  // column commands since the activation
    int64_t ready_act = 0, ready_pre = 0, ready_rd = 0, ready_wr = 0;
  };
  struct Group {
    int64_t ready_act = 0, ready_rd = 0, ready_wr = 0;
  };
  struct Rank {
    int64_t ready_act = 0, ready_rd = 0, ready_wr = 0;
    std::array<int64_t, 4> faw{};  // last four activations (ring)
    int faw_head = 0;
    int64_t refresh_due = 0, refresh_until = 0;
    bool refresh_pending = false;
    int open_banks = 0;
    int64_t open_since = 0;
  };
  struct Choice {
    Cmd cmd = Cmd::kNone;
    int64_t ready = kNever;
    int bank = -1;   // flat bank
    size_t pos = 0;  // index in the bank's queue
    uint64_t seq = 0;
  };

  // Ready cycle of `cmd` for burst `b` (bank, bank group, rank, bus and command bus).
  int64_t ready_of(Cmd cmd, int fb, const DramBurst& b) const;
  bool row_has_hits(int flat_bank, int64_t row, int64_t now) const;
  int flat(int rank, int bg, int bank) const {
    return (rank * static_cast<int>(p_.bankgroups) + bg) * static_cast<int>(p_.banks_per_group) +
           bank;
  }
  // Scans the queue at cycle `now`: the command FR-FCFS issues now (index, -1 for none) and
  // the earliest future cycle anything becomes ready.
  // Lower bounds on when the commands that lost arbitration (or wait) become ready.
  struct Bounds {
    int64_t cas = kNever;      // other column commands
    int64_t other = kNever;    // other ACT / PRE
    int64_t arrival = kNever;  // requests that have not arrived yet
  };
  // With `probe`, stops at the first command ready at `now` (only "is anything ready").
  void scan(int64_t now, Choice& best, int64_t& next_ready, bool probe = false,
            Bounds* bounds = nullptr) const;
  bool refresh_step(int64_t now, int64_t& next_ready, bool act);
  void issue(const Choice& c, int64_t now, std::vector<BurstDone>& done);
  void activate(int rank, int bg, int fb, int64_t row, int64_t t);
  void precharge(int rank, int fb, int64_t t);
  void refresh(int rank, int64_t t);

  const DramParams& p_;
  std::vector<Bank> banks_;
  std::vector<Group> groups_;
  std::vector<Rank> ranks_;
  // Requests wait per bank (arrival order within a bank), so FR-FCFS looks at the few
  // banks with work instead of every queued request.
  std::vector<std::vector<DramBurst>> bank_queues_;
  std::vector<int> active_banks_;  // banks with a non-empty queue
  size_t queued_ = 0;
  uint64_t next_seq_ = 0;
  int64_t cmd_free_ = 0;   // command bus
  int64_t data_free_ = 0;  // data bus
  int last_rank_ = 0;
  int64_t rtw_ = 0;  // RD to WR turnaround on the same rank
  DramChannelStats stats_;
  std::vector<DramCommand>* log_ = nullptr;
};

}  // namespace tessel::memory
