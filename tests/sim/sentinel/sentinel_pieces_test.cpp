// The profiler's optimizer-store pieces, matched to trace tensors by prefix and rest of the
// name without building names (hand-computed profiles, and a brute-force name check over
// more parameters than the lookups prefetch ahead), and the huge-page helpers.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "sim/sentinel/huge_pages.h"
#include "sim/sentinel/tensor_profile.h"

namespace tessel::sentinel {
namespace {

TraceFile parse(const std::string& text) {
  std::istringstream in(text);
  return parse_tensor_trace(in, "t.trace");
}

std::vector<std::string> names(const Profile& p) {
  std::vector<std::string> out;
  for (const TensorInfo& t : p.tensors) out.emplace_back(t.name);
  return out;
}

// grad:ab and adam_m:a are in the trace, grad:a and adam_m:ab are not; "a" is a prefix of
// "ab" (a lookup by the rest of the name must not take one for the other).
TEST(SentinelPieces, MatchTraceTensorsByPrefixAndRest) {
  const Profile p =
      build_profile(parse("0 0 R param:a 100\n"
                          "0 0 R param:ab 200\n"
                          "0 1 W grad:ab 200\n"
                          "0 1 W adam_m:a 100\n"
                          "0 -1 R grads 350\n"      // grad:a 100, grad:ab 200, grad:rest 50
                          "0 -1 R adam_m 300\n"     // adam_m:a 100, adam_m:ab 200
                          "0 -1 W params 300\n"));  // param:a, param:ab
  EXPECT_EQ(names(p), (std::vector<std::string>{"param:a", "param:ab", "grad:ab", "adam_m:a",
                                                "grad:a", "grad:rest", "adam_m:ab"}));
  const std::vector<int64_t> bytes{100, 200, 200, 100, 100, 50, 200};
  const std::vector<int64_t> accesses{2, 2, 2, 2, 1, 1, 1};
  const std::vector<std::vector<int>> uses{{0, 2}, {0, 2}, {1, 2}, {1, 2}, {2}, {2}, {2}};
  for (size_t id = 0; id < p.tensors.size(); ++id) {
    const TensorInfo& t = p.tensors[id];
    EXPECT_EQ(t.bytes, bytes[id]) << t.name;
    EXPECT_TRUE(t.persistent) << t.name;
    EXPECT_EQ(t.accesses, accesses[id]) << t.name;
    EXPECT_EQ(t.uses, uses[id]) << t.name;
  }
  EXPECT_EQ(p.tensors[0].write_bytes, 100);  // param:a, by the params store
  EXPECT_EQ(p.tensors[2].read_bytes, 200);   // grad:ab, by the grads store
  ASSERT_EQ(p.intervals.size(), 3u);
  EXPECT_EQ(p.intervals[2].accesses.size(), 7u);
  EXPECT_DOUBLE_EQ(p.intervals[0].flops, 2 * 300 / 4);  // parameter reads
  EXPECT_TRUE(p.intervals[1].backward);                 // wrote grad:ab
  EXPECT_DOUBLE_EQ(p.intervals[1].flops, 4 * 200 / 4);
  EXPECT_FALSE(p.intervals[2].backward);
  EXPECT_DOUBLE_EQ(p.intervals[2].flops, 0);  // writes parameters: the optimizer
  EXPECT_EQ(p.peak_bytes, 950);
  EXPECT_EQ(p.largest_tensor, 200);
  EXPECT_EQ(p.access_bytes, 100 + 200 + 200 + 100 + 350 + 300 + 300);
}

// A parameter named "rest" is also the remainder's piece: one tensor, two accesses.
TEST(SentinelPieces, ParameterNamedRestTakesTheRemainder) {
  const Profile p =
      build_profile(parse("0 0 R param:rest 100\n0 0 R param:x 50\n0 -1 R adam_v 200\n"));
  EXPECT_EQ(names(p),
            (std::vector<std::string>{"param:rest", "param:x", "adam_v:rest", "adam_v:x"}));
  EXPECT_EQ(p.tensors[2].accesses, 2);
  EXPECT_EQ(p.tensors[2].read_bytes, 150);
  EXPECT_EQ(p.tensors[2].bytes, 100);
  EXPECT_EQ(p.tensors[2].uses, (std::vector<int>{1}));
  EXPECT_EQ(p.intervals[1].accesses.size(), 3u);
}

// 100 parameters with names of 1 to 40 characters (long ones live outside the string),
// a gradient in the trace for every third: each piece is the trace tensor of its name if
// there is one, else a new tensor of that name, and every name occurs once.
TEST(SentinelPieces, ManyParametersAgainstNames) {
  std::ostringstream t;
  std::map<std::string, int64_t> param_bytes;
  std::vector<std::string> order;
  for (int i = 0; i < 100; ++i) {
    const std::string nm =
        std::string(1 + i % 40, static_cast<char>('a' + i % 26)) + std::to_string(i);
    param_bytes[nm] = 4 * (i + 1);
    order.push_back(nm);
    t << "0 0 R param:" << nm << " " << 4 * (i + 1) << "\n";
  }
  for (int i = 0; i < 100; i += 3) t << "0 1 W grad:" << order[i] << " " << 4 * (i + 1) << "\n";
  t << "0 -1 R grads 20200\n0 -1 R adam_m 20200\n";  // 4 * (1 + ... + 100)
  const Profile p = build_profile(parse(t.str()));

  std::map<std::string, int> seen;
  for (const TensorInfo& x : p.tensors) ++seen[std::string(x.name)];
  for (const auto& [nm, count] : seen) EXPECT_EQ(count, 1) << nm;
  EXPECT_EQ(p.tensors.size(), 300u);  // params, grads, adam_m: no remainder
  for (const TensorInfo& x : p.tensors) {
    const std::string nm(x.name);
    const size_t colon = nm.find(':');
    ASSERT_NE(colon, std::string::npos) << nm;
    const std::string rest = nm.substr(colon + 1);
    ASSERT_TRUE(param_bytes.count(rest)) << nm;
    EXPECT_EQ(x.bytes, param_bytes[rest]) << nm;
    // Gradients in the trace: written in the backward and read by the optimizer.
    const bool traced_grad = nm.substr(0, colon) == "grad" &&
                             (std::find(order.begin(), order.end(), rest) - order.begin()) % 3 == 0;
    EXPECT_EQ(x.accesses, traced_grad ? 2 : 1) << nm;
  }
  // Pieces the trace lacks come in parameter order after the trace's tensors.
  EXPECT_EQ(p.tensors[100 + 34].name, "grad:" + order[1]);
  EXPECT_EQ(p.tensors[100 + 34 + 66].name, "adam_m:" + order[0]);
}

TEST(SentinelPieces, HugePageHelpers) {
  constexpr size_t kMiB = size_t{1} << 20;
  EXPECT_EQ(huge_size(kMiB), kMiB);  // small: unchanged
  EXPECT_EQ(huge_size(2 * kMiB), 4 * kMiB - 32);
  EXPECT_EQ(huge_size(4 * kMiB - 32), 4 * kMiB - 32);
  EXPECT_EQ(huge_size(4 * kMiB - 31), 6 * kMiB - 32);

  HugeVector<uint32_t> v;  // grows through several reallocations past 2 MiB
  for (uint32_t i = 0; i < 3000000; ++i) v.push_back(i * 7);
  for (uint32_t i = 0; i < 3000000; i += 999) ASSERT_EQ(v[i], i * 7);
  const HugeVector<int64_t> w(1000000, -3);
  EXPECT_EQ(std::count(w.begin(), w.end(), -3), 1000000);
  std::vector<double> r;
  huge_reserve(r, 500000);
  EXPECT_GE(r.capacity(), 500000u);
  r.assign(500000, 1.5);
  EXPECT_EQ(r.back(), 1.5);
}

}  // namespace
}  // namespace tessel::sentinel
