// Weight stream engine: prefetch bounded by the stream buffer, in-order consumption.
#include "sim/lstm_sharp/weight_streamer.h"

#include <cmath>
#include <utility>

namespace tessel::lstm_sharp {

WeightStreamer::WeightStreamer(sc_core::sc_module_name name, std::vector<std::vector<Chunk>> chunks,
                               int64_t seq_len, uint64_t buffer_bytes, sim::OffchipPort& port,
                               const sim::Clock& clock)
    : sc_module(name),
      chunks_(std::move(chunks)),
      seq_len_(seq_len),
      buffer_bytes_(buffer_bytes),
      port_(port),
      clock_(clock) {
  SC_THREAD(run);
}

void WeightStreamer::run() {
  for (const auto& step : chunks_) {
    if (step.empty()) continue;
    for (int64_t t = 0; t < seq_len_; ++t) {
      for (const Chunk& c : step) {
        // The buffer holds what is in flight and what the tile has not consumed yet.
        while (held_ + c.bytes > buffer_bytes_) sc_core::wait(freed_);
        held_ += c.bytes;
        slots_.push_back(Slot{port_.read(c.address, c.bytes), c.bytes});
        issued_.notify(sc_core::SC_ZERO_TIME);
      }
    }
  }
}

void WeightStreamer::acquire(uint64_t* waited) {
  const sc_core::sc_time from = sc_core::sc_time_stamp();
  while (slots_.empty()) sc_core::wait(issued_);
  port_.wait_done(slots_.front().ticket);
  // Arrivals fall between clock edges; the DPUs take the data at the next edge.
  const double edges = std::ceil(sc_core::sc_time_stamp() / clock_.period() - 1e-9);
  const sc_core::sc_time edge = clock_.period() * edges;
  if (edge > sc_core::sc_time_stamp()) sc_core::wait(edge - sc_core::sc_time_stamp());
  *waited += clock_.to_cycles(sc_core::sc_time_stamp() - from);
}

void WeightStreamer::release() {
  held_ -= slots_.front().bytes;
  slots_.pop_front();
  freed_.notify(sc_core::SC_ZERO_TIME);
}

}  // namespace tessel::lstm_sharp
