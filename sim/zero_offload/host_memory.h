// Host DRAM as the GPU's DMA sees it: a bandwidth server at the sustained bandwidth of all
// channels of all sockets (from the DRAM preset), behind the PCIe link.
//
// Why not the command-level DramController: one step moves 4 bytes per parameter over PCIe
// (52 GB for a 13B model), 0.8 G bursts of 64 B; at the controller's ~2 M bursts per host
// second that is minutes per step. The link is the bottleneck by an order of magnitude
// (a DGX-2 host has 12 DDR4-2666 channels, 244 GB/s refresh-bound, against 15.75 GB/s
// of PCIe 3.0 x16 each way), so a bandwidth server shows the same step time.
#pragma once

#include <systemc>

#include <cstdint>
#include <map>
#include <string>

#include "sim/memory/memory_device.h"
#include "sim/memory/timeline.h"

namespace tessel::zero_offload {

class HostMemory : public memory::MemoryDevice {
 public:
  HostMemory(sc_core::sc_module_name name, uint64_t capacity_bytes, double gbps);
  uint64_t capacity() const override { return capacity_; }
  void report(const std::string& tier, const sc_core::sc_time& end, Counters& counters,
              std::map<std::string, double>& metrics) override;
  uint64_t bytes_read() const { return read_bytes_; }
  uint64_t bytes_written() const { return write_bytes_; }

 protected:
  bool try_accept(tlm::tlm_generic_payload& p, const sc_core::sc_time& arrival) override;

 private:
  uint64_t capacity_;
  double ps_per_byte_;
  memory::Timeline busy_;  // ps
  double busy_ps_ = 0;
  uint64_t read_bytes_ = 0, write_bytes_ = 0;
};

}  // namespace tessel::zero_offload
