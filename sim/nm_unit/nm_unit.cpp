// Wiring of the N:M unit's blocks.
#include "sim/nm_unit/nm_unit.h"

namespace tessel::nm_unit {

// FIFO depths match the buffer slots and the two output slots: at most `buffer_slots`
// steps are between loader and array, so no FIFO write ever blocks (the analytical twin
// relies on that).
NmUnit::NmUnit(sc_core::sc_module_name name, const NmUnitParams& params,
               const NmUnitWorkload& workload, const Mapping& map, const Layout& layout,
               const std::vector<Step>& steps, int64_t tiles, sim::OffchipPort& read_port,
               sim::OffchipPort& write_port, const Operands* ops, sparse::MatrixI32* y32,
               sparse::MatrixF* yf, Counters& counters, TraceWriter* trace)
    : sc_module(name),
      clock_(params.clock_ghz),
      loaded_("loaded", static_cast<int>(params.buffer_slots)),
      decoded_("decoded", static_cast<int>(params.buffer_slots)),
      free_buffers_("free_buffers", static_cast<int>(params.buffer_slots)),
      results_("results", 2),
      free_outputs_("free_outputs", 2),
      loader("loader", steps, params, workload, map, layout, read_port, clock_, counters, trace),
      decoder("metadata_decoder", params, map, read_port, clock_, ops, counters, trace),
      pe_array("pe_array", params, map, clock_, ops, counters, trace),
      storer("storer", tiles, params, workload, layout, write_port, clock_, y32, yf, counters,
             trace) {
  loader.free_buffers(free_buffers_);
  loader.loaded(loaded_);
  decoder.loaded(loaded_);
  decoder.decoded(decoded_);
  pe_array.decoded(decoded_);
  pe_array.free_buffers(free_buffers_);
  pe_array.free_outputs(free_outputs_);
  pe_array.results(results_);
  storer.results(results_);
  storer.free_outputs(free_outputs_);
}

}  // namespace tessel::nm_unit
