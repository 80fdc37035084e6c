// NAND flash array timing: channels (shared buses), dies (one array operation at a time)
// and planes (page registers), with ONFI-style multi-plane operations. Plain C++: the FTL
// reserves operations on it when a command arrives.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessel::memory {

struct FlashGeometry {
  int64_t channels = 8, dies_per_channel = 4, planes_per_die = 2;
  int64_t pages_per_block = 256;
  uint64_t page_bytes = 16384;
  double read_us = 0, program_us = 0, erase_us = 0;
  double channel_mbps = 0;  // bytes per µs
  // Multi-plane operations: a read joins a not-yet-started read of another plane of its die
  // when both address the same page offset; programs and erases span a die's planes.
  bool multi_plane = true;
  int64_t dies() const { return channels * dies_per_channel; }
  int64_t planes() const { return dies() * planes_per_die; }
};

// One plane's part of an array operation, as logged for the checker. Planes of one
// multi-plane operation share `op`, `start` and `end`.
struct FlashOp {
  enum Kind : uint8_t { kRead, kProgram, kErase };
  uint64_t op = 0;  // operation number
  Kind kind = kRead;
  int32_t die = 0;            // 0 .. dies-1 (die d sits on channel d % channels)
  int32_t plane = 0;          // plane within the die
  uint32_t block = 0;         // block address within the die: its low bits select the plane
  uint32_t page = 0;          // page offset within the block
  double start = 0, end = 0;  // µs: the array busy interval
};

// Checks a log against the die rules: operations of a die never overlap; a multi-plane
// operation addresses distinct planes, the same page offset on each, and blocks whose
// plane-select bits (block % planes_per_die) match their plane. Returns the number of
// violations and describes the first in `first`.
uint64_t check_flash_ops(const FlashGeometry& g, std::vector<FlashOp> log, std::string* first);

// Busy intervals of one die or bus in µs, as a sorted vector (cheaper than the map of
// Timeline for the mostly-appending, short calendars here): a reservation takes the
// earliest gap at or after its time that fits.
class Calendar {
 public:
  double reserve(double t, double length);  // returns the start
  void forget_before(double t);             // nothing will be reserved before t
 private:
  struct Busy {
    double start, end;
  };
  std::vector<Busy> busy_;  // disjoint, by start; entries before head_ are forgotten
  size_t head_ = 0;
};

class FlashArray {
 public:
  explicit FlashArray(const FlashGeometry& g);

  const FlashGeometry& geometry() const { return g_; }
  int64_t channel_of_die(int64_t die) const { return die % g_.channels; }

  // Blocks are named by their index among their plane's blocks; the die-local address
  // is index · planes_per_die + plane within the die (planes select by the low bits).
  //
  // Reads `bytes` of page `page` (offset in its block) of block `block` on `plane` (global
  // plane index) for a command ready at t; returns when the data has crossed the channel.
  // `page_key` identifies the page across the device: a read of the page the plane's register
  // already holds skips the array read.
  double read(int64_t plane, uint32_t block, uint32_t page, uint64_t page_key, uint64_t bytes,
              double t);
  // Programs page `page` of `planes` consecutive planes from `first_plane` (one multi-plane
  // operation when planes > 1) whose data is ready at t; returns when the program ends.
  double program(int64_t first_plane, int64_t planes, uint32_t block, uint32_t page, double t);
  // Garbage collection: reads page `page` of block `block` on `planes` planes from
  // `first_plane` (one multi-plane read) at or after `die_cursor` and moves `bytes` of it
  // to the controller over the channel at or after `bus_cursor`; returns when they are
  // there. The cursors advance past the read and the transfer: a collection reads each
  // block's pages in order and moves them over each bus in order. Moved data passes
  // through the controller (ECC) rather than copyback.
  double read_out(int64_t first_plane, int64_t planes, uint32_t block, uint32_t page,
                  uint64_t bytes, double& die_cursor, double& bus_cursor);
  // Erases block `block` on `planes` planes from `first_plane` at or after t; returns when
  // the erase ends.
  double erase(int64_t first_plane, int64_t planes, uint32_t block, double t);
  // When `die` has no more reserved work: the FTL sends the next page to the die that is
  // free first.
  double free_at(int64_t die) const;
  int64_t die_of_plane(int64_t plane) const { return plane / g_.planes_per_die; }
  // Nothing can be reserved before `now` any more: drops calendar entries that ended.
  void forget_before(double now);

  // Logs every array operation into `log` (null: off) for check_flash_ops.
  void set_log(std::vector<FlashOp>* log) { log_ = log; }

  struct Stats {
    uint64_t page_reads = 0, page_programs = 0, block_erases = 0;  // per plane
    uint64_t multi_plane_reads = 0;  // reads that joined another plane's read
    uint64_t register_hits = 0;      // reads served from a page register
    uint64_t transfer_bytes = 0;     // over the channels
  };
  const Stats& stats() const { return stats_; }

 private:
  struct PendingRead {  // the die's latest array read, joinable until it starts
    uint64_t op = 0;
    double start = -1;
    uint32_t page = 0;
    uint32_t planes = 0;  // bit mask of planes within the die
  };
  void log(FlashOp::Kind k, uint64_t op, int64_t plane, uint32_t block, uint32_t page, double s,
           double e);

  FlashGeometry g_;
  std::vector<Calendar> dies_;      // array operations fill gaps in each die's calendar
  std::vector<Calendar> channels_;  // transfers fill gaps in each bus's calendar
  std::vector<double> die_end_;     // µs; end of each die's last reserved operation
  // µs; a plane's register holds read data until it has crossed the channel, and the
  // plane's next read waits for that. Programs and erases are ordered by the die calendar
  // alone (their register use is not tracked against reads placed around them).
  std::vector<double> reg_busy_;
  std::vector<uint64_t> reg_page_;      // page key each plane's register holds (~0: none)
  std::vector<double> reg_ready_;       // when that data is in the register
  std::vector<PendingRead> last_read_;  // per die
  uint64_t next_op_ = 0;
  std::vector<FlashOp>* log_ = nullptr;
  Stats stats_;
};

}  // namespace tessel::memory
