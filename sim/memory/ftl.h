// Flash translation layer: address mapping (sector- or page-level), the DRAM write buffer,
// superblocks striped over every die, and greedy garbage collection of superblocks. Plain
// C++: the Ssd module drives it; the timing of flash operations lives in FlashArray.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/core/config.h"
#include "sim/memory/flash_array.h"

namespace tessel::memory {

struct SsdParams {
  uint64_t logical_bytes = 0;
  double overprovisioning = 0.07;  // physical = logical · (1 + op)
  int64_t channels = 8, dies_per_channel = 4, planes_per_die = 2;
  uint64_t page_bytes = 16384;
  int64_t pages_per_block = 256;
  uint64_t sector_bytes = 4096;  // host sector: the smallest transfer (an ECC codeword)
  bool page_mapping = false;     // mapping unit: a flash page (true) or a sector (false)
  bool multi_plane = true;       // multi-plane reads, programs and erases
  double read_us = 0, program_us = 0, erase_us = 0;
  double channel_mbps = 0;  // flash bus MB/s per channel
  double firmware_us = 0;   // controller/NVMe processing per command
  // Host side of a command: driver submission (doorbell, command fetch) before the device
  // sees it, and completion handling after the device posts it (polling or interrupt).
  double host_submit_us = 0, host_poll_us = 0, host_interrupt_us = 0;
  bool polling = false;
  int64_t write_buffer_pages = 0;
  int64_t queue_depth = 0;  // commands the device holds (NVMe queue entries)
  int64_t gc_reserve = 0;   // free superblocks GC keeps beyond the one being filled
  double prefill = 0;       // fraction of logical space written before the run
  double read_pj = 0, program_pj = 0, erase_pj = 0, transfer_pj_per_byte = 0;

  uint64_t unit_bytes() const { return page_mapping ? page_bytes : sector_bytes; }
  double host_complete_us() const { return polling ? host_poll_us : host_interrupt_us; }
  FlashGeometry geometry() const;
};

SsdParams read_ssd_params(const Config& c);

class Ftl {
 public:
  explicit Ftl(const SsdParams& p);

  uint64_t units() const { return logical_units_; }  // mapping units of the logical space
  uint64_t unit_bytes() const { return unit_bytes_; }
  // Writes the first `fraction` of the logical space in order, without timing.
  void prefill(double fraction);
  // Reads `bytes` (≤ one unit) of unit `u` for a command ready at t (µs); returns when the
  // data has crossed the flash channel. Unwritten units cost nothing (they read as zeros).
  double read(uint64_t u, uint64_t bytes, double t);
  // Writes `bytes` (≤ one unit) of unit `u` at t; returns when the write buffer took it
  // (the command's completion). Full pages are programmed in the background; a write of
  // part of a unit that is on flash reads the unit first (read-modify-write).
  double write(uint64_t u, uint64_t bytes, double t);
  // Simulated time has reached `now` (µs): no flash operation will be placed before it.
  void advance(double now) { flash_.forget_before(now); }

  FlashArray& flash() { return flash_; }
  const FlashArray& flash() const { return flash_; }

  struct Stats {
    uint64_t gc_runs = 0, gc_moved_units = 0;
    uint64_t host_bytes_written = 0;
    uint64_t buffer_hits = 0, rmw_reads = 0;
  };
  const Stats& stats() const { return stats_; }
  // Physical bytes programmed per byte the host wrote (0 before any write).
  double write_amplification() const;
  uint64_t superblocks() const { return superblocks_; }
  // Units moved by GC that wait in the controller for their rewrite.
  uint64_t gc_backlog() const { return gc_.size(); }
  uint64_t units_per_superblock() const {
    return units_per_block_ * static_cast<uint64_t>(groups_);
  }

 private:
  static constexpr uint32_t kUnmapped = ~0u;
  static constexpr uint32_t kBuffered = ~0u - 1;  // l2p: the unit is in the controller's DRAM
  static constexpr uint32_t kNone = ~0u;
  // A write stream: units waiting for a full group page with the time each one's data is
  // in the controller. Host writes and GC moves are separate streams (GC data does not
  // take the host's write-buffer slots) written into the same open superblock.
  struct Stream {
    std::vector<uint32_t> units;
    std::vector<double> ready;
    size_t head = 0;
    uint64_t size() const { return units.size() - head; }
  };
  // Geometry of the mapping. A block group is one block on each of `group_planes_` planes
  // of a die (all of a die's planes with multi-plane operations, else one), programmed and
  // erased together; a group page holds units_per_group_page_ units. Block b is block
  // b / groups_ of group b % groups_; superblock k is block k of every group (the last may
  // miss some groups when the block count is not a multiple of the group count).
  int64_t first_plane(int64_t g) const { return g * group_planes_; }
  bool has_block(int64_t g, uint64_t k) const {
    return static_cast<uint64_t>(g) + static_cast<uint64_t>(groups_) * k < blocks_;
  }
  uint32_t missing(uint64_t k) const {
    uint64_t n = 0;
    for (int64_t g = 0; g < groups_; ++g) n += has_block(g, k) ? 0 : units_per_block_;
    return static_cast<uint32_t>(n);
  }
  int64_t choose_group(bool timed);
  void open_superblock(bool timed, double t);
  double program_page(Stream& s, bool timed, double t);
  void drain(bool timed, double t);
  bool start_gc(double t);
  void gc_step(bool timed, double t);
  void invalidate(uint64_t u);
  // Greedy victim selection: closed superblocks in buckets by valid count.
  void bucket_insert(uint32_t k);
  void bucket_remove(uint32_t k);

  SsdParams p_;
  FlashArray flash_;
  uint64_t unit_bytes_ = 0, logical_units_ = 0;
  int64_t group_planes_ = 1, groups_ = 0;
  uint64_t units_per_page_ = 0, units_per_group_page_ = 0, units_per_block_ = 0;
  uint64_t blocks_ = 0, superblocks_ = 0;
  // unit → physical unit ((block · ppb + page) · upgp + slot), kUnmapped or kBuffered
  std::vector<uint32_t> l2p_;
  std::vector<uint32_t> p2l_;      // physical unit → unit, kUnmapped when not valid
  std::vector<uint32_t> written_;  // group pages programmed per block
  std::vector<double> erased_at_;  // µs; when each block's last erase ends
  // Per superblock: valid units, plus the units of the groups a short last superblock
  // lacks, so that greedy compares what each would free.
  std::vector<uint32_t> valid_;
  std::vector<uint8_t> closed_;  // per superblock
  std::vector<uint32_t> free_;   // free superblocks
  int64_t open_ = -1;            // superblock being filled
  uint64_t open_pages_ = 0, open_pages_left_ = 0;
  int64_t victim_ = -1;       // superblock being collected
  uint64_t victim_page_ = 0;  // its next page to move
  // Buckets: head per valid >> shift, doubly linked through next_/prev_.
  int bucket_shift_ = 0;
  std::vector<uint32_t> head_, next_, prev_;
  uint32_t min_bucket_ = 0;  // no closed superblock below this bucket
  Stream host_, gc_;
  // The victim's read cursors per group and bus, and when each group's data is out.
  std::vector<double> die_cursor_, bus_cursor_, out_;
  uint64_t gc_limit_ = 0;  // GC units the controller holds before the host waits
  // Host write buffer: when each slot (a group page) frees, i.e. its program ends.
  std::vector<double> slots_;
  size_t slot_head_ = 0;
  uint64_t round_robin_ = 0;  // stripe position
  Stats stats_;
};

}  // namespace tessel::memory
