// Size limits: the memory bound configured sizes are checked against, and the checks.
#include "runtime/core/limits.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "runtime/core/config.h"
#include "runtime/core/error.h"

namespace tessel {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// Whether the limit came from the environment, for the message.
bool limit_from_env(uint64_t& bytes) {
  const char* env = std::getenv("TESSEL_MEMORY_LIMIT_GB");
  if (!env || !*env) return false;
  char* end = nullptr;
  const double gb = std::strtod(env, &end);
  if (end == env || *end != '\0' || !std::isfinite(gb) || gb <= 0 || gb > 1e9)
    throw ConfigError("TESSEL_MEMORY_LIMIT_GB: expected a positive number of GiB, got \"" +
                      std::string(env) + "\"");
  bytes = static_cast<uint64_t>(gb * kGiB);
  return true;
}

std::string limit_text() {
  uint64_t bytes = 0;
  if (limit_from_env(bytes)) return "the " + format_bytes(bytes) + " TESSEL_MEMORY_LIMIT_GB limit";
  return "the " + format_bytes(memory_limit_bytes()) +
         " limit (physical memory; set TESSEL_MEMORY_LIMIT_GB to change it)";
}

std::string dims_text(std::initializer_list<int64_t> dims) {
  std::string s;
  for (int64_t d : dims) s += (s.empty() ? "" : " x ") + std::to_string(d);
  return s;
}

}  // namespace

uint64_t memory_limit_bytes() {
  uint64_t bytes = 0;
  if (limit_from_env(bytes)) return bytes;
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return uint64_t{64} << 30;  // unknown: 64 GiB
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

namespace {
template <typename Dims>
uint64_t product(const Dims& dims, uint64_t elem_bytes) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  uint64_t p = elem_bytes;
  bool saturated = false;
  for (int64_t d : dims) {
    const uint64_t u = d < 0 ? 0 : static_cast<uint64_t>(d);
    if (u == 0) return 0;  // an empty dimension: nothing at all, whatever the others say
    if (saturated || p > kMax / u)
      saturated = true;
    else
      p *= u;
  }
  return saturated ? kMax : p;
}
}  // namespace

uint64_t product_bytes(std::initializer_list<int64_t> dims, uint64_t elem_bytes) {
  return product(dims, elem_bytes);
}

uint64_t product_bytes(const std::vector<int64_t>& dims, uint64_t elem_bytes) {
  return product(dims, elem_bytes);
}

std::string format_bytes(uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 6) v /= 1024.0, ++u;
  char buf[48];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(buf, sizeof buf, "%.3g %s", v, units[u]);
  return buf;
}

void check_allocation(const Config& cfg, const std::string& key,
                      std::initializer_list<int64_t> dims, uint64_t elem_bytes,
                      const std::string& what) {
  const uint64_t need = product_bytes(dims, elem_bytes);
  if (need <= memory_limit_bytes()) return;
  cfg.fail(key, dims_text(dims) + " " + what + " need " + format_bytes(need) + ", more than " +
                    limit_text());
}

void check_allocation_bytes(const Config& cfg, const std::string& key, uint64_t bytes,
                            const std::string& what) {
  if (bytes <= memory_limit_bytes()) return;
  cfg.fail(key, what + " need " + format_bytes(bytes) + ", more than " + limit_text());
}

void check_file_allocation(const std::string& where, std::initializer_list<int64_t> dims,
                           uint64_t elem_bytes, const std::string& what) {
  const uint64_t need = product_bytes(dims, elem_bytes);
  if (need <= memory_limit_bytes()) return;
  throw ConfigError(where + ": " + dims_text(dims) + " " + what + " need " + format_bytes(need) +
                    ", more than " + limit_text());
}

uint64_t simulated_cycle_limit() {
  const char* env = std::getenv("TESSEL_MAX_SIM_CYCLES");
  if (!env || !*env) return uint64_t{10000000000};
  char* end = nullptr;
  const double v = std::strtod(env, &end);
  if (end == env || *end != '\0' || !std::isfinite(v) || v < 1 || v > 1e18)
    throw ConfigError("TESSEL_MAX_SIM_CYCLES: expected a number of cycles from 1 to 1e18, got \"" +
                      std::string(env) + "\"");
  return static_cast<uint64_t>(v);
}

void check_simulated_cycles(const Config& cfg, const std::string& key, double min_cycles,
                            const std::string& what) {
  const auto limit = static_cast<double>(simulated_cycle_limit());
  if (!(min_cycles > limit)) return;
  char buf[160];
  std::snprintf(buf, sizeof buf, " needs at least %.3g cycles, more than the %.3g limit",
                min_cycles, limit);
  cfg.fail(key, what + buf +
                    (std::getenv("TESSEL_MAX_SIM_CYCLES")
                         ? std::string(" (TESSEL_MAX_SIM_CYCLES)")
                         : " (set TESSEL_MAX_SIM_CYCLES to change it)"));
}

}  // namespace tessel
