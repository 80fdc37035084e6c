// Pareto fronts: two objectives by one sort and one sweep (O(n log n)), three pairwise.
#include "runtime/report/pareto.h"

#include <algorithm>
#include <cmath>

namespace tessel::report {

std::vector<size_t> pareto_front(const std::vector<std::pair<double, double>>& points) {
  std::vector<size_t> order;
  for (size_t i = 0; i < points.size(); ++i)
    if (!std::isnan(points[i].first) && !std::isnan(points[i].second)) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (points[a] != points[b]) return points[a] < points[b];
    return a < b;
  });
  // Sorted by x then y, a point is on the front when its y beats every earlier point's,
  // or when it duplicates the last front point exactly.
  std::vector<size_t> front;
  for (size_t i : order) {
    if (front.empty() || points[i].second < points[front.back()].second ||
        points[i] == points[front.back()])
      front.push_back(i);
  }
  return front;
}

std::vector<size_t> pareto_front3(const std::vector<std::array<double, 3>>& points) {
  auto has_nan = [](const std::array<double, 3>& p) {
    return std::isnan(p[0]) || std::isnan(p[1]) || std::isnan(p[2]);
  };
  // a dominates b: no worse on every objective and not equal (so duplicates both stay).
  auto dominates = [](const std::array<double, 3>& a, const std::array<double, 3>& b) {
    return a[0] <= b[0] && a[1] <= b[1] && a[2] <= b[2] && a != b;
  };
  std::vector<size_t> front;
  for (size_t i = 0; i < points.size(); ++i) {
    if (has_nan(points[i])) continue;
    bool beaten = false;
    for (size_t j = 0; j < points.size() && !beaten; ++j)
      beaten = !has_nan(points[j]) && dominates(points[j], points[i]);
    if (!beaten) front.push_back(i);
  }
  std::sort(front.begin(), front.end(), [&](size_t a, size_t b) {
    if (points[a] != points[b]) return points[a] < points[b];
    return a < b;
  });
  return front;
}

}  // namespace tessel::report
