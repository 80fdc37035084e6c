// The list of RTL checks in report order.
#include "runtime/validate/rtl_checks.h"

namespace tessel::rtl {

const char* suite_name(Suite s) {
  switch (s) {
    case Suite::kRandom:
      return "random";
    case Suite::kDirected:
      return "directed";
    case Suite::kGolden:
      return "golden";
    case Suite::kTiming:
      return "timing";
  }
  return "?";
}

std::vector<UnitCheck> run_all_checks(const CheckOptions& opt) {
  std::vector<UnitCheck> out;
  const Suite all[] = {Suite::kRandom, Suite::kDirected, Suite::kGolden, Suite::kTiming};
  for (int k : {8, 3})
    for (Suite s : all) out.push_back(check_dpu(k, s, opt));
  for (Suite s : all) out.push_back(check_mfu(s, opt));
  for (auto [n, m] : {std::pair{2, 4}, std::pair{4, 8}})
    for (Suite s : {Suite::kRandom, Suite::kDirected, Suite::kTiming})
      out.push_back(check_sparse_dot(n, m, s, opt));
  return out;
}

}  // namespace tessel::rtl
