// One line of results/<name>/points.jsonl: a design point's parameters and its outcome.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

// Full header, not json_fwd.hpp: PointRecord::params is a json member held by value.
#include <nlohmann/json.hpp>

#include "runtime/core/sim_result.h"

namespace tessel {

struct PointRecord {
  size_t index = 0;                 // position in the sweep's expansion order
  std::string id;                   // "p0007"
  nlohmann::json params;            // key path → value, only the swept keys (object, sorted)
  uint64_t seed = 0;                // the seed the point ran with
  bool ok = false;                  // false: crashed, timed out, or config error
  std::optional<SimResult> result;  // when ok
  int exit_status = 0;              // child exit code, or 128 + signal number
  std::string failure;              // "exit 3", "signal SIGSEGV", "timeout after 5 s"
  std::string stderr_tail;          // last lines the child printed to stderr

  nlohmann::json to_json() const;
  static PointRecord from_json(const nlohmann::json& j);
  // One line, no trailing newline, deterministic key order.
  std::string to_line() const { return to_json().dump(); }
};

// Reads a points.jsonl file. A final line without '\n' (a torn write) is ignored and its
// byte offset returned through `valid_bytes` so the caller can truncate it. Any other
// malformed line throws IoError naming the file and line number.
std::vector<PointRecord> read_points(const std::string& path, size_t* valid_bytes = nullptr);

}  // namespace tessel
