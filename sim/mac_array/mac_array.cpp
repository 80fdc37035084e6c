// Wiring of the MAC-array blocks.
#include "sim/mac_array/mac_array.h"

namespace tessel::mac_array {

MacArray::MacArray(sc_core::sc_module_name name, const MacArrayParams& params,
                   const std::vector<Chunk>& chunks, int64_t tiles, const linalg::MatrixI8* a,
                   const linalg::MatrixI8* b, linalg::MatrixI32* c, Counters& counters,
                   TraceWriter* trace)
    : sc_module(name),
      clock_(params.clock_ghz),
      read_link_(clock_, params.read_bytes_per_cycle, params.latency_cycles),
      write_link_(clock_, params.write_bytes_per_cycle, params.latency_cycles),
      loaded_("loaded", 2),
      free_buffers_("free_buffers", 2),
      results_("results", 2),
      free_outputs_("free_outputs", 2),
      loader("loader", chunks, params, read_link_, clock_, counters, trace),
      pe_array("pe_array", params, clock_, a, b, counters, trace),
      storer("storer", tiles, write_link_, clock_, c, counters, trace) {
  loader.free_buffers(free_buffers_);
  loader.loaded(loaded_);
  pe_array.loaded(loaded_);
  pe_array.free_buffers(free_buffers_);
  pe_array.free_outputs(free_outputs_);
  pe_array.results(results_);
  storer.results(results_);
  storer.free_outputs(free_outputs_);
}

}  // namespace tessel::mac_array
