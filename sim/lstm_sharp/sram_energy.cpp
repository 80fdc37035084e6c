// SRAM read energy by macro size, capacity as built, and the area proxy.
#include "sim/lstm_sharp/sram_energy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "sim/core/area_proxy.h"

namespace tessel::lstm_sharp {

namespace {

std::string kib_text(double kib) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", kib);
  return b;
}

}  // namespace

std::vector<SramPoint> horowitz_sram_points(const EnergyTable& table) {
  return {{8, table.pj("sram_8kb_read_byte")},
          {32, table.pj("sram_32kb_read_byte")},
          {1024, table.pj("sram_1mb_read_byte")}};
}

double sram_read_pj_per_byte(const std::vector<SramPoint>& points, double kib) {
  if (points.empty()) throw std::invalid_argument("sram_read_pj_per_byte: no points");
  if (kib <= points.front().kib) return points.front().pj_per_byte;
  for (size_t i = 1; i < points.size(); ++i) {
    const SramPoint& lo = points[i - 1];
    const SramPoint& hi = points[i];
    if (kib > hi.kib) continue;
    const double f = std::log(kib / lo.kib) / std::log(hi.kib / lo.kib);
    return lo.pj_per_byte * std::pow(hi.pj_per_byte / lo.pj_per_byte, f);
  }
  throw std::invalid_argument("sram_read_pj_per_byte: a " + kib_text(kib) +
                              " KiB macro is larger than the largest priced array (" +
                              kib_text(points.back().kib) + " KiB)");
}

SramMacros sram_macros(const MachineParams& m) {
  SramMacros s;
  s.weight = m.weight_sram_macro_kib;
  s.stream = std::min(m.weight_sram_macro_kib, static_cast<double>(m.stream_buffer_bytes) / 2048);
  return s;
}

double sram_capacity_kib(const MachineParams& m) {
  const SramMacros s = sram_macros(m);
  // Buffers not yet sized for a workload (size_buffers) count as one macro each.
  double per_tile = m.weight_sram_kib + (m.act_buffer_kib > 0 ? m.act_buffer_kib : s.act) +
                    (m.psum_buffer_kib > 0 ? m.psum_buffer_kib : s.psum);
  if (m.offchip_memory) per_tile += static_cast<double>(m.stream_buffer_bytes) / 1024;
  return static_cast<double>(m.tiles) * per_tile;
}

std::string sram_read_action(double kib) {
  return "sram_macro_" + kib_text(kib) + "kib_read_byte";
}

std::string sram_write_action(double kib) {
  return "sram_macro_" + kib_text(kib) + "kib_write_byte";
}

// The shared proxy (sim/core/area_proxy.h); LSTM-Sharp's MACs are int16.
double sram_area_mm2(double kib, double node_nm) {
  return sim::area::sram_area_mm2(kib, node_nm);
}

double mac_area_mm2(int64_t macs, double node_nm) {
  return sim::area::mac_area_mm2(macs, sim::area::MacType::kInt16, node_nm);
}

}  // namespace tessel::lstm_sharp
