// Pareto front: dominance, ordering and the documented tie rules.
#include "runtime/report/pareto.h"

#include <cmath>

#include <gtest/gtest.h>

namespace tessel::report {
namespace {

using Points = std::vector<std::pair<double, double>>;
using Indices = std::vector<size_t>;

TEST(ReportParetoFront, EmptyAndSingle) {
  EXPECT_EQ(pareto_front({}), Indices{});
  EXPECT_EQ(pareto_front({{3, 4}}), Indices{0});
}

TEST(ReportParetoFront, DominatedPointsDropAndFrontIsOrderedByLatency) {
  // (5,5) is beaten by (4,2); (6,1) and (1,9) are extremes; (3,3) sits between.
  Points p{{5, 5}, {6, 1}, {1, 9}, {4, 2}, {3, 3}, {7, 7}};
  EXPECT_EQ(pareto_front(p), (Indices{2, 4, 3, 1}));
}

TEST(ReportParetoFront, EqualInOneCoordinateWorseInOtherIsDominated) {
  // Same latency, more energy: dominated. Same energy, more latency: dominated.
  EXPECT_EQ(pareto_front({{2, 5}, {2, 3}}), Indices{1});
  EXPECT_EQ(pareto_front({{4, 3}, {2, 3}}), Indices{1});
}

TEST(ReportParetoFront, ExactDuplicatesAreAllKept) {
  Points p{{2, 3}, {1, 5}, {2, 3}, {3, 3}};
  EXPECT_EQ(pareto_front(p), (Indices{1, 0, 2}));
}

TEST(ReportParetoFront, NanIsNeverOnTheFront) {
  Points p{{NAN, 1}, {2, 2}, {1, NAN}};
  EXPECT_EQ(pareto_front(p), Indices{1});
}

}  // namespace
}  // namespace tessel::report
