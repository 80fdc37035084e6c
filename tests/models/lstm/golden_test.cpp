// Checks the committed golden vectors against the generator and an independent cell.
#include "models/lstm/golden.h"

#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/models/lstm/reference.h"

namespace tessel::lstm {

// Names the case in test output and ctest names (gtest_discover_tests appends it).
void PrintTo(const GoldenCase& c, std::ostream* os) {
  *os << c.name;
}

namespace {

std::string golden_path(const std::string& name) {
  return std::string(TESSEL_SOURCE_DIR) + "/tests/models/lstm/golden/" + name + ".txt";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Parses "<name> <count> <values>" records; header scalars and "step t" lines are kept as
// one-value records; comment lines are skipped.
std::vector<std::pair<std::string, std::vector<int64_t>>> parse(const std::string& text) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> recs;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string name;
    ls >> name;
    if (name == "case") continue;
    std::vector<int64_t> v;
    int64_t n;
    if (name == "input_size" || name == "hidden_size" || name == "steps" || name == "step") {
      ls >> n;
      v.push_back(n);
    } else {
      ls >> n;
      v.resize(static_cast<std::size_t>(n));
      for (auto& e : v) ls >> e;
      EXPECT_TRUE(ls) << "short record " << name;
    }
    recs.emplace_back(name, v);
  }
  return recs;
}

std::vector<int16_t> i16(const std::vector<int64_t>& v) {
  return {v.begin(), v.end()};
}

class Golden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(Golden, FileMatchesGenerator) {
  const std::string text = slurp(golden_path(GetParam().name));
  ASSERT_FALSE(text.empty()) << golden_path(GetParam().name)
                             << " missing: run tessel_lstm_golden tests/models/lstm/golden";
  EXPECT_TRUE(text == golden_text(GetParam()))
      << golden_path(GetParam().name)
      << " differs from the generator; if fixed.h changed on purpose, rerun tessel_lstm_golden";
}

TEST_P(Golden, EveryStepMatchesIndependentCell) {
  const auto recs = parse(slurp(golden_path(GetParam().name)));
  std::map<std::string, std::vector<int64_t>> head;
  std::size_t k = 0;
  for (; k < recs.size() && recs[k].first != "step"; ++k) head[recs[k].first] = recs[k].second;
  const auto w_ih = i16(head.at("w_ih")), w_hh = i16(head.at("w_hh")), bias = i16(head.at("bias"));
  const int64_t hid = head.at("hidden_size")[0], in = head.at("input_size")[0];
  ASSERT_EQ(static_cast<int64_t>(w_ih.size()), 4 * hid * in);
  ASSERT_EQ(static_cast<int64_t>(w_hh.size()), 4 * hid * hid);
  std::vector<int16_t> h = i16(head.at("h0")), c = i16(head.at("c0"));
  int steps = 0;
  bool saturated = false;
  while (k < recs.size()) {
    EXPECT_EQ(recs[k].second[0], steps);
    std::map<std::string, std::vector<int64_t>> s;
    for (++k; k < recs.size() && recs[k].first != "step"; ++k) s[recs[k].first] = recs[k].second;
    const ref::CellOut r = ref::int_cell(w_ih, w_hh, bias, i16(s.at("x")), h, c);
    EXPECT_EQ(s.at("acc"), r.acc);
    EXPECT_EQ(i16(s.at("preact")), r.z);
    EXPECT_EQ(i16(s.at("gate")), r.gate);
    EXPECT_EQ(i16(s.at("c")), r.c);
    EXPECT_EQ(i16(s.at("h")), r.h);
    for (int16_t z : r.z) saturated |= (z == 32767 || z == -32768);
    h = r.h;
    c = r.c;
    ++steps;
  }
  EXPECT_EQ(steps, head.at("steps")[0]);
  if (GetParam().name.rfind("saturate", 0) == 0) {
    EXPECT_TRUE(saturated) << "the saturation case no longer saturates any pre-activation";
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, Golden, ::testing::ValuesIn(golden_cases()));

}  // namespace
}  // namespace tessel::lstm
