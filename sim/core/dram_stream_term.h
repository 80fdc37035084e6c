// What an analytical twin needs of the memory `hw.memory` names when the accelerator streams
// from it: a DRAM device's sustained bandwidth and its unloaded read latency (plain C++, no
// SystemC; the twins of sim/lstm_sharp and sim/nm_unit share it).
#pragma once

#include <algorithm>
#include <string>

#include "runtime/core/config.h"
#include "sim/core/offchip_params.h"
#include "sim/memory/dram_params.h"
#include "sim/memory/memory_keys.h"

namespace tessel::sim {

struct DramStreamTerm {
  bool dram = false;          // false: not a single DRAM device (tiers, NVM, SSD)
  std::string kind;           // the device file's `kind`, for messages
  double peak_gbps = 0;       // data-bus peak of all channels
  double efficiency = 0;      // refresh × row-switch efficiency (docs/lstm_sharp_memory.md)
  double sustained_gbps = 0;  // min(peak × efficiency, Little's law bound of the port)
  double latency_ns = 0;      // ACT + RD + burst: a row miss on an idle bank
  // (tRP + tRCD) / the bus time of one open row across the bank groups: how much a row
  // switch costs a stream. The twins are held to the cycle models only where it is small.
  double row_switch_fraction = 0;
};

// Above this the time of row switches and of bank conflicts between streams is a large part
// of the memory's time and the twins' term misses it (HBM2e: 0.17, HBM3: 0.16); DDR4-3200 (0.021)
// and DDR5-4800 (0.019) are held within 5% (tests/sim/lstm_sharp/lstm_sharp_memory_test.cpp,
// tests/sim/nm_unit/nm_unit_memory_test.cpp). Remeasured on HBM2e/HBM3 (docs/systems.md
// "Limits"): up to 36% slow where one stream's row switches hide behind other banks, up to
// 42% fast where streams share banks or refresh pauses stall compute; a row-granular
// model of both and of refresh pauses still left 27%, so HBM stays refused.
inline constexpr double kTwinMaxRowSwitchFraction = 0.05;

// Reads the device file `hw.memory` names and the port keys `hw.offchip.request_bytes` and
// `max_outstanding` (sim/system/offchip.h's ranges and defaults).
inline DramStreamTerm read_dram_stream_term(const Config& hw) {
  DramStreamTerm m;
  // The port's keys as sim/system/offchip.cpp's read_offchip reads them (declared once in
  // offchip_keys(); the runner has checked their ranges).
  const MemoryPortParams port = read_port_params(hw.child("offchip"));
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

}  // namespace tessel::sim
