// Capacity checker over a simulated timeline of fast-memory holds.
#include "sim/sentinel/capacity_check.h"

#include <algorithm>

namespace tessel::sentinel {

CapacityReport check_capacity(const std::vector<TimedHold>& holds, int64_t capacity) {
  CapacityReport r;
  struct Ev {
    int64_t t;
    int64_t delta;
  };
  std::vector<Ev> ev;
  ev.reserve(2 * holds.size());
  for (const TimedHold& h : holds) {
    if (h.end_ps < h.start_ps && r.ok) {
      r.ok = false;
      r.violation_ps = h.start_ps;
      r.violation_bytes = h.bytes;
    }
    ev.push_back({h.start_ps, h.bytes});
    ev.push_back({h.end_ps, -h.bytes});
  }
  std::sort(ev.begin(), ev.end(),
            [](const Ev& a, const Ev& b) { return a.t != b.t ? a.t < b.t : a.delta < b.delta; });
  int64_t now = 0;
  for (const Ev& e : ev) {
    now += e.delta;
    r.peak_bytes = std::max(r.peak_bytes, now);
    if (now > capacity && r.ok) {
      r.ok = false;
      r.violation_ps = e.t;
      r.violation_bytes = now;
    }
  }
  return r;
}

}  // namespace tessel::sentinel
