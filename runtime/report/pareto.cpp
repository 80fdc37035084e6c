// Pareto front by one sort and one sweep: O(n log n).
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

}  // namespace tessel::report
