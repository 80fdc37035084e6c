// YAML → LSTM-Sharp parameters, with the consistency checks a designer would make.
#include "sim/lstm_sharp/lstm_sharp_params.h"

#include <cmath>

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

}  // namespace

MachineParams read_machine(const Config& hw) {
  MachineParams p;
  p.clock_ghz = hw.get_positive("clock_ghz");
  p.mac_budget = hw.get_positive_int("mac_budget");
  p.tiles = hw.get_positive_int("tiles");
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
    p.dpu_width = hw.get_positive_int("dpu_width");
  }
  p.reconfigurable = hw.get<bool>("reconfigurable", true);
  if (!valid_width(p, p.dpu_width))
    hw.fail("dpu_width",
            "mac_budget / (tiles * dpu_width) must be a positive multiple of 4 "
            "(DPUs per tile; the 4 gates of an element share a row block)");
  // The widths the reconfigurable datapath supports; those that cannot split this MAC
  // budget into whole row blocks are not candidates for it.
  if (hw.has("dpu_width_options")) {
    for (const auto& k : hw.items("dpu_width_options"))
      if (valid_width(p, k.as<int64_t>())) p.dpu_width_options.push_back(k.as<int64_t>());
  }
  if (p.dpu_width_options.empty()) p.dpu_width_options.push_back(p.dpu_width);
  p.schedule = parse_schedule(
      hw.get_choice("schedule", {"sequential", "inter_gate", "unfolded", "sharp"}, "sharp"));
  p.runahead_steps = hw.get_positive_int("runahead_steps", 1);

  Config sram = hw.child("weight_sram");
  p.weight_sram_kib = sram.get_positive("kib_per_tile");
  p.weight_sram_bank_bytes = sram.get_positive_int("bank_bytes");
  p.weight_sram_macro_kib = sram.get_positive("macro_kib", 32);
  // Default: as many banks as it takes to feed every DPU lane each cycle at the widest
  // shape, i.e. the SRAM never throttles the datapath.
  const int64_t lane_bytes = p.mac_budget / p.tiles * 2;
  p.weight_sram_banks = sram.get_positive_int(
      "banks", (lane_bytes + p.weight_sram_bank_bytes - 1) / p.weight_sram_bank_bytes);
  Config mfu = hw.child("mfu");
  p.mfu_lanes = mfu.get_positive_int("lanes");
  p.mfu_latency = mfu.get_positive_int("latency_cycles");
  Config off = hw.child("offchip");
  p.offchip_bytes_per_cycle = off.get_positive("read_gbps") / p.clock_ghz;
  p.offchip_latency_cycles =
      static_cast<uint64_t>(std::llround(off.get_non_negative("latency_ns", 0) * p.clock_ghz));
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
  l.input_size = w.get_positive_int("input_size");
  l.hidden_size = w.get_positive_int("hidden_size");
  l.layers = w.get_positive_int("layers");
  l.seq_len = w.get_positive_int("seq_len");
  if (w.get_positive_int("batch", 1) != 1)
    w.fail("batch", "LSTM-Sharp models batch-1 inference; use batch: 1");
  l.bidirectional = w.get<bool>("bidirectional", false);
  l.functional = w.get<bool>("functional", false);
  return l;
}

}  // namespace tessel::lstm_sharp
