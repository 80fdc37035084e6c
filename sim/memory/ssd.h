// NVMe SSD: a bounded command queue in front of the FTL and flash array (Ftl), with
// per-command firmware latency and the host's submission and completion (interrupt or
// polling) costs. Completion times are computed when a command arrives.
#pragma once

#include <systemc>

#include <functional>
#include <queue>
#include <vector>

#include "sim/memory/ftl.h"
#include "sim/memory/memory_device.h"

namespace tessel::memory {

class Ssd : public MemoryDevice {
 public:
  SC_HAS_PROCESS(Ssd);
  Ssd(sc_core::sc_module_name name, const SsdParams& params);
  uint64_t capacity() const override { return params_.logical_bytes; }
  void report(const std::string& tier, const sc_core::sc_time& end, Counters& counters,
              std::map<std::string, double>& metrics) override;
  const Ftl& ftl() const { return ftl_; }
  Ftl& ftl() { return ftl_; }

 protected:
  bool try_accept(tlm::tlm_generic_payload& p, const sc_core::sc_time& arrival) override;

 private:
  // Frees NVMe queue entries of completed commands and admits a waiting one.
  void complete();

  SsdParams params_;
  Ftl ftl_;
  uint64_t commands_ = 0;
  // Device-side completion times (ps) of the commands the device holds.
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<uint64_t>> inflight_;
  sc_core::sc_event completion_;
  bool full_ = false;
};

}  // namespace tessel::memory
