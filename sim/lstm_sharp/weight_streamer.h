// A tile's weight stream engine (memory runs only): a DMA that walks one of the tile's two
// streams (W·x or U·h weights of its streamed blocks, sim/lstm_sharp/weight_layout.h) in
// the order the tile consumes them, pass after pass and step after step, and keeps as
// many chunks in flight or buffered as its half of the tile's stream buffer holds.
#pragma once

#include <systemc>

#include <cstdint>
#include <deque>
#include <vector>

#include "sim/core/offchip_port.h"
#include "sim/core/sc_runtime.h"
#include "sim/lstm_sharp/weight_layout.h"

namespace tessel::lstm_sharp {

SC_MODULE(WeightStreamer) {
  SC_HAS_PROCESS(WeightStreamer);
  // `chunks[p]`: the stream's chunks of one step of pass p; each is read `seq_len` times.
  WeightStreamer(sc_core::sc_module_name name, std::vector<std::vector<Chunk>> chunks,
                 int64_t seq_len, uint64_t buffer_bytes, sim::OffchipPort & port,
                 const sim::Clock& clock);

  // The tile takes the next chunk: returns once it has arrived (on a cycle edge), having
  // added the cycles it waited to `*waited`.
  void acquire(uint64_t * waited);
  // The tile's pass over the chunk is done: its buffer space is free.
  void release();

 private:
  void run();
  struct Slot {
    sim::OffchipPort::Ticket ticket = 0;
    uint64_t bytes = 0;
  };
  std::vector<std::vector<Chunk>> chunks_;
  int64_t seq_len_;
  uint64_t buffer_bytes_, held_ = 0;  // bytes requested and not yet released
  sim::OffchipPort& port_;
  const sim::Clock& clock_;
  std::deque<Slot> slots_;  // issued, in order
  sc_core::sc_event issued_, freed_;
};

}  // namespace tessel::lstm_sharp
