// SRAM prices by macro size, leakage, clock and control, and the energy breakdown.
#include "sim/lstm_sharp/chip_energy.h"

#include <cmath>

namespace tessel::lstm_sharp {

namespace {

double part(const std::map<std::string, double>& energy, const char* const* begin,
            const char* const* end) {
  double sum = 0;
  for (auto it = begin; it != end; ++it) {
    auto e = energy.find(*it);
    if (e != energy.end()) sum += e->second;
  }
  return sum;
}

double on_chip_dynamic(const std::map<std::string, double>& energy) {
  return part(energy, std::begin(kComputeComponents), std::end(kComputeComponents)) +
         part(energy, std::begin(kSramComponents), std::end(kSramComponents));
}

}  // namespace

void define_sram_actions(const SramMacros& macros, const EnergyTable& table, Counters& out) {
  const auto points = horowitz_sram_points(table);
  for (double kib : {macros.weight, macros.stream, macros.act, macros.psum}) {
    const double pj = sram_read_pj_per_byte(points, kib);
    const std::string how =
        "log-log between Horowitz's 45 nm 8 KB / 32 KB / 1 MB arrays "
        "(sram_8kb/32kb/1mb_read_byte, clamped below 8 KB) at the table's node";
    out.define_action(sram_read_action(kib), pj, how);
    out.define_action(sram_write_action(kib), pj, how + "; a write assumed equal to a read");
  }
}

void add_static_and_clock_counters(const MachineParams& m, uint64_t cycles,
                                   const EnergyTable& table, Counters& out) {
  const double ns = static_cast<double>(cycles) / m.clock_ghz;
  out.add("sram_leakage", "sram_leakage_kib_ns",
          static_cast<uint64_t>(std::llround(sram_capacity_kib(m) * ns)));
  out.add("clock_control", "clock_control_per_dynamic_pj",
          static_cast<uint64_t>(std::llround(on_chip_dynamic(out.energy_pj(table)))));
}

void add_energy_metrics(const MachineParams& m, const Counters& counters, const EnergyTable& table,
                        std::map<std::string, double>& metrics) {
  const auto energy = counters.energy_pj(table);
  double total = 0;
  for (const auto& kv : energy) total += kv.second;
  const double compute = part(energy, std::begin(kComputeComponents), std::end(kComputeComponents));
  const double sram = part(energy, std::begin(kSramComponents), std::end(kSramComponents));
  const auto get = [&](const char* name) {
    auto e = energy.find(name);
    return e == energy.end() ? 0.0 : e->second;
  };
  metrics["energy_compute_pj"] = compute;
  metrics["energy_sram_dynamic_pj"] = sram;
  metrics["energy_leakage_pj"] = get("sram_leakage");
  metrics["energy_clock_control_pj"] = get("clock_control");
  metrics["energy_offchip_pj"] =
      total - compute - sram - get("sram_leakage") - get("clock_control");
  metrics["sram_capacity_kib"] = sram_capacity_kib(m);
  metrics["area_mm2"] = sram_area_mm2(sram_capacity_kib(m), table.node_nm()) +
                        mac_area_mm2(m.mac_budget, table.node_nm());
}

}  // namespace tessel::lstm_sharp
