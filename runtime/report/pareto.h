// Pareto front of (latency, energy) pairs: the points no other point beats on both.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace tessel::report {

// Returns the indices of the non-dominated points, ordered by increasing first
// coordinate (then second, then index), so consecutive entries can be joined by a line.
// Lower is better in both coordinates. A point dominates another when it is no worse in
// both and strictly better in at least one. Ties: exact duplicates do not dominate each
// other, so every copy of a front point is on the front; a point equal in one coordinate
// and worse in the other is dominated. Pairs with a NaN coordinate are never on the front.
std::vector<size_t> pareto_front(const std::vector<std::pair<double, double>>& points);

}  // namespace tessel::report
