// Pareto fronts of (latency, energy) pairs and (latency, energy, area) triples: the points no
// other point beats on every objective.
#pragma once

#include <array>
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

// The same for three objectives (latency, energy, area): the points no other point beats on
// all three, with the same tie rules, ordered by the first coordinate (then the others, then
// index). Pairwise, O(n²): sweeps have thousands of points at most.
std::vector<size_t> pareto_front3(const std::vector<std::array<double, 3>>& points);

}  // namespace tessel::report
