// Parameters, workload and GEMM schedule of the N:M sparse tensor unit (shared by SystemC and
// twin).
//
// The unit computes Y = W X (W: m x k weights, N:M-sparse along k; X: k x n activations,
// one column per token) on an output-stationary array of `rows` x `cols` sparse
// dot-product PEs: PE (r, c) owns output Y[row0 + r][tok0 + c]. Every cycle each PE row
// receives `lanes` compressed weights with their indices from the weight buffer (the
// metadata decoders turn the indices into mux selects), every PE column receives a window
// of up to `window` consecutive activations of its token from the activation buffer, and
// each lane's multiplexer (fan-in `mux_fanin`) picks the activation its weight belongs to.
//
// Throughput per cycle, in dense K positions:
//   dense mode:  lanes (one weight per lane, mux bypassed)
//   sparse N:M:  groups_per_cycle * M, groups_per_cycle = min(lanes / N, window / M)
// so the speedup over dense is (groups_per_cycle * M) / lanes: M/N when the window is wide
// enough, less when the window (activation-buffer read width) or lane packing limits it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/sparse/nm_pattern.h"
#include "runtime/core/config.h"
#include "runtime/core/keys.h"

namespace tessel::nm_unit {

enum class DType { kInt8, kFp16 };

struct NmUnitParams {
  double clock_ghz = 1.0;
  int64_t rows = 32;           // PE rows: weight rows (output features) at once
  int64_t cols = 32;           // PE columns: tokens at once
  int64_t lanes = 8;           // MAC lanes per PE: compressed weights consumed per PE per cycle
  int64_t window = 16;         // activations per PE column per cycle (dense K positions)
  int64_t mux_fanin = 8;       // inputs of each lane's activation multiplexer
  int64_t pipeline_depth = 3;  // MAC pipeline stages, drained at the end of a tile
  int64_t decode_latency = 1;  // metadata decoder stage in front of the array (sparse mode)
  std::vector<sparse::Pattern> patterns;  // N:M patterns the decoders support
  bool dense_mode = false;                // run the array dense (decoders and muxes bypassed)
  DType dtype = DType::kInt8;
  int64_t weight_buffer_bytes = 0;  // split into `buffer_slots` equal slots
  int64_t act_buffer_bytes = 0;     // split into `buffer_slots` equal slots
  int64_t buffer_slots = 2;      // chunks in flight between loader and array (2 = double buffering)
  int64_t out_buffer_bytes = 0;  // output tiles waiting for the storer
  double read_bytes_per_cycle = 0;
  double write_bytes_per_cycle = 0;
  uint64_t latency_cycles = 0;
  bool offchip_memory = false;  // `offchip.memory:` binds a memory model instead of the link
  // The twin's memory term (set by nm_unit_analytical when `memory:` is a DRAM device;
  // sim/core/dram_stream_term.h): the sustained bytes per cycle of the one data bus that
  // reads and writes share, and the unloaded read latency. 0: the link figures above.
  double memory_bytes_per_cycle = 0;
  uint64_t memory_latency_cycles = 0;
  // Process node of the run's energy table (hw.energy.node_nm, else the table's node): the
  // node the area proxy is priced at (EnergyTable::for_run; set by both models' configure).
  double node_nm = 0;
  // Energy-table action names, chosen from the buffer sizes and dtype.
  std::string weight_sram, act_sram, out_sram, mac_action, mux_action;

  int64_t elem_bytes() const { return dtype == DType::kInt8 ? 1 : 2; }
};

struct NmUnitWorkload {
  int64_t m = 0, n = 0, k = 0;
  bool dense = false;       // "pattern: dense": unpruned weights
  sparse::Pattern pattern;  // when !dense
  std::string mask_path;    // optional mask file: its shape must be m x k, its pattern `pattern`
  bool functional = true;
  // Optional real operands (.npy, checked by read_workload): weights m x k, N:M along k
  // (or pruned by the mask), activations k x n. Absent: seeded random int8 as before.
  std::string weights_path, activations_path;
  std::shared_ptr<const sparse::MatrixF> weights, activations;
  bool weights_int8 = false, activations_int8 = false;  // int8 files: used as they are
};

// How the array executes one workload: the effective pattern and per-cycle rates.
struct Mapping {
  bool sparse = false;          // false: dense mode (weights as dense K positions)
  int n = 1, m = 1;             // pattern used (1:1 in dense mode)
  int64_t k_per_cycle = 0;      // dense K positions a PE advances per cycle
  int64_t k_chunk = 0;          // dense K positions per buffered chunk (multiple of m)
  bool weights_outer = true;    // loop order: row blocks outside token tiles
  bool outer_resident = false;  // the outer operand stays in its buffer across inner tiles
  int64_t index_bits = 0;       // metadata bits per stored weight (0 in dense mode)
};

// One K-chunk of one output tile: what the loader fetches and the array consumes.
struct Step {
  int64_t tile = 0;
  int64_t row0 = 0, rows = 0, tok0 = 0, toks = 0, k0 = 0, kt = 0;
  bool load_weights = true;  // false when the weights are resident from an earlier tile
  bool load_acts = true;
  bool last = false;    // last chunk of its tile: outputs leave the array after it
  uint64_t ticket = 0;  // set by the loader: its off-chip transfer (sim/core/offchip_port.h)
};

// Where the operands live off chip, as the loader and storer address them. Four regions
// from address 0, each aligned to 4 KiB: compressed weight values, metadata, activations,
// outputs. Each is stored tile-major, as a compiler lays operands out for a streaming DMA
// engine: what one step fetches (a row block's K chunk of values, of metadata; a token
// tile's K chunk of activations) and what one tile stores is one contiguous range.
//   values   row block rb, chunk at k0: rb·rows·row_value_bytes + rows·kept(k0)·elem
//   metadata row block rb, chunk c:     rb·rows·row_meta_bytes  + rows·c·chunk_meta_bytes
//   acts     token tile at tok0, k0:    tok0·k·elem + toks·k0·elem
//   outputs  tile (row0, tok0):         row0·n·4 + rows·tok0·4
struct Layout {
  uint64_t weights = 0, metadata = 0, acts = 0, outputs = 0, end = 0;
  uint64_t row_value_bytes = 0, row_meta_bytes = 0, chunk_meta_bytes = 0;
};

// The keys of nm_unit and nm_unit_analytical (one declaration for both).
const ModelKeys& model_keys();
NmUnitParams read_params(const Config& hw);
NmUnitWorkload read_workload(const Config& workload);
// Area proxy of the unit at p.node_nm, mm² (sim/core/area_proxy.h; docs/nm_unit.md "Area"):
// what it is built of, without wiring, control, accumulator and pipeline registers.
struct Area {
  double macs = 0;      // rows × cols × lanes MACs at the operand width
  double sram = 0;      // weight, activation and output buffers (all slots)
  double nm_logic = 0;  // lane muxes (mux_fanin − 1 2:1 muxes of the operand width each)
                        // and metadata decoders (rows × lanes, mux_fanin outputs each)
  double total() const { return macs + sram + nm_logic; }
};
Area area(const NmUnitParams& p);

// Checks the workload against the unit (pattern supported, mux fan-in, buffers, fp16 range of
// real operands) and
// chooses the tiling. Throws ConfigError located at the offending key of `hw` / `workload`
// when the configs are at hand (nullptr: plain message).
Mapping map_workload(const NmUnitParams& p, const NmUnitWorkload& w, const Config* hw = nullptr,
                     const Config* workload = nullptr);
std::vector<Step> schedule(const NmUnitParams& p, const NmUnitWorkload& w, const Mapping& map);

// Fails at the workload's largest dimension when the schedule or (functional) the operands
// would not fit in memory, or (simulated: the SystemC model) when the GEMM needs more cycles
// than simulated_cycle_limit() (runtime/core/limits.h).
void check_size(const Config& workload, const NmUnitParams& p, const NmUnitWorkload& w,
                const Mapping& map, bool simulated);

// Per-step quantities both models use (bytes are DRAM/SRAM bytes, cycles are array cycles).
int64_t kept_per_row(const Mapping& map, int64_t kt);  // stored weights of a row in kt
int64_t weight_value_bytes(const NmUnitParams& p, const Mapping& map, const Step& s);
int64_t metadata_bytes(const Mapping& map, const Step& s);  // packed indices, whole bytes per row
int64_t act_bytes(const NmUnitParams& p, const Step& s);
int64_t load_bytes(const NmUnitParams& p, const Mapping& map, const Step& s);
int64_t store_bytes(const Step& s);  // 4-byte int32 / fp32 outputs
uint64_t compute_cycles(const NmUnitParams& p, const Mapping& map, const Step& s);

Layout make_layout(const NmUnitParams& p, const NmUnitWorkload& w, const Mapping& map);
// The ranges a step reads (values, metadata, activations; those it loads) and the range a
// finished tile writes.
struct AddressRange {
  uint64_t address = 0, bytes = 0;
};
std::vector<AddressRange> load_ranges(const NmUnitParams& p, const NmUnitWorkload& w,
                                      const Mapping& map, const Layout& l, const Step& s);
AddressRange store_range(const NmUnitWorkload& w, const Layout& l, const Step& s);

}  // namespace tessel::nm_unit
