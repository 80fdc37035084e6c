// Reading MAC-array parameters from YAML and building the tile schedule.
#include "sim/mac_array/mac_array_params.h"

#include <algorithm>
#include <cmath>

#include "sim/core/gemm_limits.h"
#include "sim/core/offchip_params.h"

namespace tessel::mac_array {

// Ranges are what a chip can be; they also keep every product of them (rows·cols·K chunks,
// bytes per cycle) far inside int64.
const ModelKeys& model_keys() {
  static const ModelKeys keys = [] {
    ModelKeys m("mac_array");
    KeySet& k = m.hw;
    k.number("clock_ghz", 0.01, 10, "clock frequency").in("GHz");
    k.integer("rows", 1, 4096, "PE array rows (output rows per tile)");
    k.integer("cols", 1, 4096, "PE array columns (output columns per tile)");
    k.integer("pipeline_depth", 1, 1024, "MAC pipeline stages (fill latency once per tile)")
        .def("3");
    k.choice("dtype", {"int8"}, "operand type (int32 accumulation)").def("int8");
    k.number("buffer_kib", 0.001, 1048576,
             "input buffer; two halves each hold one (rows + cols) × K chunk, so at least "
             "2·(rows + cols) bytes; energy at Horowitz's 8 KB / 32 KB / 1 MB SRAM figure, the "
             "smallest that holds it")
        .in("KiB");
    k.include("", sim::offchip_keys());
    KeySet& w = m.workload;
    w.choice("kind", {"gemm"}, "workload kind");
    // Up to 2^20 each: m·n·k MACs stay below 2^63.
    w.integer("m", 1, 1 << 20, "rows of C and A: C[m×n] = A[m×k] · B[k×n]");
    w.integer("n", 1, 1 << 20, "columns of C and B");
    w.integer("k", 1, 1 << 20, "the reduction dimension");
    w.flag("functional",
           "compute the values from seeded random int8 data and check them against the Eigen "
           "reference (`mac_array` only; the twin models timing and activity)")
        .def("true");
    return m;
  }();
  return keys;
}

MacArrayParams read_params(const Config& config) {
  const Keyed hw(model_keys().hw, config);
  MacArrayParams p;
  p.clock_ghz = hw.number("clock_ghz");
  p.rows = hw.integer("rows");
  p.cols = hw.integer("cols");
  p.pipeline_depth = hw.integer("pipeline_depth");
  hw.choice("dtype");  // one choice today; the key is there for the day int4 or fp8 is added
  const double kib = hw.number("buffer_kib");
  p.buffer_bytes = static_cast<int64_t>(kib * 1024);
  if (p.buffer_bytes / 2 / (p.rows + p.cols) < 1)
    hw.fail("buffer_kib", "too small: two K steps of a " + std::to_string(p.rows) + "x" +
                              std::to_string(p.cols) + " tile need " +
                              std::to_string(2 * (p.rows + p.cols)) + " bytes");
  // With `memory:` a simulated memory sets bandwidth and latency (sim/system/offchip.h);
  // the cycle-level model reads the rest of that choice there.
  p.offchip_memory = sim::names_memory(config);
  const sim::LinkFigures link = sim::read_link_figures(config, p.clock_ghz);
  p.read_bytes_per_cycle = link.read_bytes_per_cycle;
  p.write_bytes_per_cycle = link.write_bytes_per_cycle;
  p.latency_cycles = link.latency_cycles;
  // Horowitz gives SRAM energies for 8 KB, 32 KB and 1 MB arrays; a buffer is charged at
  // the smallest of those that holds it.
  p.sram_action = kib <= 8 ? "sram_8kb" : kib <= 32 ? "sram_32kb" : "sram_1mb";
  return p;
}

GemmWorkload read_workload(const Config& config) {
  const Keyed workload(model_keys().workload, config);
  GemmWorkload w;
  workload.choice("kind");
  w.m = workload.integer("m");
  w.n = workload.integer("n");
  w.k = workload.integer("k");
  w.functional = workload.flag("functional");
  return w;
}

int64_t chunk_depth(const MacArrayParams& p, const GemmWorkload& w) {
  int64_t per_k = p.rows + p.cols;  // int8: one byte per A row and per B column per K step
  return std::min(w.k, p.buffer_bytes / 2 / per_k);
}

std::vector<Chunk> schedule(const MacArrayParams& p, const GemmWorkload& w) {
  int64_t depth = chunk_depth(p, w);
  std::vector<Chunk> chunks;
  int64_t tile = 0;
  for (int64_t r = 0; r < w.m; r += p.rows) {
    for (int64_t c = 0; c < w.n; c += p.cols, ++tile) {
      for (int64_t k = 0; k < w.k; k += depth) {
        Chunk ch;
        ch.tile = tile;
        ch.row0 = r;
        ch.rows = std::min(p.rows, w.m - r);
        ch.col0 = c;
        ch.cols = std::min(p.cols, w.n - c);
        ch.k0 = k;
        ch.kt = std::min(depth, w.k - k);
        ch.last = k + depth >= w.k;
        chunks.push_back(ch);
      }
    }
  }
  return chunks;
}

void check_size(const Config& workload, const MacArrayParams& p, const GemmWorkload& w,
                bool simulated) {
  // Every tile streams all k steps through the array: tiles x k cycles at the least.
  const int64_t depth = chunk_depth(p, w);
  sim::GemmTiling g{w.m, w.n, w.k, p.rows, p.cols, (w.k + depth - 1) / depth, w.k, sizeof(Chunk)};
  const auto m = uint64_t(w.m), n = uint64_t(w.n), k = uint64_t(w.k);
  sim::check_gemm_size(workload, g, w.functional ? m * k + k * n + 4 * m * n : 0,
                       "the operands (A and B int8, C int32)", simulated);
}

Layout make_layout(const GemmWorkload& w) {
  auto align = [](uint64_t x) { return (x + 4095) / 4096 * 4096; };
  const uint64_t m = static_cast<uint64_t>(w.m), n = static_cast<uint64_t>(w.n),
                 k = static_cast<uint64_t>(w.k);
  Layout l;
  l.a = 0;
  l.b = align(l.a + m * k);
  l.c = align(l.b + k * n);
  l.end = align(l.c + m * n * 4);
  return l;
}

std::vector<AddressRange> load_ranges(const GemmWorkload& w, const Layout& l, const Chunk& ch) {
  const uint64_t k = static_cast<uint64_t>(w.k), kt = static_cast<uint64_t>(ch.kt),
                 k0 = static_cast<uint64_t>(ch.k0), rows = static_cast<uint64_t>(ch.rows),
                 cols = static_cast<uint64_t>(ch.cols);
  return {{l.a + static_cast<uint64_t>(ch.row0) * k + rows * k0, rows * kt},
          {l.b + static_cast<uint64_t>(ch.col0) * k + cols * k0, kt * cols}};
}

AddressRange store_range(const GemmWorkload& w, const Layout& l, const Chunk& ch) {
  const uint64_t n = static_cast<uint64_t>(w.n);
  return {l.c + (static_cast<uint64_t>(ch.row0) * n + static_cast<uint64_t>(ch.rows * ch.col0)) * 4,
          ch.store_bytes()};
}

}  // namespace tessel::mac_array
