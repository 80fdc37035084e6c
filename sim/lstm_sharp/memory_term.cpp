// Reading a DRAM device file into the twin's bandwidth and latency terms.
#include "sim/lstm_sharp/memory_term.h"

namespace tessel::lstm_sharp {

MemoryTerm read_memory_term(const Config& hw) {
  return sim::read_dram_stream_term(hw);
}

}  // namespace tessel::lstm_sharp
