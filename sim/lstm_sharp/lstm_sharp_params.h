// Parameters of the LSTM-Sharp accelerator and its LSTM workload, read from YAML.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/core/config.h"
#include "runtime/core/keys.h"

namespace tessel::lstm_sharp {

// How the gate rows are ordered, dispatched and synchronised (docs/lstm_sharp.md).
enum class Schedule {
  kSequential,  // gate-major rows, a barrier after every gate and every step
  kInterGate,   // the 4 gates of an element in one row block, a barrier per step
  kUnfolded,    // inter-gate + W·x of later steps fills the barrier stalls
  kSharp,       // unfolded + per-slice dependence on h(t-1) instead of a barrier
};
Schedule parse_schedule(const std::string& name);

struct MachineParams {
  double clock_ghz = 0.5;
  int64_t mac_budget = 0;  // tiles × dpus_per_tile × dpu_width
  int64_t tiles = 0;
  int64_t dpu_width = 0;  // K of the fixed shape (reconfigurable: the first choice)
  bool reconfigurable = true;
  std::vector<int64_t> dpu_width_options;  // K values the datapath can be set to
  Schedule schedule = Schedule::kSharp;
  int64_t runahead_steps = 1;  // how many later steps' W·x may be computed ahead
  // Cycles the datapath stops when the DPU width changes between consecutive layers
  // (reconfig_cycles; default derived by default_reconfig_cycles).
  int64_t reconfig_cycles = 0;
  // Activation and partial-sum buffers per tile, KiB (0 until size_buffers fills them in:
  // the configured capacity, checked against the workload, or the workload's need).
  double act_buffer_kib = 0;
  double psum_buffer_kib = 0;
  // Weight SRAM per tile.
  double weight_sram_kib = 0;          // capacity per tile
  int64_t weight_sram_banks = 0;       // at most weight_sram_macros
  int64_t weight_sram_macros = 0;      // kib_per_tile / macro_kib: macros the capacity holds
  int64_t weight_sram_bank_bytes = 0;  // bytes one bank delivers per cycle
  double weight_sram_macro_kib = 32;   // SRAM macro size: what one access is charged as
  // Multi-function unit per tile (sigmoid/tanh ROM interpolation, c/h update).
  int64_t mfu_lanes = 0;    // elements per cycle
  int64_t mfu_latency = 0;  // pipeline depth, cycles
  // Off-chip memory (weights that do not fit, layer inputs and outputs).
  double offchip_bytes_per_cycle = 0;
  uint64_t offchip_latency_cycles = 0;
  // `memory:` names a memory model (sim/system/offchip.h): the SystemC tiles fetch their
  // streamed weights through it (sim/lstm_sharp/weight_streamer.h) and the twin prices
  // them with the memory term below (sim/core/dram_stream_term.h).
  bool offchip_memory = false;
  int64_t stream_buffer_bytes = 0;     // per tile, staging for streamed weights (memory only)
  bool tile_major_layout = false;      // weight_layout: tile_major (weight_layout.h)
  double memory_bytes_per_cycle = 0;   // the twin's sustained bandwidth (memory only)
  uint64_t memory_latency_cycles = 0;  // the twin's unloaded read latency (memory only)
  std::string gpu_reference;           // optional: anchor table for the GPU baseline metrics
  // workload.batch, copied in by the models (it sets the pass time, so the plans and the
  // twin read it here): sequences that advance in lock step, each DPU pass serving all of
  // them with one weight read (docs/lstm_sharp.md, "Batch").
  int64_t batch = 1;
  bool rtl_dpu = false;  // rtl: {dpu: true}: the tiles use the Verilated DPU (co-simulation)
};

// Largest workload.batch: a pass then takes 4,096 cycles and every tile keeps 4,096 sets of
// accumulators and activations, far beyond what an accelerator built for batch 1 holds.
inline constexpr int64_t kMaxBatch = 4096;

// K of the Verilated DPU the co-simulation links (rtl/CMakeLists.txt: Vdpu_k8).
inline constexpr int64_t kRtlDpuWidth = 8;

struct LstmWorkload {
  std::string name;
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  int64_t layers = 1;
  int64_t seq_len = 0;
  int64_t batch = 1;  // independent sequences run in lock step (docs/lstm_sharp.md, "Batch")
  bool bidirectional = false;
  bool functional = false;  // compute values in fixed point and check against models/lstm
};

// The hw and workload keys both LSTM-Sharp models read (configs/README.md is generated
// from them).
const ModelKeys& model_keys();
MachineParams read_machine(const Config& hw);
LstmWorkload read_lstm_workload(const Config& workload);

// Default switching cost of the reconfigurable datapath (docs/lstm_sharp.md,
// "Reconfiguration"; an estimate): the dispatcher rewrites the grouping register of every
// DPU of a tile, one a cycle (the tiles in parallel), at most D of the narrowest width; then
// the new grouping travels down the widest adder tree's ceil(log2 K) + 1 pipeline stages.
int64_t default_reconfig_cycles(const MachineParams& m);

}  // namespace tessel::lstm_sharp
