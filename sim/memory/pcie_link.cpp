// PCIe link timing: line rate × encoding, TLP overhead per max-payload chunk, latency.
#include "sim/memory/pcie_link.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "sim/memory/memory_keys.h"

namespace tessel::memory {

using sc_core::sc_time;

double PcieParams::gt_per_s() const {
  // PCI-SIG base specifications: 2.5, 5, 8, 16, 32 GT/s for generations 1 to 5.
  static const double rate[] = {0, 2.5, 5, 8, 16, 32};
  return rate[gen];
}

double PcieParams::encoding() const {
  return gen <= 2 ? 8.0 / 10.0 : 128.0 / 130.0;
}

uint64_t PcieParams::wire_bytes(uint64_t payload) const {
  const uint64_t mps = static_cast<uint64_t>(max_payload_bytes);
  const uint64_t tlps = payload == 0 ? 1 : (payload + mps - 1) / mps;
  return payload + tlps * static_cast<uint64_t>(tlp_overhead_bytes);
}

PcieParams read_pcie_params(const Config& link) {
  const Keyed c(pcie_keys(), link);
  PcieParams p;
  p.gen = c.integer("gen");
  p.lanes = c.integer("lanes");
  if (p.lanes != 1 && p.lanes != 2 && p.lanes != 4 && p.lanes != 8 && p.lanes != 16)
    c.fail("lanes", "must be 1, 2, 4, 8 or 16");
  p.latency_ns = c.number("latency_ns");
  p.max_payload_bytes = c.integer("max_payload_bytes");
  p.tlp_overhead_bytes = c.integer("tlp_overhead_bytes");
  p.pj_per_bit = c.number("pj_per_bit");
  return p;
}

PcieLink::PcieLink(sc_core::sc_module_name name, const PcieParams& params)
    : sc_module(name), upstream("upstream"), downstream("downstream"), params_(params) {
  upstream.register_nb_transport_fw(this, &PcieLink::fw);
  upstream.register_b_transport(this, &PcieLink::b_transport);
  downstream.register_nb_transport_bw(this, &PcieLink::bw);
  ps_per_byte_ = 1000.0 / params_.raw_gbps();
}

double PcieLink::send(Timeline& dir, uint64_t wire, double t_ps) {
  dir.forget_before(sc_core::sc_time_stamp().to_seconds() * 1e12);
  const double length = static_cast<double>(wire) * ps_per_byte_;
  return dir.reserve(t_ps, length) + length;
}

tlm::tlm_sync_enum PcieLink::fw(tlm::tlm_generic_payload& p, tlm::tlm_phase& phase, sc_time& d) {
  if (phase == tlm::BEGIN_REQ) {
    const double now = sc_core::sc_time_stamp().to_seconds() * 1e12;
    // A write carries its data downstream; a read sends a header-only request TLP.
    const uint64_t wire = params_.wire_bytes(p.is_write() ? p.get_data_length() : 0);
    down_bytes_ += wire;
    const double end = send(down_, wire, now + d.to_seconds() * 1e12);
    d = sc_time(end - now + params_.latency_ns * 1000, sc_core::SC_PS);
  }
  return downstream->nb_transport_fw(p, phase, d);
}

tlm::tlm_sync_enum PcieLink::bw(tlm::tlm_generic_payload& p, tlm::tlm_phase& phase, sc_time& d) {
  if (phase == tlm::BEGIN_RESP) {
    const double now = sc_core::sc_time_stamp().to_seconds() * 1e12;
    // Read data returns in completion TLPs; a write's completion is header-only.
    const uint64_t wire = params_.wire_bytes(p.is_read() ? p.get_data_length() : 0);
    up_bytes_ += wire;
    payload_bytes_ += p.get_data_length();
    const double end = send(up_, wire, now + d.to_seconds() * 1e12);
    d = sc_time(end - now + params_.latency_ns * 1000, sc_core::SC_PS);
  }
  return upstream->nb_transport_bw(p, phase, d);
}

void PcieLink::b_transport(tlm::tlm_generic_payload& p, sc_time& d) {
  const double now = sc_core::sc_time_stamp().to_seconds() * 1e12;
  uint64_t wire = params_.wire_bytes(p.is_write() ? p.get_data_length() : 0);
  down_bytes_ += wire;
  double end = send(down_, wire, now + d.to_seconds() * 1e12);
  d = sc_time(end - now + params_.latency_ns * 1000, sc_core::SC_PS);
  downstream->b_transport(p, d);
  const double back = sc_core::sc_time_stamp().to_seconds() * 1e12 + d.to_seconds() * 1e12;
  wire = params_.wire_bytes(p.is_read() ? p.get_data_length() : 0);
  up_bytes_ += wire;
  payload_bytes_ += p.get_data_length();
  end = send(up_, wire, back);
  d = sc_time(end + params_.latency_ns * 1000 - sc_core::sc_time_stamp().to_seconds() * 1e12,
              sc_core::SC_PS);
}

void PcieLink::report(const std::string& name, Counters& counters,
                      std::map<std::string, double>& metrics) {
  // SerDes energy per byte on the wire (TLP overhead included), both directions.
  char source[160];
  std::snprintf(source, sizeof source, "PCIe SerDes per wire byte: 8 bits x %g pJ/bit%s",
                params_.pj_per_bit,
                params_.pj_per_bit > 0 ? "" : " (link file sets no pj_per_bit)");
  counters.define_action(name + "_serdes_byte", 8 * params_.pj_per_bit, source);
  counters.add(name + ".serdes", name + "_serdes_byte", down_bytes_ + up_bytes_);
  counters.stat(name + ".wire_bytes_down", down_bytes_);
  counters.stat(name + ".wire_bytes_up", up_bytes_);
  metrics[name + ".raw_gbps"] = params_.raw_gbps();
}

}  // namespace tessel::memory
