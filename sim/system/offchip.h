// An accelerator's off-chip side, read from its hardware file: the analytical link of
// `offchip:` (bandwidth and latency), or, when `memory:` names a memory model's hardware
// file (any preset of configs/hw/memory: DDR4, DDR5, HBM2e, HBM3, tiers), that memory
// reached through a TLM-2.0 port whose requests `offchip:` shapes:
//
//   offchip: {read_gbps: 410, write_gbps: 410, latency_ns: 100,   # the link
//             request_bytes: 64, max_outstanding: 256}            # the port, with a memory
//   memory: ../memory/hbm2e.yaml    # or `link` (the default): a sweep axis can be either
//
// Hardware files compose by `base:`: an accelerator file plus one line naming the memory.
// With a memory the link figures are not used (the label `offchip` says which ran).
#pragma once

#include <systemc>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "runtime/core/config.h"
#include "runtime/core/counters.h"
#include "sim/core/offchip_port.h"
#include "sim/memory/memory_system.h"

namespace tessel::sim {

struct OffchipSpec {
  bool memory = false;
  // Link.
  double read_bytes_per_cycle = 0, write_bytes_per_cycle = 0;
  uint64_t latency_cycles = 0;
  // Memory.
  std::string memory_file;  // as resolved, for labels
  memory::HierarchySpec hierarchy;
  MemoryPortParams port;
  uint64_t capacity() const;  // bytes addressable through the port
  std::string label() const { return memory ? memory_file : "link"; }
};

// Reads `hw.offchip` and `hw.memory` for an accelerator clocked at `clock_ghz`. A memory
// file must be a memory model's hardware file (`model: memory`); its `energy:` table is not
// used (the memory prices its own actions from its cited parameters).
OffchipSpec read_offchip(const Config& hw, double clock_ghz);

// Fails at `hw.memory` when an address layout of `bytes` does not fit the memory.
void check_fits(const OffchipSpec& spec, const Config& hw, uint64_t bytes, const std::string& what);

// The ports of one run. With a link: a read and a write link of their own (as the
// analytical models had them). With a memory: one TLM port, shared by reads and writes,
// bound to the hierarchy, which this object owns.
// Which resource bounds a run, for reports: when the compute array was busy at least 90% of
// the time, "onchip_bandwidth" if its on-chip buffers fed it below 90% of the operands its
// lanes take while busy (`onchip_feed`: LSTM-Sharp's weight SRAM banks; 1 for a model whose
// buffers always keep up), else "compute"; otherwise "offchip_bandwidth" when the off-chip
// data path was busy at least 70% (a memory's data bus rarely exceeds ~80-90% under mixed
// traffic: turnarounds, refresh), else "latency" (the buffers did not cover the memory's
// latency, or the dataflow's dependences idled both). The thresholds are judgement, stated
// here.
std::string bound_by(double compute_busy, double offchip_busy, double onchip_feed = 1.0);

class OffchipSystem {
 public:
  OffchipSystem(const OffchipSpec& spec, const Clock& clock, bool pipelined_link);
  OffchipPort& read_port() {
    return spec_.memory ? static_cast<OffchipPort&>(*port_) : *read_link_;
  }
  OffchipPort& write_port() {
    return spec_.memory ? static_cast<OffchipPort&>(*port_) : *write_link_;
  }
  bool is_memory() const { return spec_.memory; }
  // Memory energy (priced by the devices, components "<tier>.<part>") and statistics,
  // for a run that ended at `end`; the port's own statistics as "offchip_port.*".
  void report(const sc_core::sc_time& end, Counters& counters,
              std::map<std::string, double>& metrics);
  // Fraction of a run of `cycles` the off-chip data path was busy: the busier link's bytes
  // over its bandwidth × time; with a memory, the larger of the busiest tier's data-bus
  // utilization (from the metrics report() wrote) and the fraction of the run the memory
  // refused new requests (queues full: saturated at its effective bandwidth).
  double busy_fraction(uint64_t cycles, const std::map<std::string, double>& metrics) const;

 private:
  OffchipSpec spec_;
  std::unique_ptr<LinkPort> read_link_, write_link_;
  std::unique_ptr<memory::MemorySystem> memory_;
  std::unique_ptr<MemoryPort> port_;
};

}  // namespace tessel::sim
