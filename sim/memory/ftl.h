// Page-mapped flash translation layer with greedy garbage collection, and the flash
// array's timing resources (planes, channels). Plain C++: the Ssd module drives it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/core/config.h"
#include "sim/memory/timeline.h"

namespace tessel::memory {

struct SsdParams {
  uint64_t logical_bytes = 0;
  double overprovisioning = 0.07;  // physical = logical · (1 + op)
  int64_t channels = 8, dies_per_channel = 4, planes_per_die = 2;
  uint64_t page_bytes = 16384;
  int64_t pages_per_block = 256;
  uint64_t sector_bytes = 4096;  // mapping unit
  double read_us = 0, program_us = 0, erase_us = 0;
  double channel_mbps = 0;  // flash bus MB/s per channel
  double firmware_us = 0;   // controller/NVMe processing per command
  int64_t write_buffer_pages = 0;
  int64_t queue_depth = 0;     // commands the device holds (NVMe queue entries)
  int64_t gc_free_blocks = 2;  // per plane: below this, GC runs
  double prefill = 0;          // fraction of logical space written before the run
  double read_pj = 0, program_pj = 0, erase_pj = 0, transfer_pj_per_byte = 0;
};

SsdParams read_ssd_params(const Config& c);

class Ftl {
 public:
  explicit Ftl(const SsdParams& p);

  uint64_t sectors() const { return logical_sectors_; }
  // Writes `lsn` sequentially for the prefill, without timing.
  void prefill(double fraction);
  // Reads sector `lsn` whose command is ready at t (µs); returns when its data has crossed
  // the flash channel. Unwritten sectors cost nothing (they read as zeros).
  double read(uint64_t lsn, double t);
  // Buffers sector `lsn` at t; returns when the write buffer took it (the command's
  // completion): full pages are programmed in the background.
  double write(uint64_t lsn, double t);

  struct Stats {
    uint64_t page_reads = 0, page_programs = 0, erases = 0;
    uint64_t gc_runs = 0, gc_moved_sectors = 0, host_sectors_written = 0;
    uint64_t buffer_hits = 0;
    uint64_t transfer_bytes = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  static constexpr uint32_t kUnmapped = ~0u;
  int64_t plane_of_block(uint64_t block) const {
    return static_cast<int64_t>(block % static_cast<uint64_t>(planes_));
  }
  int64_t channel_of_plane(int64_t plane) const { return plane % p_.channels; }
  // Programs one page of sectors into `plane`; returns the time the program finishes.
  double program_page(int64_t plane, const std::vector<uint64_t>& lsns, double t, bool timed);
  uint64_t allocate_page(int64_t plane, double& t, bool timed);
  void collect(int64_t plane, double& t, bool timed);
  void invalidate(uint64_t lsn);

  SsdParams p_;
  int64_t planes_ = 0;
  uint64_t sectors_per_page_ = 0;
  uint64_t blocks_ = 0;  // block b sits in plane b % planes_
  uint64_t logical_sectors_ = 0;
  std::vector<uint32_t> l2p_;                       // lsn → physical sector (page · spp + slot)
  std::vector<uint32_t> p2l_;                       // physical sector → lsn
  std::vector<uint32_t> valid_;                     // per block
  std::vector<uint32_t> written_;                   // pages programmed per block
  std::vector<std::vector<uint64_t>> free_blocks_;  // per plane
  std::vector<int64_t> active_;                     // per plane: block being filled, -1 none
  std::vector<double> plane_free_;                  // µs; a plane runs its operations in order
  std::vector<Timeline> channels_;                  // µs; transfers fill the flash bus's gaps
  // Write buffer: sectors waiting for a full page, and completion times of pages in flight.
  std::vector<uint64_t> pending_;
  std::vector<uint32_t> buffered_;  // lsn → 1 while in pending_
  std::vector<double> slots_;       // ring: when each buffer page slot frees
  size_t slot_head_ = 0;
  int64_t next_plane_ = 0;
  Stats stats_;
};

}  // namespace tessel::memory
