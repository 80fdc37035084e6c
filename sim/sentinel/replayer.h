// SC module: replays a placement plan through a DRAM + NVM hierarchy: interval by interval
// the training accesses (several streams), the migrations on a bandwidth-limited DMA
// engine, and each interval's compute time (roofline), recording the timeline.
#pragma once

#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <tlm_utils/simple_initiator_socket.h>
#include <systemc>
#include <tlm>

#include <cstdint>
#include <deque>
#include <vector>

#include "sim/sentinel/capacity_check.h"
#include "sim/sentinel/plan.h"

namespace tessel::sentinel {

struct ReplayOptions {
  uint64_t fast_base = 0, fast_size = 0;  // flat address range used in the fast tier
  uint64_t slow_base = 0, slow_size = 0;
  int streams = 4;              // concurrent access streams (cores issuing loads/stores)
  int64_t chunk_bytes = 65536;  // largest request a stream issues
  int64_t dma_chunk_bytes = 65536;
  double dma_gbps = 10;       // DMA engine bandwidth cap
  double flops_per_s = 1e12;  // roofline compute rate (peak x efficiency)
  double scale = 1;           // bytes and compute multiplied by this (times divided back)
};

class StepReplayer : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(StepReplayer);
  tlm_utils::simple_initiator_socket<StepReplayer> socket;

  StepReplayer(sc_core::sc_module_name name, const Plan& plan, const ReplayOptions& o);

  // Per interval: start (after waiting for its migrations) and end, in ps of scaled time.
  const std::vector<int64_t>& start_ps() const { return start_; }
  const std::vector<int64_t>& end_ps() const { return end_; }
  // Holds on the simulated timeline (for check_capacity), unscaled bytes.
  std::vector<TimedHold> timed_holds() const;
  bool finished() const { return finished_; }
  uint64_t errors() const { return errors_; }
  // Bytes (unscaled) served by each tier in the measured step, and migrated in it.
  double fast_bytes = 0, slow_bytes = 0, migrated_bytes = 0;
  double stall_ps = 0;  // measured step: time intervals waited for migrations

 private:
  struct Chunk {
    uint64_t address;
    uint32_t bytes;
    bool write;
  };
  void control();
  void worker();
  void dma_reader();
  void dma_writer();
  uint64_t address(int64_t offset, bool fast) const;
  void transport(tlm::tlm_generic_payload& p, const Chunk& c);
  int64_t now_ps() const;

  const Plan& plan_;
  ReplayOptions o_;
  std::vector<int64_t> start_, end_;
  // Fast-tier frame taken (promotion: first write into DRAM) and given back (demotion:
  // last read out of DRAM).
  std::vector<int64_t> mig_start_, mig_end_;
  std::vector<int> pending_;  // per deadline interval: migrations not yet completed
  std::vector<Chunk> work_;
  size_t next_ = 0;
  int active_ = 0;
  sc_core::sc_event work_ev_, done_ev_, dma_ev_, mig_done_ev_;
  std::deque<int> dma_queue_;
  struct DmaPiece {
    int migration;
    Chunk write;
    bool last;
  };
  std::deque<DmaPiece> pipe_;  // read chunks waiting for their write (at most 2)
  sc_core::sc_event pipe_put_, pipe_got_;
  bool finished_ = false;
  uint64_t errors_ = 0;
};

}  // namespace tessel::sentinel
