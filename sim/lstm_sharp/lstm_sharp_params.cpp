// YAML → LSTM-Sharp parameters, with the consistency checks a designer would make.
#include "sim/lstm_sharp/lstm_sharp_params.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "runtime/core/limits.h"
#include "sim/core/dram_stream_term.h"
#include "sim/core/offchip_params.h"
#include "sim/lstm_sharp/dpu.h"
#include "sim/lstm_sharp/gpu_reference.h"
#include "sim/lstm_sharp/sram_energy.h"

namespace tessel::lstm_sharp {

Schedule parse_schedule(const std::string& name) {
  if (name == "sequential") return Schedule::kSequential;
  if (name == "inter_gate") return Schedule::kInterGate;
  if (name == "unfolded") return Schedule::kUnfolded;
  return Schedule::kSharp;
}

namespace {

// A row block holds dpus_per_tile rows; the 4 gates of an element must share a block.
bool valid_width(const MachineParams& p, int64_t k) {
  if (k <= 0 || p.mac_budget % (p.tiles * k) != 0) return false;
  int64_t d = p.mac_budget / (p.tiles * k);
  return d >= 4 && d % 4 == 0;
}

// Shortest text of a KiB figure (32, 0.5, 16384).
std::string fmt_number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

}  // namespace

// Ranges are what a chip can be; they also keep cycle and byte counts (MACs per step ×
// steps × layers) inside 64 bits.
const ModelKeys& model_keys() {
  static const ModelKeys keys = [] {
    ModelKeys m("lstm_sharp");
    m.files.emplace_back("gpu_baseline", &gpu_reference_keys());
    KeySet& k = m.hw;
    k.number("clock_ghz", 0.01, 10, "clock frequency").in("GHz");
    k.integer("mac_budget", 4, 1 << 24, "int16 MACs in all: tiles × DPUs per tile × DPU width");
    k.integer("tiles", 1, 4096, "compute tiles");
    // An integer or the word `auto`: read by read_machine, not by the declaration.
    k.open("dpu_width",
           "required: K of the fixed shape, an integer 1–4096, or `auto`: the largest power of "
           "two with D = mac_budget / (tiles·K) ≥ K; D must be a multiple of 4");
    k.flag("reconfigurable", "choose K per layer from `dpu_width_options` by the analytical model")
        .def("true");
    k.list("dpu_width_options",
           "widths the datapath supports; those that do not give a multiple of 4 DPUs per tile "
           "at this budget are skipped")
        .opt("[dpu_width]");
    k.integer("dpu_width_options[]", 1, 4096, "a DPU width");
    k.choice("schedule", {"sequential", "inter_gate", "unfolded", "sharp"},
             "dispatch and synchronisation (docs/lstm_sharp.md)")
        .def("sharp");
    k.integer("runahead_steps", 1, 1000000,
              "how many later steps' W·x may be computed ahead (unfolded, sharp)")
        .def("1");
    k.integer("reconfig_cycles", 0, 1000000000,
              "cycles the datapath stops each time the DPU width changes between consecutive "
              "layers (an estimate: docs/lstm_sharp.md)")
        .opt("D at the narrowest width + ceil(log2 widest K) + 1")
        .in("cycles");
    k.number("act_buffer_kib", 0.001, 1048576,
             "activation buffer per tile (x of the steps W·x may run ahead, h(t-1) and h(t)); "
             "less than the workload needs is an error")
        .opt("what the workload needs, in 8 KiB macros")
        .in("KiB");
    k.number("psum_buffer_kib", 0.001, 1048576,
             "partial-sum buffer per tile (48-bit W·x sums parked by the run-ahead); less than "
             "the workload needs is an error")
        .opt("what the workload needs, in 32 KiB macros")
        .in("KiB");
    k.section("weight_sram", "the weight SRAM of each tile");
    k.number("weight_sram.kib_per_tile", 0.001, 1048576,
             "weight SRAM per tile; rows beyond it stream every step")
        .in("KiB");
    k.integer("weight_sram.bank_bytes", 1, 4096, "bytes one bank delivers per cycle").in("B");
    k.integer("weight_sram.banks", 1, 1 << 20,
              "banks per tile, one macro each, at most kib_per_tile / macro_kib (weight "
              "bandwidth = banks × bank_bytes per cycle; metric `weight_sram_feed_fraction`)")
        .opt("enough for every DPU lane, capped at kib_per_tile / macro_kib");
    // The range is what the SRAM energy rule prices (sram_energy.h): Horowitz's largest
    // array (1 MB) at the top, 1 Kbit (below it: flip-flops, not a macro) at the bottom.
    k.number("weight_sram.macro_kib", kMinMacroKib, kMaxMacroKib,
             "SRAM macro size (one bank), at most kib_per_tile; a weight read costs a read from "
             "an array this large (log-log between Horowitz's 8 KB, 32 KB and 1 MB arrays, as "
             "the 8 KB one below 8 KB)")
        .def("32")
        .in("KiB");
    k.number("weight_sram.stream_buffer_kib", 0.001, 1048576,
             "with `memory`: per-tile staging for streamed weights, half per stream (W·x, U·h); "
             "each half must hold one DPU pass")
        .opt("max(64, 4 × MACs per tile × 2 B)")
        .in("KiB");
    k.section("mfu", "the multi-function unit of each tile (sigmoid, tanh, c and h update)");
    k.integer("mfu.lanes", 1, 65536, "elements the MFU takes per cycle");
    k.integer("mfu.latency_cycles", 1, 1024, "MFU pipeline depth").in("cycles");
    k.include("", sim::offchip_keys());
    k.choice("weight_layout", {"interleaved", "tile_major"},
             "with `memory`: the tiles' streamed blocks side by side, or each tile's stream "
             "contiguous")
        .def("interleaved");
    k.file("gpu_reference",
           "GPU anchor table (`configs/baselines/`); adds metrics `gpu_seconds_estimate`, "
           "`speedup_vs_gpu`")
        .opt("none");
    k.section("rtl", "co-simulation with Verilated RTL (`lstm_sharp` only)");
    k.flag("rtl.dpu",
           "every row's dot product computed by the Verilated DPU (rtl/lstm_sharp/dpu.sv, K = 8) "
           "and the DPU latency / II taken from it; needs `dpu_width: 8`, `reconfigurable: "
           "false` and a build with Verilator (docs/rtl.md)")
        .def("false");
    KeySet& w = m.workload;
    w.choice("kind", {"lstm"}, "workload kind");
    w.text("name", "label").opt("empty");
    w.text("source", "citation (not read)").opt("empty");
    w.integer("input_size", 1, 65536, "X (PyTorch nn.LSTM input_size)");
    w.integer("hidden_size", 1, 65536, "H (PyTorch nn.LSTM hidden_size)");
    w.integer("layers", 1, 64, "stacked layers");
    w.integer("seq_len", 1, 1000000,
              "time steps (4·H·(X + H) MACs per step × steps × layers × directions stays "
              "below 2⁶²)");
    w.integer("batch", 1, kMaxBatch,
              "independent sequences run in lock step: each DPU pass reads its weights once "
              "and takes one input slice per sequence, a cycle each (docs/lstm_sharp.md, "
              "\"Batch\"); 1 in functional mode and with rtl.dpu")
        .def("1");
    w.flag("bidirectional", "run each layer in both directions").def("false");
    w.flag("functional",
           "compute in fixed point and check every output bit-exact against models/lstm "
           "(`lstm_sharp` only)")
        .def("false");
    return m;
  }();
  return keys;
}

MachineParams read_machine(const Config& hw) {
  const Keyed k(model_keys().hw, hw);
  MachineParams p;
  p.clock_ghz = k.number("clock_ghz");
  p.mac_budget = k.integer("mac_budget");
  p.tiles = k.integer("tiles");
  // `auto`: the balanced fixed shape a designer picks without knowing the workloads,
  // K ≈ D ≈ sqrt(MACs per tile): the largest power of two K with D = budget/(tiles·K) ≥ K.
  if (hw.has("dpu_width") && hw.at("dpu_width").is_scalar() &&
      hw.at("dpu_width").scalar() == "auto") {
    p.dpu_width = 1;
    while (valid_width(p, p.dpu_width * 2) &&
           p.dpu_width * 2 <= p.mac_budget / (p.tiles * p.dpu_width * 2))
      p.dpu_width *= 2;
  } else {
    p.dpu_width = hw.get_int_range("dpu_width", 1, 4096);
  }
  p.reconfigurable = k.flag("reconfigurable");
  if (!valid_width(p, p.dpu_width))
    hw.fail("dpu_width",
            "mac_budget / (tiles * dpu_width) must be a positive multiple of 4 "
            "(DPUs per tile; the 4 gates of an element share a row block)");
  // The widths the reconfigurable datapath supports; those that cannot split this MAC
  // budget into whole row blocks are not candidates for it.
  if (k.has("dpu_width_options")) {
    for (const Keyed& item : k.items("dpu_width_options")) {
      const int64_t width = item.as_integer();
      if (valid_width(p, width)) p.dpu_width_options.push_back(width);
    }
  }
  if (p.dpu_width_options.empty()) p.dpu_width_options.push_back(p.dpu_width);
  p.schedule = parse_schedule(k.choice("schedule"));
  p.runahead_steps = k.integer("runahead_steps");
  p.reconfig_cycles =
      k.has("reconfig_cycles") ? k.integer("reconfig_cycles") : default_reconfig_cycles(p);
  // Buffer capacities are checked against the workload (buffers.h: size_buffers).
  if (k.has("act_buffer_kib")) p.act_buffer_kib = k.number("act_buffer_kib");
  if (k.has("psum_buffer_kib")) p.psum_buffer_kib = k.number("psum_buffer_kib");

  const Keyed sram = k.child("weight_sram");
  p.weight_sram_kib = sram.number("kib_per_tile");
  p.weight_sram_bank_bytes = sram.integer("bank_bytes");
  p.weight_sram_macro_kib = sram.number("macro_kib");
  // A bank is one macro with one bank_bytes-wide port, so a tile has at most as many banks
  // as its capacity holds macros: 16 MiB of 32 KiB macros is 512 banks, whatever the
  // datapath would like. (Asking for more was how 16K- and 64K-MAC designs once got
  // weight bandwidth no SRAM of that size and macro could deliver.)
  const double macros = p.weight_sram_kib / p.weight_sram_macro_kib;
  if (macros < 1)
    sram.fail("macro_kib", "a " + fmt_number(p.weight_sram_macro_kib) +
                               " KiB macro does not fit in kib_per_tile " +
                               fmt_number(p.weight_sram_kib));
  p.weight_sram_macros = static_cast<int64_t>(std::floor(macros + 1e-9));
  // Default: as many banks as it takes to feed every DPU lane each cycle at the widest
  // shape, if the capacity holds that many macros; else every macro is a bank and the
  // SRAM's bandwidth throttles the datapath (metric weight_sram_feed_fraction).
  const int64_t lane_bytes = p.mac_budget / p.tiles * 2;
  const int64_t wanted = (lane_bytes + p.weight_sram_bank_bytes - 1) / p.weight_sram_bank_bytes;
  p.weight_sram_banks =
      sram.has("banks") ? sram.integer("banks") : std::min(wanted, p.weight_sram_macros);
  if (p.weight_sram_banks > p.weight_sram_macros)
    sram.fail("banks",
              std::to_string(p.weight_sram_banks) + " banks of " +
                  fmt_number(p.weight_sram_macro_kib) + " KiB macros need " +
                  fmt_number(static_cast<double>(p.weight_sram_banks) * p.weight_sram_macro_kib) +
                  " KiB, more than kib_per_tile " + fmt_number(p.weight_sram_kib) + " (at most " +
                  std::to_string(p.weight_sram_macros) + " banks; smaller macros give more)");
  const Keyed mfu = k.child("mfu");
  p.mfu_lanes = mfu.integer("lanes");
  p.mfu_latency = mfu.integer("latency_cycles");
  // The link's read rate is required even with `memory`: the reconfiguration rule prices
  // streamed weights with it when the memory is not one DRAM device.
  const Keyed off = k.child("offchip");
  p.offchip_bytes_per_cycle = off.number("read_gbps") / p.clock_ghz;
  p.offchip_latency_cycles =
      static_cast<uint64_t>(std::llround(off.number("latency_ns") * p.clock_ghz));
  // `memory:` (a memory model's hardware file, or `link`) binds the simulated memory.
  p.offchip_memory = sim::names_memory(hw);
  // The port's keys (sim/system/offchip.h: write_gbps, request_bytes, max_outstanding)
  // mean nothing to the link model but are accepted (and checked: request_bytes a power of
  // two), so that one file can switch `memory` between `link` and a device (a sweep axis).
  if (!p.offchip_memory) sim::read_port_params(off.config());
  // Staging for streamed weights, used only with a memory: half for the W·x stream, half
  // for U·h; each half must hold one pass (D·K int16 = MACs per tile × 2 bytes). Default
  // 64 KiB (two 32 KiB macros, double buffering), or four passes if those are larger.
  const int64_t pass_bytes = p.mac_budget / p.tiles * 2;
  const double buffer_kib = sram.has("stream_buffer_kib")
                                ? sram.number("stream_buffer_kib")
                                : std::max(64.0, 4.0 * static_cast<double>(pass_bytes) / 1024);
  p.stream_buffer_bytes = static_cast<int64_t>(buffer_kib * 1024);
  if (p.offchip_memory && p.stream_buffer_bytes / 2 < pass_bytes)
    sram.fail("stream_buffer_kib", "half of it (one stream) must hold one DPU pass of weights (" +
                                       std::to_string(pass_bytes) + " bytes = MACs per tile x 2)");
  p.tile_major_layout = k.choice("weight_layout") == "tile_major";
  if (p.offchip_memory) {
    const sim::DramStreamTerm term = sim::read_dram_stream_term(hw);
    // A memory that is not one DRAM device (tiers, NVM): the reconfiguration rule keeps
    // pricing streamed weights with the link figures; the twin refuses it.
    if (term.dram) {
      p.memory_bytes_per_cycle = term.sustained_gbps / p.clock_ghz;
      p.memory_latency_cycles =
          static_cast<uint64_t>(std::llround(std::ceil(term.latency_ns * p.clock_ghz)));
    }
  }
  if (k.has("gpu_reference")) p.gpu_reference = k.path("gpu_reference");
  if (hw.has("rtl")) {
    Config rtl = hw.child("rtl");
    p.rtl_dpu = rtl.get<bool>("dpu", false);
    // Known at run time: the co-simulated DPU registers itself when linked (dpu.h).
    if (p.rtl_dpu && !rtl_dpu_available())
      rtl.fail("dpu", "this build has no Verilator or no SystemC (TESSEL_RTL=OFF)");
    if (p.rtl_dpu && (p.reconfigurable || p.dpu_width != kRtlDpuWidth))
      rtl.fail("dpu", "the Verilated DPU has K = " + std::to_string(kRtlDpuWidth) +
                          ": set dpu_width: " + std::to_string(kRtlDpuWidth) +
                          " and reconfigurable: false");
  }
  return p;
}

int64_t default_reconfig_cycles(const MachineParams& m) {
  if (!m.reconfigurable) return 0;
  const auto [narrowest, widest] =
      std::minmax_element(m.dpu_width_options.begin(), m.dpu_width_options.end());
  int64_t tree = 0;
  while ((int64_t{1} << tree) < *widest) ++tree;
  return m.mac_budget / (m.tiles * *narrowest) + tree + 1;
}

LstmWorkload read_lstm_workload(const Config& w) {
  const Keyed k(model_keys().workload, w);
  LstmWorkload l;
  k.choice("kind");
  if (k.has("name")) l.name = k.text("name");
  l.input_size = k.integer("input_size");
  l.hidden_size = k.integer("hidden_size");
  l.layers = k.integer("layers");
  l.seq_len = k.integer("seq_len");
  l.batch = k.integer("batch");
  l.bidirectional = k.flag("bidirectional");
  l.functional = k.flag("functional");
  if (l.batch > 1) {
    // The fixed-point check runs one sequence (models/lstm is batch 1).
    if (l.functional)
      w.fail("batch", "functional mode checks one sequence against models/lstm; use batch: 1");
    // Cycle, MAC and byte counts stay inside 64 bits (as seq_len's description promises).
    const double dirs = l.bidirectional ? 2 : 1;
    const double in = static_cast<double>(std::max(l.input_size, l.hidden_size)) * dirs;
    const double macs = 4.0 * static_cast<double>(l.hidden_size) *
                        (in + static_cast<double>(l.hidden_size)) * static_cast<double>(l.seq_len) *
                        static_cast<double>(l.layers) * dirs * static_cast<double>(l.batch);
    if (macs >= std::ldexp(1.0, 62))
      w.fail("batch", fmt_number(macs) +
                          " MACs (batch x steps x layers x 4H(X + H)) do not fit "
                          "the model's 64-bit counters (below 2^62)");
  }
  if (l.functional) {
    // The functional check holds every layer's float weights (the widest layer's input is
    // max(X, H), doubled for a bidirectional stack's second layer on) and the sequence.
    const int64_t in = std::max(l.input_size, (l.bidirectional ? 2 : 1) * l.hidden_size);
    check_allocation(w, "hidden_size",
                     {l.layers * (l.bidirectional ? 2 : 1), 4 * l.hidden_size, in + l.hidden_size},
                     4, "float weights for the functional check");
    check_allocation(w, "seq_len", {l.seq_len, in + l.hidden_size}, 4,
                     "float inputs and outputs for the functional check");
  }
  return l;
}

}  // namespace tessel::lstm_sharp
