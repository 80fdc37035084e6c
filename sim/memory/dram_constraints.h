// The earliest cycle each DRAM command may issue on one channel: the JEDEC constraints kept
// as ready times per bank, bank group, rank, data bus and command bus (DRAMSys's "checker").
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include "sim/memory/dram_params.h"

namespace tessel::memory {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

enum class DramCmd : uint8_t { kNone, kAct, kPre, kRd, kWr };

class DramConstraints {
 public:
  explicit DramConstraints(const DramParams& p);

  // Earliest cycle `cmd` may issue to flat bank `fb` of bank group `bg` of `rank`.
  int64_t earliest(DramCmd cmd, int rank, int bg, int fb) const {
    const Bank& bank = banks_[fb];
    const Group& g = groups_[rank * bankgroups_ + bg];
    const Rank& r = ranks_[rank];
    const int64_t switch_rank = rank != last_rank_ ? t_.rtrs : 0;
    int64_t ready;
    switch (cmd) {
      case DramCmd::kWr:
        ready = std::max({bank.wr, g.wr, r.wr, data_free_ + switch_rank - t_.cwl});
        break;
      case DramCmd::kRd:
        ready = std::max({bank.rd, g.rd, r.rd, data_free_ + switch_rank - t_.cl});
        break;
      case DramCmd::kAct:
        ready = std::max({bank.act, g.act, r.act, r.faw[r.faw_head] + t_.faw, r.refresh_until});
        break;
      case DramCmd::kPre:
        ready = bank.pre;
        break;
      default:
        return kNever;
    }
    return std::max(ready, cmd_free_);
  }
  // Earliest REF to `rank` once its banks are closed: tRP after each PRE, tRC after each
  // ACT, tRFC after the previous REF.
  int64_t earliest_refresh(int rank) const;
  // Earliest PRE of flat bank `fb` on the command bus.
  int64_t earliest_pre(int fb) const { return std::max(banks_[fb].pre, cmd_free_); }
  // Earliest PRE of `fb` ignoring the command bus (auto-precharge needs no command slot).
  int64_t pre_ready(int fb) const { return banks_[fb].pre; }
  int64_t command_bus_free() const { return cmd_free_; }
  int64_t refresh_done(int rank) const { return ranks_[rank].refresh_until; }

  // Record a command issued at cycle t. Only claim_bus() occupies the command bus, so that an
  // auto-precharge (RDA/WRA) costs no command slot.
  void activate(int rank, int bg, int fb, int64_t t);
  void precharge(int fb, int64_t t);
  // RD or WR; returns the cycle its last data beat leaves (RD) or enters (WR) the device.
  int64_t column(bool write, int rank, int bg, int fb, int64_t t);
  void refresh(int rank, int64_t t);
  void claim_bus(int64_t t) { cmd_free_ = t + 1; }
  // Nothing issues before `t` (the channel sat idle until then).
  void idle_until(int64_t t) { cmd_free_ = std::max(cmd_free_, t); }

 private:
  struct Bank {
    int64_t act = 0, pre = 0, rd = 0, wr = 0;
  };
  struct Group {
    int64_t act = 0, rd = 0, wr = 0;
  };
  struct Rank {
    int64_t act = 0, rd = 0, wr = 0;
    std::array<int64_t, 4> faw{};  // last four activations (ring)
    int faw_head = 0;
    int64_t refresh_until = 0;
  };

  DramTiming t_;
  int bankgroups_, banks_per_rank_;
  std::vector<Bank> banks_;
  std::vector<Group> groups_;
  std::vector<Rank> ranks_;
  int64_t cmd_free_ = 0;   // command bus
  int64_t data_free_ = 0;  // data bus
  int last_rank_ = 0;
  int64_t rtw_ = 0;  // RD to WR turnaround on the same rank
};

}  // namespace tessel::memory
