// One DRAM channel at command level, and the address mapping. Plain C++ (no SystemC) so
// the controller is testable and fast; DramController drives it from SystemC.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "sim/memory/dram_banks.h"
#include "sim/memory/dram_constraints.h"
#include "sim/memory/dram_params.h"
#include "sim/memory/dram_refresh.h"
#include "sim/memory/dram_scheduler.h"

namespace tessel::memory {

// Splits a burst index (address / burst bytes) into channel, rank, bank group, bank, row and
// column by the configured field order (most significant field first).
class AddressMapper {
 public:
  explicit AddressMapper(const DramParams& p);
  struct Fields {
    int64_t channel = 0, rank = 0, bankgroup = 0, bank = 0, row = 0, column = 0;
  };
  // Every request's bursts pass through here: one shift and mask per field.
  Fields decode(uint64_t burst_index) const {
    auto field = [&](MapField m) {
      const int i = static_cast<int>(m);
      return static_cast<int64_t>((burst_index >> shift_[i]) & mask_[i]);
    };
    Fields f;
    f.channel = field(MapField::kChannel);
    f.rank = field(MapField::kRank);
    f.bankgroup = field(MapField::kBankGroup);
    f.bank = field(MapField::kBank);
    f.row = field(MapField::kRow);
    f.column = field(MapField::kColumn);
    return f;
  }
  uint64_t encode(const Fields& f) const;

 private:
  std::vector<MapField> order_;  // least significant first
  std::array<int, 6> bits_{};
  std::array<int, 6> shift_{};      // position of each field's lowest bit
  std::array<uint64_t, 6> mask_{};  // its width (bits above all fields are dropped: aliases)
};

struct DramChannelStats {
  uint64_t act = 0, pre = 0, rd = 0, wr = 0, ref = 0;
  uint64_t hits = 0, misses = 0, conflicts = 0;
  uint64_t active_cycles = 0;  // rank-cycles with at least one open bank
  uint64_t data_cycles = 0;    // data-bus busy cycles
  uint64_t write_drains = 0;   // switches of the write-drain scheduler into write mode
};

// One issued command, for timing checkers and command traces.
struct DramCommand {
  enum Kind : uint8_t { kAct, kPre, kRd, kWr, kRef } kind;
  int64_t cycle;
  int32_t rank, bankgroup, bank;  // bank fields unused for kRef
  int64_t row;
};

// The controller of one channel, DRAMSys-style in parts: the scheduler (queues and policy,
// dram_scheduler.h) proposes a command, the refresh manager (dram_refresh.h) may take the
// command slot first, the constraints (dram_constraints.h) say when each command may
// issue, and the bank state machines (dram_banks.h) hold the open rows. This class issues
// at most one command per cycle and keeps statistics and the command log.
class DramChannel {
 public:
  explicit DramChannel(const DramParams& p);
  // Records every command into `log` (null: none). Costs one branch per command.
  void set_command_log(std::vector<DramCommand>* log) { log_ = log; }

  bool empty() const { return sched_.held() == 0; }
  size_t queued() const { return sched_.held(); }  // bursts held, arrived or not
  bool can_accept(bool write) const { return sched_.can_accept(write); }
  // Takes a burst from its arrival cycle on (the caller checks can_accept first).
  void enqueue(const DramBurst& b);

  // Performs the refreshes that fell due while the channel sat idle up to cycle `now`
  // (call before enqueueing into an idle channel).
  void catch_up(int64_t now);
  // Issues at most one command at cycle `now` (one command bus), appending bursts whose
  // column command issued to `done`. Returns the next cycle worth waking at (> now), or
  // kNever when nothing is queued.
  int64_t step(int64_t now, std::vector<BurstDone>& done);
  // Closes the accounting at cycle `end`: refreshes due by then, open-bank time.
  void finish(int64_t end);

  DramChannelStats stats() const;

 private:
  int flat(int rank, int bg, int bank) const {
    return (rank * static_cast<int>(p_.bankgroups) + bg) * static_cast<int>(p_.banks_per_group) +
           bank;
  }
  void issue(const DramChoice& c, int64_t now, std::vector<BurstDone>& done);
  void activate(int rank, int bg, int fb, int64_t row, int64_t t);
  void precharge(int rank, int fb, int64_t t);
  void refresh(int rank, int64_t t);

  const DramParams& p_;
  DramConstraints timing_;
  DramBanks banks_;
  DramRefresh refresh_;
  DramScheduler sched_;
  DramChannelStats stats_;
  std::vector<DramCommand>* log_ = nullptr;
};

}  // namespace tessel::memory
