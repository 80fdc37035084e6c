// points.jsonl serialisation.
#include "runtime/core/point_record.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/core/file_io.h"
#include "runtime/core/json_integer.h"

namespace tessel {

nlohmann::json PointRecord::to_json() const {
  nlohmann::json j;
  j["index"] = index;
  j["id"] = id;
  j["params"] = params;
  j["seed"] = seed;
  j["status"] = ok ? "ok" : "failed";
  if (ok && result) {
    j["result"] = result->to_json();
  } else {
    j["exit_status"] = exit_status;
    j["failure"] = failure;
    j["stderr_tail"] = stderr_tail;
  }
  return j;
}

PointRecord PointRecord::from_json(const nlohmann::json& j) {
  PointRecord p;
  p.index = json_integer<size_t>(j.at("index"));
  p.id = j.at("id").get<std::string>();
  p.params = j.at("params");
  p.seed = json_integer<uint64_t>(j.at("seed"));
  p.ok = j.at("status").get<std::string>() == "ok";
  if (p.ok) {
    p.result = SimResult::from_json(j.at("result"));
  } else {
    p.exit_status = json_integer<int>(j.at("exit_status"));
    p.failure = j.at("failure").get<std::string>();
    p.stderr_tail = j.at("stderr_tail").get<std::string>();
  }
  return p;
}

std::vector<PointRecord> read_points(const std::string& path, size_t* valid_bytes) {
  const std::string data = read_file(path, "");
  std::vector<PointRecord> out;
  size_t pos = 0, line_no = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) break;  // torn final line
    ++line_no;
    try {
      out.push_back(PointRecord::from_json(nlohmann::json::parse(data.substr(pos, nl - pos))));
    } catch (const nlohmann::json::exception& e) {
      throw IoError(path + ":" + std::to_string(line_no) + ": malformed point record: " + e.what());
    }
    pos = nl + 1;
  }
  if (valid_bytes) *valid_bytes = pos;
  return out;
}

}  // namespace tessel
