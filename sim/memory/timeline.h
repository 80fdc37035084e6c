// Busy intervals of a shared resource (a link direction): reservations take the earliest
// gap that fits, so requests reserved out of time order (responses computed ahead of
// time) still see the resource as a time-ordered server.
#pragma once

#include <algorithm>
#include <iterator>
#include <map>

namespace tessel::memory {

class Timeline {
 public:
  // Reserves `length` at or after `t`; returns the start. Times in any unit (ps here).
  double reserve(double t, double length) {
    auto it = busy_.upper_bound(t);
    if (it != busy_.begin() && std::prev(it)->second > t) --it;
    double s = t;
    for (; it != busy_.end(); ++it) {
      if (it->first >= s + length) break;
      s = std::max(s, it->second);
    }
    insert(s, s + length);
    return s;
  }
  // Forgets intervals that ended before `t` (nothing can be reserved before now).
  void forget_before(double t) {
    while (!busy_.empty() && busy_.begin()->second < t) busy_.erase(busy_.begin());
  }
  size_t intervals() const { return busy_.size(); }

 private:
  void insert(double a, double b) {
    auto next = busy_.lower_bound(a);
    if (next != busy_.begin()) {
      auto prev = std::prev(next);
      if (prev->second >= a) {  // touches the previous interval: extend it
        a = prev->first;
        b = std::max(b, prev->second);
        busy_.erase(prev);
      }
    }
    next = busy_.lower_bound(a);
    while (next != busy_.end() && next->first <= b) {
      b = std::max(b, next->second);
      next = busy_.erase(next);
    }
    busy_[a] = b;
  }
  std::map<double, double> busy_;  // start → end, disjoint
};

}  // namespace tessel::memory
