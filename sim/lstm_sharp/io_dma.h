// Input/output DMA (memory runs only): reads the network's input sequence x and writes the
// last layer's outputs h through the off-chip port, at the addresses of the run's layout
// (sim/lstm_sharp/weight_layout.h). The link model charges this traffic energy but no
// time; here it takes its share of the memory, but x is assumed prefetched (the whole
// sequence is requested at the start and never gates W·x), and h(t) is written as soon as
// it is ready (posted writes; the run ends when the last has reached the memory).
#pragma once

#include <systemc>

#include <cstdint>

#include "sim/core/offchip_port.h"
#include "sim/core/sc_runtime.h"
#include "sim/lstm_sharp/dispatcher.h"
#include "sim/lstm_sharp/weight_layout.h"

namespace tessel::lstm_sharp {

SC_MODULE(IoDma) {
  SC_HAS_PROCESS(IoDma);
  IoDma(sc_core::sc_module_name name, const Dispatcher& dispatcher, const WeightLayout& layout,
        sim::OffchipPort& read_port, sim::OffchipPort& write_port, const sim::Clock& clock);
  // Cycle at which the last output write completed; -1 before.
  int64_t done_cycle() const {
    return done_cycle_;
  }

 private:
  void run();
  const Dispatcher& dispatcher_;
  const WeightLayout& layout_;
  sim::OffchipPort &read_port_, &write_port_;
  const sim::Clock& clock_;
  int64_t done_cycle_ = -1;
};

}  // namespace tessel::lstm_sharp
