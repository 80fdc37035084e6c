// Optane-DC-PMM-like non-volatile memory: 256 B internal lines, on-DIMM read buffer and
// write combining (read-modify-write for partial lines), per-DIMM media bandwidth caps and
// an ADR write-pending queue. Service times are computed when a request arrives.
#pragma once

#include <systemc>

#include <list>
#include <unordered_map>
#include <vector>

#include "runtime/core/config.h"
#include "sim/memory/memory_device.h"

namespace tessel::memory {

struct NvmParams {
  int64_t dimms = 1;
  uint64_t interleave_bytes = 4096;
  uint64_t capacity_per_dimm = 0;
  uint64_t line_bytes = 256;
  double read_latency_ns = 0;            // media read of a line, idle
  double buffer_hit_latency_ns = 0;      // line already in the on-DIMM buffer
  int64_t buffer_lines = 0;              // read buffer and write-combining lines per DIMM
  double write_latency_ns = 0;           // write accepted into the WPQ (persistence domain)
  int64_t wpq_entries = 0;               // write requests the WPQ holds per DIMM
  double read_gbps = 0, write_gbps = 0;  // media bandwidth per DIMM
  double read_pj_per_bit = 0, write_pj_per_bit = 0;
};

NvmParams read_nvm_params(const Config& c);

class Nvm : public MemoryDevice {
 public:
  Nvm(sc_core::sc_module_name name, const NvmParams& params);
  uint64_t capacity() const override {
    return params_.capacity_per_dimm * static_cast<uint64_t>(params_.dimms);
  }
  void report(const std::string& tier, const sc_core::sc_time& end, Counters& counters,
              std::map<std::string, double>& metrics) override;

  struct Stats {
    uint64_t media_read_lines = 0, media_write_lines = 0, rmw = 0;
    uint64_t buffer_hits = 0, read_bytes = 0, write_bytes = 0;
  };
  const Stats& stats() const { return stats_; }

 protected:
  bool try_accept(tlm::tlm_generic_payload& p, const sc_core::sc_time& arrival) override;

 private:
  struct Dimm {
    double read_free = 0, write_free = 0;  // media servers, ns
    std::vector<double> wpq;               // completion times, ring
    size_t wpq_head = 0;
    // On-DIMM buffer: line → bytes written but not yet on media (0 for clean read lines).
    std::list<uint64_t> lru;
    std::unordered_map<uint64_t, std::pair<std::list<uint64_t>::iterator, uint64_t>> lines;
  };
  double read_line(Dimm& d, uint64_t line, double t);
  // Writes `bytes` of `line`; returns when the DIMM has taken the data off the WPQ.
  double write_line(Dimm& d, uint64_t line, uint64_t bytes, double t);
  double flush(Dimm& d, uint64_t dirty_bytes, double t);
  void touch(Dimm& d, uint64_t line, uint64_t dirty_add, double t, double& done);

  NvmParams params_;
  std::vector<Dimm> dimms_;
  Stats stats_;
};

}  // namespace tessel::memory
