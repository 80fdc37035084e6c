// SystemC process-level set-up.
#include "sim/core/sc_runtime.h"

#include <cstdlib>

namespace tessel::sim {

void prepare_systemc() {
  static bool done = false;
  if (done) return;
  done = true;
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  // A picosecond resolution keeps clocks such as 1.5 GHz exact to the cycle.
  sc_core::sc_set_time_resolution(1, sc_core::SC_PS);
  sc_core::sc_report_handler::set_actions(sc_core::SC_WARNING,
                                          sc_core::SC_DISPLAY | sc_core::SC_THROW);
}

}  // namespace tessel::sim

// libsystemc refers to sc_main; Tessel starts simulations with sc_start() from its own
// main (one simulation per process), so this entry point is never used.
int sc_main(int, char*[]) {
  return 1;
}
