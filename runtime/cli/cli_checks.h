// Range checks for command-line options. CLI11's PositiveNumber and NonNegativeNumber print
// their upper bound, DBL_MAX, as a 309-digit number ("Value 0 not in range 0.000000 to
// 1797..."); these say what the option accepts in words. CLI11 prefixes the option name, so
// a failed check reads "--jobs: must be a positive integer, got 0".
#pragma once

#include <CLI/CLI.hpp>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <string>

namespace tessel::cli {

namespace detail {

// Whole-string parse of a base-10 integer; false on anything else (2.5, 1e3, 12x, overflow).
inline bool parse_integer(const std::string& text, long long& value) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  value = std::strtoll(text.c_str(), &end, 10);
  return errno == 0 && end == text.c_str() + text.size();
}

// An integer option in [lo, hi]; `what` names the accepted set, `too_large` the upper
// bound (an implicit one, the option's type limit, is named only when exceeded).
inline CLI::Validator integer_check(long long lo, long long hi, const std::string& what,
                                    const std::string& too_large, const std::string& help) {
  return CLI::Validator(
      [lo, hi, what, too_large](std::string& text) -> std::string {
        long long v = 0;
        if (!parse_integer(text, v) || v < lo) return "must be " + what + ", got " + text;
        if (v > hi) return "must be " + too_large + ", got " + text;
        return {};
      },
      help);
}

}  // namespace detail

// 1, 2, ... up to `hi` (the option's type limit by default).
inline CLI::Validator positive_integer(long long hi = INT_MAX) {
  return detail::integer_check(1, hi, "a positive integer", "at most " + std::to_string(hi),
                               "POSITIVE");
}

// 0, 1, ... up to `hi`.
inline CLI::Validator non_negative_integer(long long hi = INT_MAX) {
  return detail::integer_check(0, hi, "a non-negative integer", "at most " + std::to_string(hi),
                               "NONNEGATIVE");
}

// An integer from lo to hi, both included.
inline CLI::Validator integer_between(long long lo, long long hi) {
  const std::string range = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  return detail::integer_check(lo, hi, range, range,
                               "[" + std::to_string(lo) + " - " + std::to_string(hi) + "]");
}

// A finite number >= 0 (a duration in seconds, say).
inline CLI::Validator non_negative_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        errno = 0;
        char* end = nullptr;
        double v = text.empty() ? -1 : std::strtod(text.c_str(), &end);
        bool whole = !text.empty() && end == text.c_str() + text.size();
        if (!whole || errno != 0 || !std::isfinite(v) || v < 0)
          return "must be a non-negative number, got " + text;
        return {};
      },
      "NONNEGATIVE");
}

}  // namespace tessel::cli
