// YAML → LSTM-Sharp parameters, with the consistency checks a designer would make.
#include "sim/lstm_sharp/lstm_sharp_params.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "runtime/core/limits.h"
#include "sim/core/offchip_params.h"
#include "sim/lstm_sharp/memory_term.h"

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

// Ranges (configs/README.md) are what a chip can be; they also keep cycle and byte counts
// (MACs per step × steps × layers) inside 64 bits.
MachineParams read_machine(const Config& hw) {
  MachineParams p;
  p.clock_ghz = hw.get_number_range("clock_ghz", 0.01, 10);
  p.mac_budget = hw.get_int_range("mac_budget", 4, 1 << 24);
  p.tiles = hw.get_int_range("tiles", 1, 4096);
  // `auto`: the balanced fixed shape a designer picks without knowing the workloads,
  // K ≈ D ≈ sqrt(MACs per tile): the largest power of two K with D = budget/(tiles·K) ≥ K.
  if (hw.has("dpu_width") && hw.at("dpu_width").is_scalar() &&
      hw.at("dpu_width").scalar() == "auto") {
    hw.get<std::string>("dpu_width");
    p.dpu_width = 1;
    while (valid_width(p, p.dpu_width * 2) &&
           p.dpu_width * 2 <= p.mac_budget / (p.tiles * p.dpu_width * 2))
      p.dpu_width *= 2;
  } else {
    p.dpu_width = hw.get_int_range("dpu_width", 1, 4096);
  }
  p.reconfigurable = hw.get<bool>("reconfigurable", true);
  if (!valid_width(p, p.dpu_width))
    hw.fail("dpu_width",
            "mac_budget / (tiles * dpu_width) must be a positive multiple of 4 "
            "(DPUs per tile; the 4 gates of an element share a row block)");
  // The widths the reconfigurable datapath supports; those that cannot split this MAC
  // budget into whole row blocks are not candidates for it.
  if (hw.has("dpu_width_options")) {
    for (const auto& item : hw.items("dpu_width_options")) {
      const int64_t k = item.as_int_range(1, 4096);
      if (valid_width(p, k)) p.dpu_width_options.push_back(k);
    }
  }
  if (p.dpu_width_options.empty()) p.dpu_width_options.push_back(p.dpu_width);
  p.schedule = parse_schedule(
      hw.get_choice("schedule", {"sequential", "inter_gate", "unfolded", "sharp"}, "sharp"));
  p.runahead_steps = hw.get_int_range("runahead_steps", 1, 1000000, 1);

  Config sram = hw.child("weight_sram");
  p.weight_sram_kib = sram.get_number_range("kib_per_tile", 0.001, 1048576);
  p.weight_sram_bank_bytes = sram.get_int_range("bank_bytes", 1, 4096);
  p.weight_sram_macro_kib = sram.get_number_range("macro_kib", 0.001, 1048576, 32);
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
      sram.get_int_range("banks", 1, 1 << 20, std::min(wanted, p.weight_sram_macros));
  if (p.weight_sram_banks > p.weight_sram_macros)
    sram.fail("banks",
              std::to_string(p.weight_sram_banks) + " banks of " +
                  fmt_number(p.weight_sram_macro_kib) + " KiB macros need " +
                  fmt_number(static_cast<double>(p.weight_sram_banks) * p.weight_sram_macro_kib) +
                  " KiB, more than kib_per_tile " + fmt_number(p.weight_sram_kib) + " (at most " +
                  std::to_string(p.weight_sram_macros) + " banks; smaller macros give more)");
  Config mfu = hw.child("mfu");
  p.mfu_lanes = mfu.get_int_range("lanes", 1, 65536);
  p.mfu_latency = mfu.get_int_range("latency_cycles", 1, 1024);
  Config off = hw.child("offchip");
  p.offchip_bytes_per_cycle = off.get_number_range("read_gbps", 0.001, 100000) / p.clock_ghz;
  p.offchip_latency_cycles = static_cast<uint64_t>(
      std::llround(off.get_number_range("latency_ns", 0, 1e6, 0) * p.clock_ghz));
  // `memory:` (a memory model's hardware file, or `link`) binds the simulated memory.
  p.offchip_memory = sim::names_memory(hw);
  // The port's keys (sim/system/offchip.h: write_gbps, request_bytes, max_outstanding)
  // mean nothing to the link model but are accepted, so that one file can switch `memory`
  // between `link` and a device (a sweep axis).
  if (!p.offchip_memory) {
    off.get_number_range("write_gbps", 0.001, 100000, 1);
    sim::read_port_params(off);
  }
  // Staging for streamed weights, used only with a memory: half for the W·x stream, half
  // for U·h; each half must hold one pass (D·K int16 = MACs per tile × 2 bytes). Default
  // 64 KiB (two 32 KiB macros, double buffering), or four passes if those are larger.
  const int64_t pass_bytes = p.mac_budget / p.tiles * 2;
  const double buffer_kib =
      sram.get_number_range("stream_buffer_kib", 0.001, 1048576,
                            std::max(64.0, 4.0 * static_cast<double>(pass_bytes) / 1024));
  p.stream_buffer_bytes = static_cast<int64_t>(buffer_kib * 1024);
  if (p.offchip_memory && p.stream_buffer_bytes / 2 < pass_bytes)
    sram.fail("stream_buffer_kib", "half of it (one stream) must hold one DPU pass of weights (" +
                                       std::to_string(pass_bytes) + " bytes = MACs per tile x 2)");
  p.tile_major_layout =
      hw.get_choice("weight_layout", {"interleaved", "tile_major"}, "interleaved") == "tile_major";
  if (p.offchip_memory) {
    const MemoryTerm term = read_memory_term(hw);
    // A memory that is not one DRAM device (tiers, NVM): the reconfiguration rule keeps
    // pricing streamed weights with the link figures; the twin refuses it.
    if (term.dram) {
      p.memory_bytes_per_cycle = term.sustained_gbps / p.clock_ghz;
      p.memory_latency_cycles =
          static_cast<uint64_t>(std::llround(std::ceil(term.latency_ns * p.clock_ghz)));
    }
  }
  if (hw.has("gpu_reference")) p.gpu_reference = hw.get_path("gpu_reference");
  if (hw.has("rtl")) {
    Config rtl = hw.child("rtl");
    p.rtl_dpu = rtl.get<bool>("dpu", false);
#ifndef TESSEL_LSTM_SHARP_RTL
    if (p.rtl_dpu) rtl.fail("dpu", "this build has no Verilator or no SystemC (TESSEL_RTL=OFF)");
#endif
    if (p.rtl_dpu && (p.reconfigurable || p.dpu_width != kRtlDpuWidth))
      rtl.fail("dpu", "the Verilated DPU has K = " + std::to_string(kRtlDpuWidth) +
                          ": set dpu_width: " + std::to_string(kRtlDpuWidth) +
                          " and reconfigurable: false");
  }
  return p;
}

LstmWorkload read_lstm_workload(const Config& w) {
  LstmWorkload l;
  w.get_choice("kind", {"lstm"});
  l.name = w.get<std::string>("name", "");
  w.get<std::string>("source", "");
  // 4·H·(X + H) MACs per step × seq_len × layers × 2 directions stays below 2^62.
  l.input_size = w.get_int_range("input_size", 1, 65536);
  l.hidden_size = w.get_int_range("hidden_size", 1, 65536);
  l.layers = w.get_int_range("layers", 1, 64);
  l.seq_len = w.get_int_range("seq_len", 1, 1000000);
  if (w.get_positive_int("batch", 1) != 1)
    w.fail("batch", "LSTM-Sharp models batch-1 inference; use batch: 1");
  l.bidirectional = w.get<bool>("bidirectional", false);
  l.functional = w.get<bool>("functional", false);
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
