// Wiring of the MAC-array blocks.
#include "sim/mac_array/mac_array.h"

namespace tessel::mac_array {

MacArray::MacArray(sc_core::sc_module_name name, const MacArrayParams& params,
                   const GemmWorkload& workload, const Layout& layout,
                   const std::vector<Chunk>& chunks, int64_t tiles, const sim::Clock& clock,
                   sim::OffchipPort& read_port, sim::OffchipPort& write_port,
                   const linalg::MatrixI8* a, const linalg::MatrixI8* b, linalg::MatrixI32* c,
                   Counters& counters, TraceWriter* trace)
    : sc_module(name),
      loaded_("loaded", 2),
      free_buffers_("free_buffers", 2),
      results_("results", 2),
      free_outputs_("free_outputs", 2),
      loader("loader", chunks, params, workload, layout, read_port, clock, counters, trace),
      pe_array("pe_array", params, clock, read_port, a, b, counters, trace),
      storer("storer", tiles, workload, layout, write_port, clock, c, counters, trace) {
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
