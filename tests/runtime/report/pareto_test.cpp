// Pareto fronts (two and three objectives): dominance, ordering and the documented tie rules.
#include "runtime/report/pareto.h"

#include <cmath>
#include <random>
#include <set>

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

using Triples = std::vector<std::array<double, 3>>;

TEST(ReportParetoFront3, APointBeatenOnTwoObjectivesStaysWhenItWinsTheThird) {
  // (2,2,9) loses to (1,1,1) on every objective; (3,3,0.5) loses on latency and energy but
  // has the smallest area, so it stays; (1,1,1) and its duplicate both stay.
  Triples p{{2, 2, 9}, {1, 1, 1}, {3, 3, 0.5}, {1, 1, 1}, {1, 2, 1}};
  EXPECT_EQ(pareto_front3(p), (Indices{1, 3, 2}));
}

TEST(ReportParetoFront3, MatchesBruteForceOnRandomTriples) {
  // Independent check: a point is on the front iff no other point is <= on all three and
  // < on one, counted here by brute force over a small grid (many ties) of random points.
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> coord(0, 4);
  for (int trial = 0; trial < 50; ++trial) {
    Triples p(20);
    for (auto& t : p) t = {double(coord(rng)), double(coord(rng)), double(coord(rng))};
    std::set<size_t> expected;
    for (size_t i = 0; i < p.size(); ++i) {
      bool beaten = false;
      for (size_t j = 0; j < p.size(); ++j) {
        int le = 0, lt = 0;
        for (int d = 0; d < 3; ++d) {
          le += p[j][d] <= p[i][d];
          lt += p[j][d] < p[i][d];
        }
        beaten |= le == 3 && lt > 0;
      }
      if (!beaten) expected.insert(i);
    }
    const Indices front = pareto_front3(p);
    EXPECT_EQ(std::set<size_t>(front.begin(), front.end()), expected) << trial;
    for (size_t k = 1; k < front.size(); ++k) EXPECT_LE(p[front[k - 1]][0], p[front[k]][0]);
  }
}

TEST(ReportParetoFront3, NanIsNeverOnTheFront) {
  EXPECT_EQ(pareto_front3({{NAN, 0, 0}, {2, 2, 2}, {0, 0, NAN}}), Indices{1});
}

}  // namespace
}  // namespace tessel::report
