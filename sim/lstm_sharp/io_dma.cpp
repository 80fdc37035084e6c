// Input/output DMA timing.
#include "sim/lstm_sharp/io_dma.h"

#include <cmath>
#include <vector>

namespace tessel::lstm_sharp {

IoDma::IoDma(sc_core::sc_module_name name, const Dispatcher& dispatcher, const WeightLayout& layout,
             sim::OffchipPort& read_port, sim::OffchipPort& write_port, const sim::Clock& clock)
    : sc_module(name),
      dispatcher_(dispatcher),
      layout_(layout),
      read_port_(read_port),
      write_port_(write_port),
      clock_(clock) {
  SC_THREAD(run);
}

void IoDma::run() {
  std::vector<sim::OffchipPort::Ticket> reads, writes;
  const int64_t seq = dispatcher_.seq_len();
  for (int64_t t = 0; t < seq; ++t)
    reads.push_back(
        read_port_.read(layout_.input_base + static_cast<uint64_t>(t) * layout_.input_step_bytes,
                        layout_.input_step_bytes));
  const auto& passes = dispatcher_.passes();
  const int64_t last = passes.back().layer;
  for (size_t p = 0; p < passes.size(); ++p) {
    if (passes[p].layer != last) continue;
    for (int64_t s = 0; s < seq; ++s) {
      for (;;) {
        const int64_t ready = dispatcher_.step_ready(p, s);
        if (ready >= 0) {
          const int64_t now = static_cast<int64_t>(clock_.now_cycles());
          if (ready > now) sc_core::wait(clock_.cycles(static_cast<uint64_t>(ready - now)));
          break;
        }
        sc_core::wait(dispatcher_.changed);
      }
      // The reverse direction's step s is time seq − 1 − s: stored at its time's slot.
      const int64_t t = passes[p].direction ? seq - 1 - s : s;
      const uint64_t slot = static_cast<uint64_t>(t * layout_.directions + passes[p].direction);
      writes.push_back(write_port_.write(layout_.output_base + slot * layout_.output_step_bytes,
                                         layout_.output_step_bytes));
    }
  }
  for (auto t : reads) read_port_.wait_done(t);
  for (auto t : writes) write_port_.wait_done(t);
  done_cycle_ = static_cast<int64_t>(std::ceil(sc_core::sc_time_stamp() / clock_.period() - 1e-9));
}

}  // namespace tessel::lstm_sharp
