// Reading `hw.offchip` and building the ports of one run.
#include "sim/system/offchip.h"

#include <algorithm>
#include <cmath>

#include "sim/memory/memory_keys.h"

namespace tessel::sim {

uint64_t OffchipSpec::capacity() const {
  uint64_t c = 0;
  for (const memory::TierSpec& t : hierarchy.tiers) c += t.capacity;
  return c;
}

OffchipSpec read_offchip(const Config& hw, double clock_ghz) {
  OffchipSpec s;
  const Config off = hw.child("offchip");
  const bool has_memory = names_memory(hw);
  const LinkFigures link = read_link_figures(hw, clock_ghz);
  s.read_bytes_per_cycle = link.read_bytes_per_cycle;
  s.write_bytes_per_cycle = link.write_bytes_per_cycle;
  s.latency_cycles = link.latency_cycles;
  s.port = read_port_params(off);
  if (!has_memory) return s;
  s.memory = true;
  s.memory_file = hw.get_path("memory");
  Config mem =
      Config::load(s.memory_file, hw.key_path().empty() ? "memory" : hw.key_path() + ".memory");
  const std::string model = mem.get<std::string>("model", "memory");
  if (model != "memory")
    mem.fail("model", "is '" + model +
                          "': `memory:` must name a memory model's hardware "
                          "file (configs/hw/memory/)");
  // Checked as the runner checks a memory hw file; its `energy` table goes unused (the
  // accelerator's table prices the run).
  memory::memory_file_keys().check(mem);
  s.hierarchy = memory::read_hierarchy(mem);
  // Mismatched widths: a request narrower than a DRAM burst still occupies a whole burst
  // on the bus, so the port would move data the accelerator never asked for.
  for (const memory::TierSpec& t : s.hierarchy.tiers)
    if (t.kind == memory::DeviceKind::kDram &&
        s.port.request_bytes < static_cast<uint64_t>(t.dram.burst_bytes()))
      off.fail("request_bytes", std::to_string(s.port.request_bytes) +
                                    " bytes is narrower than a burst of tier '" + t.name + "' (" +
                                    std::to_string(t.dram.burst_bytes()) +
                                    " B: " + std::to_string(t.dram.bus_bits) + "-bit bus x BL" +
                                    std::to_string(t.dram.burst_length) + " in " + s.memory_file +
                                    "); use at least one burst");
  return s;
}

void check_fits(const OffchipSpec& spec, const Config& hw, uint64_t bytes,
                const std::string& what) {
  if (!spec.memory || bytes <= spec.capacity()) return;
  hw.fail("memory", what + " needs " + std::to_string(bytes) + " bytes but the memory '" +
                        spec.memory_file + "' holds " + std::to_string(spec.capacity()));
}

OffchipSystem::OffchipSystem(const OffchipSpec& spec, const Clock& clock, bool pipelined_link)
    : spec_(spec) {
  if (!spec_.memory) {
    read_link_ = std::make_unique<LinkPort>(clock, spec_.read_bytes_per_cycle, spec_.latency_cycles,
                                            pipelined_link);
    write_link_ = std::make_unique<LinkPort>(clock, spec_.write_bytes_per_cycle,
                                             spec_.latency_cycles, pipelined_link);
    return;
  }
  memory_ = std::make_unique<memory::MemorySystem>(spec_.hierarchy);
  port_ = std::make_unique<MemoryPort>("offchip_port", clock, spec_.port);
  port_->socket.bind(memory_->socket());
}

void OffchipSystem::report(const sc_core::sc_time& end, Counters& counters,
                           std::map<std::string, double>& metrics) {
  if (!memory_) {
    // The link's energy is the accelerator table's per-byte DRAM access figure.
    counters.add("offchip", "dram_read_byte", read_link_->bytes_read() + write_link_->bytes_read());
    counters.add("offchip", "dram_write_byte",
                 read_link_->bytes_written() + write_link_->bytes_written());
    return;
  }
  memory_->report(end, counters, metrics);
  port_->report("offchip_port", counters);
}

double OffchipSystem::busy_fraction(uint64_t cycles,
                                    const std::map<std::string, double>& metrics) const {
  if (cycles == 0) return 0;
  const double c = static_cast<double>(cycles);
  if (!memory_)
    return std::max(
        static_cast<double>(read_link_->bytes_read()) / (spec_.read_bytes_per_cycle * c),
        static_cast<double>(write_link_->bytes_written()) / (spec_.write_bytes_per_cycle * c));
  // A memory whose queues are full is saturated even when its data bus is not (row misses,
  // turnarounds and bank conflicts eat the rest): count that time as busy too.
  double busiest = static_cast<double>(port_->backpressure_cycles()) / c;
  for (const memory::TierSpec& t : spec_.hierarchy.tiers) {
    auto it = metrics.find(t.name + ".data_bus_utilization");
    if (it != metrics.end()) busiest = std::max(busiest, it->second);
  }
  return busiest;
}

std::string bound_by(double compute_busy, double offchip_busy, double onchip_feed) {
  if (compute_busy >= 0.9) return onchip_feed < 0.9 ? "onchip_bandwidth" : "compute";
  if (offchip_busy >= 0.7) return "offchip_bandwidth";
  return "latency";
}

}  // namespace tessel::sim
