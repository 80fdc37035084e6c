// Reading a DRAM device file into the twin's bandwidth and latency terms.
#include "sim/lstm_sharp/memory_term.h"

#include <algorithm>

#include "sim/core/offchip_params.h"
#include "sim/memory/dram_params.h"
#include "sim/memory/memory_keys.h"

namespace tessel::lstm_sharp {

MemoryTerm read_memory_term(const Config& hw) {
  MemoryTerm m;
  // The port's keys as sim/system/offchip.cpp's read_offchip reads them (declared once in
  // sim::offchip_keys(); the runner has checked their ranges).
  const sim::MemoryPortParams port = sim::read_port_params(hw.child("offchip"));
  const double request_bytes = static_cast<double>(port.request_bytes);
  const double outstanding = static_cast<double>(port.max_outstanding);
  const Config mem = Config::load(hw.get_path("memory"),
                                  hw.key_path().empty() ? "memory" : hw.key_path() + ".memory");
  memory::memory_file_keys().check(mem);
  m.kind = mem.get<std::string>("kind", "");
  if (m.kind != "dram" || !mem.has("dram")) return m;
  const memory::DramParams p = memory::read_dram_params(mem.child("dram"), mem.child("controller"));
  m.dram = true;
  m.peak_gbps = p.peak_gbps();
  m.latency_ns = static_cast<double>(p.t.rcd + p.t.cl + p.t.burst) * p.tck_ns;
  // Refresh: all banks are closed for tRFC every tREFI (JESD79-4 4.26; JESD235C).
  const double refresh = 1.0 - static_cast<double>(p.t.rfc) / static_cast<double>(p.t.refi);
  // Row switches: a sequential stream fills a bank's open row across the bank groups
  // (bursts_per_row x bankgroups bursts, the presets' mappings put the bank groups and
  // channels below the columns), then precharges and activates the next: tRP + tRCD of
  // bus time per row if nothing else hides it.
  const double stripe = static_cast<double>(p.bursts_per_row() * p.bankgroups * p.t.burst);
  m.row_switch_fraction = static_cast<double>(p.t.rp + p.t.rcd) / stripe;
  const double row = 1.0 / (1.0 + m.row_switch_fraction);
  m.efficiency = refresh * row;
  // Little's law: the port keeps at most `outstanding` requests in flight.
  const double little_gbps = outstanding * request_bytes / m.latency_ns;
  m.sustained_gbps = std::min(m.peak_gbps * m.efficiency, little_gbps);
  return m;
}

}  // namespace tessel::lstm_sharp
