// SystemC set-up shared by every cycle-level model: quiet start, clock helpers.
#pragma once

#include <systemc>

#include <cmath>
#include <cstdint>

namespace tessel::sim {

// Call before the first SystemC object is built: silences the banner (stdout must stay
// clean for --json) and turns SystemC warnings into errors a test can see.
void prepare_systemc();

// A clock period expressed as simulation time, and conversions in both directions.
class Clock {
 public:
  explicit Clock(double ghz) : ghz_(ghz), period_(1.0 / ghz, sc_core::SC_NS) {}
  double ghz() const { return ghz_; }
  const sc_core::sc_time& period() const { return period_; }
  sc_core::sc_time cycles(uint64_t n) const { return period_ * static_cast<double>(n); }
  // Whole cycles elapsed at simulation time t (rounded to the nearest cycle edge).
  uint64_t to_cycles(const sc_core::sc_time& t) const {
    return static_cast<uint64_t>(std::llround(t / period_));
  }
  uint64_t now_cycles() const { return to_cycles(sc_core::sc_time_stamp()); }
  double now_ns() const { return sc_core::sc_time_stamp().to_seconds() * 1e9; }

 private:
  double ghz_;
  sc_core::sc_time period_;
};

}  // namespace tessel::sim
