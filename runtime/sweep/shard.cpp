// --shard i/n parsing.
#include "runtime/sweep/shard.h"

#include <cerrno>
#include <cstdlib>

#include "runtime/core/error.h"

namespace tessel::sweep {
namespace {

bool parse_count(const std::string& text, size_t& value) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return false;
  errno = 0;
  unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
  if (errno != 0) return false;
  value = static_cast<size_t>(v);
  return true;
}

}  // namespace

Shard parse_shard(const std::string& text) {
  auto fail = [&](const std::string& why) {
    throw Error("--shard " + text + ": " + why, kExitUsage);
  };
  const size_t slash = text.find('/');
  Shard s;
  if (slash == std::string::npos || !parse_count(text.substr(0, slash), s.index) ||
      !parse_count(text.substr(slash + 1), s.count))
    fail("expected i/n, shard i (counted from 0) of n, e.g. 0/4");
  if (s.count == 0) fail("the shard count n must be at least 1");
  if (s.index >= s.count)
    fail("the shard index i counts from 0 and must be below n (0/" + std::to_string(s.count) +
         " to " + std::to_string(s.count - 1) + "/" + std::to_string(s.count) + ")");
  return s;
}

}  // namespace tessel::sweep
