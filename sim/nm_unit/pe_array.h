// PE array: rows x cols sparse dot-product PEs (lanes MACs each) with int32 / fp32 accumulators.
#pragma once

#include <systemc>

#include <cstdint>
#include <vector>

#include "runtime/core/counters.h"
#include "runtime/core/trace_writer.h"
#include "sim/core/sc_runtime.h"
#include "sim/nm_unit/activation_mux.h"
#include "sim/nm_unit/messages.h"
#include "sim/nm_unit/nm_unit_operands.h"

namespace tessel::nm_unit {

SC_MODULE(PeArray) {
  SC_HAS_PROCESS(PeArray);
  sc_core::sc_fifo_in<DecodedStep> decoded;
  sc_core::sc_fifo_out<int> free_buffers;
  sc_core::sc_fifo_in<int> free_outputs;  // a token per free output-buffer slot
  sc_core::sc_fifo_out<OutputTile> results;

  // `ops` is null in timing-only mode.
  PeArray(sc_core::sc_module_name name, const NmUnitParams& params, const Mapping& map,
          const sim::Clock& clock, const Operands* ops, Counters& counters, TraceWriter* trace);

  uint64_t busy_cycles() const {
    return busy_cycles_;
  }

 private:
  void run();
  void compute(const DecodedStep& d);
  const NmUnitParams& params_;
  const Mapping& map_;
  const sim::Clock& clock_;
  const Operands* ops_;
  Counters& counters_;
  TraceWriter* trace_;
  uint64_t busy_cycles_ = 0;
  std::vector<int32_t> acc_i32_;
  std::vector<float> acc_f32_;

 public:
  ActivationMux mux;
};

}  // namespace tessel::nm_unit
