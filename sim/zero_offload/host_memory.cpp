// Host DRAM bandwidth server behind the PCIe link.
#include "sim/zero_offload/host_memory.h"

namespace tessel::zero_offload {

HostMemory::HostMemory(sc_core::sc_module_name name, uint64_t capacity_bytes, double gbps)
    : MemoryDevice(name), capacity_(capacity_bytes), ps_per_byte_(1000.0 / gbps) {}

bool HostMemory::try_accept(tlm::tlm_generic_payload& p, const sc_core::sc_time& arrival) {
  const double t = arrival.to_seconds() * 1e12;
  busy_.forget_before(sc_core::sc_time_stamp().to_seconds() * 1e12);
  const double length = static_cast<double>(p.get_data_length()) * ps_per_byte_;
  const double end = busy_.reserve(t, length) + length;
  busy_ps_ += length;
  (p.is_write() ? write_bytes_ : read_bytes_) += p.get_data_length();
  respond(p, sc_core::sc_time(end, sc_core::SC_PS));
  return true;  // responses are computed ahead, so nothing ever queues here
}

void HostMemory::report(const std::string& tier, const sc_core::sc_time& end, Counters& counters,
                        std::map<std::string, double>& metrics) {
  counters.stat(tier + ".read_bytes", read_bytes_);
  counters.stat(tier + ".write_bytes", write_bytes_);
  const double span = end.to_seconds() * 1e12;
  metrics[tier + ".dma_utilisation"] = span > 0 ? busy_ps_ / span : 0;
}

}  // namespace tessel::zero_offload
