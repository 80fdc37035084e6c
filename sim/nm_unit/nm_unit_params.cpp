// Reading the N:M unit's parameters and workload, mapping a GEMM onto it, and its schedule.
#include "sim/nm_unit/nm_unit_params.h"

#include <algorithm>
#include <cmath>

#include "models/sparse/mask_io.h"
#include "runtime/core/error.h"
#include "sim/core/area_proxy.h"
#include "sim/core/gemm_limits.h"
#include "sim/core/offchip_params.h"
#include "sim/nm_unit/nm_unit_weights.h"

namespace tessel::nm_unit {
namespace {

// Horowitz gives SRAM energies for 8 KB, 32 KB and 1 MB arrays; a buffer is charged at the
// smallest of those that holds it (as sim/mac_array does).
std::string sram_action(double kib) {
  return kib <= 8 ? "sram_8kb" : kib <= 32 ? "sram_32kb" : "sram_1mb";
}

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

std::string pattern_list(const std::vector<sparse::Pattern>& ps) {
  std::string s;
  for (const auto& p : ps) s += (s.empty() ? "" : ", ") + p.str();
  return s;
}

[[noreturn]] void fail_at(const Config* cfg, const std::string& key, const std::string& msg) {
  if (cfg) cfg->fail(key, msg);
  throw ConfigError(key + ": " + msg);
}

// Weight-buffer bytes of one row over kt dense K positions (values + packed indices).
int64_t row_weight_bytes(const NmUnitParams& p, const Mapping& map, int64_t kt) {
  const int64_t kept = kept_per_row(map, kt);
  return kept * p.elem_bytes() + ceil_div(kept * map.index_bits, 8);
}

}  // namespace

// Ranges are what a chip can be; they also keep every product of them (rows·cols·chunk
// bytes, K chunks) far inside int64.
const ModelKeys& model_keys() {
  static const ModelKeys keys = [] {
    ModelKeys m("nm_unit");
    KeySet& k = m.hw;
    k.number("clock_ghz", 0.01, 10, "clock frequency").in("GHz");
    k.integer("rows", 1, 4096, "PE array: weight rows (output features) per output tile");
    k.integer("cols", 1, 4096, "PE array: tokens per output tile");
    k.integer("lanes", 1, 256, "MAC lanes per PE: compressed weights consumed per PE per cycle");
    k.integer("window", 1, 1024,
              "activations a PE column receives per cycle (dense K positions), at least `lanes`; "
              "sparse N:M advances min(⌊lanes/N⌋, ⌊window/M⌋)·M K positions per cycle");
    k.integer("mux_fanin", 1, 256,
              "inputs of each lane's activation multiplexer; every supported pattern needs M ≤ "
              "mux_fanin; each selection is charged mux_fanin − 1 two-input muxes");
    k.integer("pipeline_depth", 1, 1024,
              "MAC pipeline stages, drained at the end of each output tile")
        .def("3");
    k.integer("decode_latency", 0, 1024, "metadata-decoder stage per step (sparse mode only)")
        .def("1")
        .in("cycles");
    k.list("patterns",
           "patterns the decoders support, each \"N:M\" with M ≤ mux_fanin, N ≤ lanes, "
           "M ≤ window");
    k.text("patterns[]", "one N:M pattern");
    k.choice("mode", {"sparse", "dense"},
             "`dense` runs the same array with decoders and muxes bypassed (N:M weights fed as "
             "dense K positions)")
        .def("sparse");
    k.choice("dtype", {"int8", "fp16"},
             "operands; int8 accumulates in int32 (`mac_int8`), fp16 in fp32 (`mac_fp16`)")
        .def("int8");
    k.section("buffers", "on-chip buffers (charged at Horowitz's 8 KB / 32 KB / 1 MB SRAM figure)");
    k.integer("buffers.slots", 2, 64,
              "chunks in flight between loader and array; each buffer is split into this many "
              "equal slots (2: the loader fills one while the array reads another)")
        .def("2");
    k.number("buffers.weight_kib", 0.001, 1048576, "weight buffer (values + packed indices)")
        .in("KiB");
    k.number("buffers.act_kib", 0.001, 1048576, "activation buffer").in("KiB");
    k.number("buffers.out_kib", 0.001, 1048576,
             "output buffer; must hold two rows × cols tiles of 4-byte results")
        .in("KiB");
    k.include("", sim::offchip_keys());
    KeySet& w = m.workload;
    w.choice("kind", {"gemm"}, "Y[m×n] = W[m×k] · X[k×n]; W is N:M along k");
    // Up to 2^20 each: m·n·k MACs stay below 2^63.
    w.integer("m", 1, 1 << 20, "output features");
    w.integer("n", 1, 1 << 20, "tokens");
    w.integer("k", 1, 1 << 20, "reduction length; a multiple of M");
    w.text("pattern",
           "weight sparsity \"N:M\" (quote it), or `dense` for unpruned weights (the array "
           "runs dense)")
        .def("2:4");
    w.file("mask",
           "mask file (models/sparse/mask_io.h): shape m × k, pattern `pattern`; values are "
           "seeded random int8 on its kept positions, or `weights` (every weight it prunes "
           "must then be 0)")
        .opt("none");
    w.file("weights",
           "real weights (.npy, float32/float64, or int8 used with scale 1), m × k; without "
           "`mask` their non-zeros must be N:M. int8 unit: symmetric per output row, scale "
           "max|w|/127, round half to even; fp16 unit: nearest fp16, |w| ≤ 65504")
        .opt("seeded random");
    w.file("activations",
           "real activations (.npy, float) k × n; int8: symmetric per tensor (scale reported "
           "as `activation_scale`), fp16: nearest fp16")
        .opt("seeded random");
    w.flag("functional",
           "compute and check Y: int8 bit-exact against models/sparse on the (quantised) "
           "operands, fp16 within 1e-6·k·max(1, max|w|·max|x|)")
        .def("true");
    return m;
  }();
  return keys;
}

NmUnitParams read_params(const Config& config) {
  const Keyed hw(model_keys().hw, config);
  NmUnitParams p;
  p.clock_ghz = hw.number("clock_ghz");
  p.rows = hw.integer("rows");
  p.cols = hw.integer("cols");
  p.lanes = hw.integer("lanes");
  p.window = hw.integer("window");
  p.mux_fanin = hw.integer("mux_fanin");
  p.pipeline_depth = hw.integer("pipeline_depth");
  p.decode_latency = hw.integer("decode_latency");
  if (p.window < p.lanes)
    hw.fail("window", "must be at least lanes (" + std::to_string(p.lanes) +
                          "): dense mode feeds one activation per lane per cycle");
  p.dense_mode = hw.choice("mode") == "dense";
  p.dtype = hw.choice("dtype") == "int8" ? DType::kInt8 : DType::kFp16;
  for (const Keyed& element : hw.items("patterns")) {
    const Config& item = element.config();
    sparse::Pattern pat;
    try {
      pat = sparse::Pattern::parse(element.as_text());
    } catch (const ConfigError& e) {
      item.fail("", e.what());
    }
    if (pat.m > p.mux_fanin)
      item.fail("", "pattern " + pat.str() + " needs a " + std::to_string(pat.m) +
                        "-input activation mux, mux_fanin is " + std::to_string(p.mux_fanin));
    if (pat.n > p.lanes)
      item.fail("", "pattern " + pat.str() + " keeps " + std::to_string(pat.n) +
                        " per group, more than the " + std::to_string(p.lanes) + " lanes");
    if (pat.m > p.window)
      item.fail("", "pattern " + pat.str() + " needs a window of at least " +
                        std::to_string(pat.m) + " activations, window is " +
                        std::to_string(p.window));
    p.patterns.push_back(pat);
  }
  const Keyed buf = hw.child("buffers");
  const double wkib = buf.number("weight_kib"), akib = buf.number("act_kib"),
               okib = buf.number("out_kib");
  // At least 2: the loader fills one slot while the array reads another.
  p.buffer_slots = buf.integer("slots");
  p.weight_buffer_bytes = static_cast<int64_t>(wkib * 1024);
  p.act_buffer_bytes = static_cast<int64_t>(akib * 1024);
  p.out_buffer_bytes = static_cast<int64_t>(okib * 1024);
  if (p.out_buffer_bytes < 2 * p.rows * p.cols * 4)
    buf.fail("out_kib", "must hold two output tiles of " + std::to_string(p.rows) + "x" +
                            std::to_string(p.cols) + " 4-byte values (" +
                            std::to_string(2 * p.rows * p.cols * 4) + " bytes)");
  // With `memory:` a simulated memory sets bandwidth and latency (sim/system/offchip.h).
  p.offchip_memory = sim::names_memory(config);
  const sim::LinkFigures link = sim::read_link_figures(config, p.clock_ghz);
  p.read_bytes_per_cycle = link.read_bytes_per_cycle;
  p.write_bytes_per_cycle = link.write_bytes_per_cycle;
  p.latency_cycles = link.latency_cycles;
  p.weight_sram = sram_action(wkib);
  p.act_sram = sram_action(akib);
  p.out_sram = sram_action(okib);
  p.mac_action = p.dtype == DType::kInt8 ? "mac_int8" : "mac_fp16";
  p.mux_action = p.dtype == DType::kInt8 ? "mux2_int8" : "mux2_fp16";
  return p;
}

Area area(const NmUnitParams& p) {
  const int64_t lanes = p.rows * p.cols * p.lanes;
  const bool i8 = p.dtype == DType::kInt8;
  const double bits = i8 ? 8 : 16;
  // A fan-in-1 lane has no mux and nothing to decode (the energy model charges the same).
  const double mux2_bits = static_cast<double>(lanes) * static_cast<double>(p.mux_fanin - 1) * bits;
  const double decoder_outputs =
      p.mux_fanin > 1 ? static_cast<double>(p.rows * p.lanes * p.mux_fanin) : 0;
  const double buffer_kib =
      static_cast<double>(p.weight_buffer_bytes + p.act_buffer_bytes + p.out_buffer_bytes) / 1024;
  Area a;
  a.macs = sim::area::mac_area_mm2(
      lanes, i8 ? sim::area::MacType::kInt8 : sim::area::MacType::kFp16, p.node_nm);
  a.sram = sim::area::sram_area_mm2(buffer_kib, p.node_nm);
  a.nm_logic = sim::area::gate_bits_area_mm2(mux2_bits + decoder_outputs, p.node_nm);
  return a;
}

NmUnitWorkload read_workload(const Config& workload) {
  const Keyed keyed(model_keys().workload, workload);
  NmUnitWorkload w;
  keyed.choice("kind");
  w.m = keyed.integer("m");
  w.n = keyed.integer("n");
  w.k = keyed.integer("k");
  w.functional = keyed.flag("functional");
  std::string pattern = keyed.text("pattern");
  if (keyed.has("mask")) w.mask_path = keyed.path("mask");
  if (pattern == "dense") {
    w.dense = true;
    if (!w.mask_path.empty()) workload.fail("mask", "a mask needs an N:M pattern, not dense");
  } else {
    try {
      w.pattern = sparse::Pattern::parse(pattern);
    } catch (const ConfigError& e) {
      workload.fail("pattern", std::string(e.what()) + " (or \"dense\")");
    }
  }
  sparse::MaskFile mf;
  if (!w.mask_path.empty()) {
    // Read now so that a bad mask fails the configuration, in both models, before any run.
    mf = sparse::load_mask(w.mask_path);
    if (mf.mask.rows != w.m || mf.mask.cols != w.k)
      workload.fail("mask", w.mask_path + " is " + std::to_string(mf.mask.rows) + "x" +
                                std::to_string(mf.mask.cols) + ", the weights are m x k = " +
                                std::to_string(w.m) + "x" + std::to_string(w.k));
    if (!(mf.pattern == w.pattern))
      workload.fail("mask", w.mask_path + " has pattern " + mf.pattern.str() +
                                ", the workload's pattern is " + w.pattern.str());
  }
  if (workload.has("weights")) {
    w.weights_path = keyed.path("weights");
    w.weights = read_operand(workload, "weights", w.m, w.k, "m x k", &w.weights_int8);
    const sparse::MatrixF& wt = *w.weights;
    if (!w.mask_path.empty()) {
      // The mask is the pruning's word: a weight it drops must be zero.
      for (int64_t r = 0; r < w.m; ++r)
        for (int64_t c = 0; c < w.k; ++c)
          if (!mf.mask(r, c) && wt(r, c) != 0)
            workload.fail("weights", w.weights_path + ": row " + std::to_string(r) + " col " +
                                         std::to_string(c) + " is " + value_text(wt(r, c)) +
                                         " but the mask " + w.mask_path + " prunes it");
    } else if (!w.dense) {
      // No mask: the non-zeros are the kept positions and must form the pattern.
      sparse::Violation v = sparse::check(wt, w.pattern);
      if (!v.ok)
        workload.fail("weights", w.weights_path + " is not " + w.pattern.str() + ": " +
                                     v.str(w.pattern) + " (prune it or give a mask)");
    }
  }
  if (workload.has("activations")) {
    w.activations_path = keyed.path("activations");
    w.activations = read_operand(workload, "activations", w.k, w.n, "k x n", &w.activations_int8);
  }
  return w;
}

Mapping map_workload(const NmUnitParams& p, const NmUnitWorkload& w, const Config* hw,
                     const Config* workload) {
  Mapping map;
  map.sparse = !(w.dense || p.dense_mode);
  if (map.sparse) {
    const auto& ps = p.patterns;
    if (std::find(ps.begin(), ps.end(), w.pattern) == ps.end())
      fail_at(workload, "pattern",
              "pattern " + w.pattern.str() +
                  " is not supported by the unit (hw.patterns: " + pattern_list(ps) + ")");
    if (w.k % w.pattern.m != 0)
      fail_at(workload, "k",
              std::to_string(w.k) + " is not a multiple of M=" + std::to_string(w.pattern.m));
    map.n = w.pattern.n;
    map.m = w.pattern.m;
    const int64_t groups = std::min(p.lanes / map.n, p.window / map.m);
    map.k_per_cycle = groups * map.m;
    map.index_bits = w.pattern.index_bits();
  } else {
    map.k_per_cycle = p.lanes;
  }
  if (p.dtype == DType::kFp16) {
    // Real operands enter the fp16 datapath converted to the nearest fp16; one that would
    // become infinite is rejected rather than silently changing every output it touches.
    auto in_range = [&](const std::shared_ptr<const sparse::MatrixF>& v, const std::string& key,
                        const std::string& path) {
      if (!v) return;
      for (int64_t r = 0; r < v->rows(); ++r)
        for (int64_t c = 0; c < v->cols(); ++c)
          if (!Eigen::numext::isfinite(Eigen::half((*v)(r, c))))
            fail_at(workload, key,
                    path + ": row " + std::to_string(r) + " col " + std::to_string(c) + " is " +
                        value_text((*v)(r, c)) + ", beyond fp16 (largest 65504)");
    };
    in_range(w.weights, "weights", w.weights_path);
    in_range(w.activations, "activations", w.activations_path);
  }
  // Largest chunk (a multiple of the per-cycle step) whose weights and activations each
  // fit one slot of their buffer.
  const int64_t step = map.k_per_cycle;
  int64_t chunk = 0;
  for (int64_t kc = step;; kc += step) {
    bool fits = p.rows * row_weight_bytes(p, map, kc) <= p.weight_buffer_bytes / p.buffer_slots &&
                kc * p.cols * p.elem_bytes() <= p.act_buffer_bytes / p.buffer_slots;
    if (!fits) break;
    chunk = kc;
    if (kc >= w.k) break;
  }
  if (chunk == 0)
    fail_at(hw, "buffers",
            "too small: one slot of each buffer must hold one cycle's operands (" +
                std::to_string(step) + " K positions for " + std::to_string(p.rows) + " rows and " +
                std::to_string(p.cols) + " columns)");
  map.k_chunk = std::min(chunk, w.k);
  if (map.k_chunk >= w.k) {
    // One chunk per tile: the outer operand can stay resident while the inner one streams.
    // Pick the order that moves fewer bytes.
    const double wbytes = static_cast<double>(w.m) * row_weight_bytes(p, map, w.k);
    const double xbytes = static_cast<double>(w.k) * w.n * p.elem_bytes();
    const double row_blocks = std::ceil(static_cast<double>(w.m) / p.rows);
    const double tok_tiles = std::ceil(static_cast<double>(w.n) / p.cols);
    map.weights_outer = wbytes + row_blocks * xbytes <= xbytes + tok_tiles * wbytes;
    map.outer_resident = true;
  }
  return map;
}

std::vector<Step> schedule(const NmUnitParams& p, const NmUnitWorkload& w, const Mapping& map) {
  std::vector<Step> steps;
  const int64_t row_blocks = ceil_div(w.m, p.rows), tok_tiles = ceil_div(w.n, p.cols);
  const int64_t outer_count = map.weights_outer ? row_blocks : tok_tiles;
  const int64_t inner_count = map.weights_outer ? tok_tiles : row_blocks;
  int64_t tile = 0;
  for (int64_t o = 0; o < outer_count; ++o)
    for (int64_t i = 0; i < inner_count; ++i, ++tile) {
      const int64_t rb = map.weights_outer ? o : i, tt = map.weights_outer ? i : o;
      for (int64_t k0 = 0; k0 < w.k; k0 += map.k_chunk) {
        Step s;
        s.tile = tile;
        s.row0 = rb * p.rows;
        s.rows = std::min(p.rows, w.m - s.row0);
        s.tok0 = tt * p.cols;
        s.toks = std::min(p.cols, w.n - s.tok0);
        s.k0 = k0;
        s.kt = std::min(map.k_chunk, w.k - k0);
        s.last = k0 + map.k_chunk >= w.k;
        const bool reuse = map.outer_resident && i > 0;
        s.load_weights = !(reuse && map.weights_outer);
        s.load_acts = !(reuse && !map.weights_outer);
        steps.push_back(s);
      }
    }
  return steps;
}

void check_size(const Config& workload, const NmUnitParams& p, const NmUnitWorkload& w,
                const Mapping& map, bool simulated) {
  // Every tile advances k_per_cycle K positions per cycle at best.
  sim::GemmTiling g{w.m,
                    w.n,
                    w.k,
                    p.rows,
                    p.cols,
                    ceil_div(w.k, map.k_chunk),
                    ceil_div(w.k, map.k_per_cycle),
                    sizeof(Step)};
  const auto m = uint64_t(w.m), n = uint64_t(w.n), k = uint64_t(w.k), e = uint64_t(p.elem_bytes());
  sim::check_gemm_size(workload, g, w.functional ? (m * k + k * n) * e + 4 * m * n : 0,
                       "the operands (W, X and Y)", simulated);
}

int64_t kept_per_row(const Mapping& map, int64_t kt) {
  return kt / map.m * map.n;
}

int64_t weight_value_bytes(const NmUnitParams& p, const Mapping& map, const Step& s) {
  return s.rows * kept_per_row(map, s.kt) * p.elem_bytes();
}

int64_t metadata_bytes(const Mapping& map, const Step& s) {
  return s.rows * ceil_div(kept_per_row(map, s.kt) * map.index_bits, 8);
}

int64_t act_bytes(const NmUnitParams& p, const Step& s) {
  return s.kt * s.toks * p.elem_bytes();
}

int64_t load_bytes(const NmUnitParams& p, const Mapping& map, const Step& s) {
  return (s.load_weights ? weight_value_bytes(p, map, s) + metadata_bytes(map, s) : 0) +
         (s.load_acts ? act_bytes(p, s) : 0);
}

int64_t store_bytes(const Step& s) {
  return s.rows * s.toks * 4;
}

uint64_t compute_cycles(const NmUnitParams& p, const Mapping& map, const Step& s) {
  return static_cast<uint64_t>(ceil_div(s.kt, map.k_per_cycle) + (s.last ? p.pipeline_depth : 0));
}

Layout make_layout(const NmUnitParams& p, const NmUnitWorkload& w, const Mapping& map) {
  auto align = [](uint64_t a) { return (a + 4095) / 4096 * 4096; };
  Layout l;
  const uint64_t elem = static_cast<uint64_t>(p.elem_bytes());
  l.row_value_bytes = static_cast<uint64_t>(kept_per_row(map, w.k)) * elem;
  l.chunk_meta_bytes =
      static_cast<uint64_t>(ceil_div(kept_per_row(map, map.k_chunk) * map.index_bits, 8));
  // Every chunk but the last is full; the last may be shorter.
  const int64_t chunks = ceil_div(w.k, map.k_chunk);
  const int64_t last_kt = w.k - (chunks - 1) * map.k_chunk;
  l.row_meta_bytes =
      static_cast<uint64_t>(chunks - 1) * l.chunk_meta_bytes +
      static_cast<uint64_t>(ceil_div(kept_per_row(map, last_kt) * map.index_bits, 8));
  l.weights = 0;
  l.metadata = align(l.weights + static_cast<uint64_t>(w.m) * l.row_value_bytes);
  l.acts = align(l.metadata + static_cast<uint64_t>(w.m) * l.row_meta_bytes);
  l.outputs = align(l.acts + static_cast<uint64_t>(w.k * w.n) * elem);
  l.end = align(l.outputs + static_cast<uint64_t>(w.m * w.n) * 4);
  return l;
}

std::vector<AddressRange> load_ranges(const NmUnitParams& p, const NmUnitWorkload& w,
                                      const Mapping& map, const Layout& l, const Step& s) {
  std::vector<AddressRange> out;
  const uint64_t elem = static_cast<uint64_t>(p.elem_bytes());
  const uint64_t rows = static_cast<uint64_t>(s.rows);
  if (s.load_weights) {
    out.push_back({l.weights + static_cast<uint64_t>(s.row0) * l.row_value_bytes +
                       rows * static_cast<uint64_t>(kept_per_row(map, s.k0)) * elem,
                   static_cast<uint64_t>(weight_value_bytes(p, map, s))});
    const uint64_t meta = static_cast<uint64_t>(metadata_bytes(map, s));
    if (meta)
      out.push_back({l.metadata + static_cast<uint64_t>(s.row0) * l.row_meta_bytes +
                         rows * static_cast<uint64_t>(s.k0 / map.k_chunk) * l.chunk_meta_bytes,
                     meta});
  }
  if (s.load_acts)
    out.push_back({l.acts + static_cast<uint64_t>(s.tok0 * w.k) * elem +
                       static_cast<uint64_t>(s.toks * s.k0) * elem,
                   static_cast<uint64_t>(act_bytes(p, s))});
  return out;
}

AddressRange store_range(const NmUnitWorkload& w, const Layout& l, const Step& s) {
  return {l.outputs + static_cast<uint64_t>(s.row0 * w.n) * 4 +
              static_cast<uint64_t>(s.rows * s.tok0) * 4,
          static_cast<uint64_t>(store_bytes(s))};
}

}  // namespace tessel::nm_unit
