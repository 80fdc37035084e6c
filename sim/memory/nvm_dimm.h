// One Optane-like NVM DIMM behind its controller (XPController): the on-DIMM buffer, and
// one media scheduler that reads and writes 256 B lines in arrival order, so reads and
// writes interfere and writes (longer on the media) slow reads down. Plain C++; times in ns.
#pragma once

#include <cstdint>

#include "sim/memory/nvm_xpbuffer.h"

namespace tessel::memory {

struct NvmParams {
  int64_t dimms = 1;
  uint64_t interleave_bytes = 4096;
  uint64_t capacity_per_dimm = 0;
  uint64_t line_bytes = 256;
  double read_latency_ns = 0;            // media read of a line, idle, end to end
  double buffer_hit_latency_ns = 0;      // line already in the on-DIMM buffer
  int64_t buffer_lines = 0;              // on-DIMM buffer (reads and write combining), lines
  double write_latency_ns = 0;           // store to persistence (WPQ entry), idle
  int64_t wpq_entries = 0;               // 64 B entries of the iMC's WPQ per DIMM
  double channel_gbps = 0;               // memory channel, GB/s (one 64 B transfer per entry)
  double read_gbps = 0, write_gbps = 0;  // media throughput per DIMM (line / busy time)
  double read_pj_per_bit = 0, write_pj_per_bit = 0;
};

class NvmDimm {
 public:
  struct Stats {
    uint64_t media_read_lines = 0, media_write_lines = 0, rmw = 0, buffer_hits = 0;
  };

  NvmDimm(const NvmParams& p, uint64_t seed);

  // Reads the 64 B pieces `pieces` (bit mask) of `line` for a request arriving at `t`;
  // returns when the data is on its way back.
  double read(uint64_t line, uint64_t pieces, double t);
  // A 64 B store to piece `piece` of `line` reaches the DIMM at `t`; returns when the DIMM
  // has taken it (its WPQ entry is free again): at once when it combines into a buffered
  // line, but only once the media starts the write-back it causes (a completed line, or a
  // dirty line evicted to make room), so writers cannot outrun the media.
  double write(uint64_t line, unsigned piece, double t);
  // Writes every dirty buffered line back (end of a run: the energy of this run's writes).
  void flush();
  const Stats& stats() const { return stats_; }

 private:
  // Schedules the write-back of `l`'s dirty pieces; returns when the media starts writing.
  double write_back(const NvmXpBuffer::Line& l, double t);
  // Buffers `line`, writing back the line it displaces; `room` gets when its slot is free.
  NvmXpBuffer::Line& insert(uint64_t line, double t, double& room);

  NvmParams p_;
  NvmXpBuffer buffer_;
  double media_free_ = 0;  // the media scheduler: busy until then
  double read_ns_, write_ns_;
  uint64_t full_;  // mask of a whole line's pieces
  Stats stats_;
};

}  // namespace tessel::memory
