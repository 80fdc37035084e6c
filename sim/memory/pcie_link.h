// PCIe link between a requester and a device: per-direction serialisation with line
// encoding and TLP overhead, plus a fixed one-way latency. Pass-through for the protocol
// phases; only the timing annotations change.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <systemc>
#include <tlm>

#include <map>
#include <string>

#include "runtime/core/config.h"
#include "runtime/core/counters.h"
#include "sim/memory/timeline.h"

namespace tessel::memory {

struct PcieParams {
  int64_t gen = 4;
  int64_t lanes = 4;
  double latency_ns = 0;  // one way, including the root complex / switch
  int64_t max_payload_bytes = 256;
  int64_t tlp_overhead_bytes = 24;  // framing + sequence + header + LCRC per TLP
  double pj_per_bit = 0;

  double gt_per_s() const;  // per lane
  double encoding() const;  // payload bits per line bit
  // Raw data bandwidth of one direction, GB/s (10^9 B/s), before TLP overhead.
  double raw_gbps() const { return gt_per_s() * encoding() * static_cast<double>(lanes) / 8; }
  // Wire bytes that carry `payload` bytes (TLPs of at most max_payload_bytes).
  uint64_t wire_bytes(uint64_t payload) const;
  // Effective payload bandwidth for large transfers.
  double effective_gbps() const {
    return raw_gbps() * static_cast<double>(max_payload_bytes) /
           static_cast<double>(max_payload_bytes + tlp_overhead_bytes);
  }
};

PcieParams read_pcie_params(const Config& c);

class PcieLink : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<PcieLink> upstream;
  tlm_utils::simple_initiator_socket<PcieLink> downstream;

  PcieLink(sc_core::sc_module_name name, const PcieParams& params);
  void report(const std::string& name, Counters& counters, std::map<std::string, double>& metrics);
  const PcieParams& params() const { return params_; }

 private:
  tlm::tlm_sync_enum fw(tlm::tlm_generic_payload& p, tlm::tlm_phase& phase, sc_core::sc_time& d);
  tlm::tlm_sync_enum bw(tlm::tlm_generic_payload& p, tlm::tlm_phase& phase, sc_core::sc_time& d);
  void b_transport(tlm::tlm_generic_payload& p, sc_core::sc_time& d);
  // Occupies one direction for `wire` bytes from time t (ps) or the first gap after it;
  // returns the end.
  double send(Timeline& dir, uint64_t wire, double t_ps);

  PcieParams params_;
  Timeline down_, up_;  // ps
  double ps_per_byte_ = 0;
  uint64_t down_bytes_ = 0, up_bytes_ = 0, payload_bytes_ = 0;
};

}  // namespace tessel::memory
