// manifest.json parsing with errors that name the file and key.
#include "runtime/report/results_folder.h"

#include <filesystem>
#include <fstream>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/core/json_integer.h"

namespace tessel::report {
namespace {

using nlohmann::json;

// Reads `key` from the manifest object; absent or null optional keys keep `fallback` (the
// sweep writes "finished": null while it runs).
template <typename T>
T field(const json& j, const std::string& path, const char* key, bool required, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || (!required && it->is_null())) {
    if (required) throw IoError(path + ": missing key '" + key + "'");
    return fallback;
  }
  try {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) return json_integer<T>(*it);
    return it->get<T>();
  } catch (const json::exception&) {
    throw IoError(path + ": key '" + key + "' has the wrong type (" + it->dump() + ")");
  }
}

}  // namespace

Manifest read_manifest(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(path + ": cannot open");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw IoError(path + ": malformed JSON: " + e.what());
  }
  if (!j.is_object()) throw IoError(path + ": expected a JSON object");
  Manifest m;
  m.name = field<std::string>(j, path, "name", true, "");
  m.title = field<std::string>(j, path, "title", false, "");
  m.command = field<std::string>(j, path, "command", true, "");
  m.sweep_file = field<std::string>(j, path, "sweep_file", false, "");
  m.config_hash = field<std::string>(j, path, "config_hash", true, "");
  m.seed = field<uint64_t>(j, path, "seed", true, 0);
  m.git_commit = field<std::string>(j, path, "git_commit", true, "");
  m.host = field<std::string>(j, path, "host", true, "");
  m.tessel_version = field<std::string>(j, path, "tessel_version", false, "");
  m.started = field<std::string>(j, path, "started", true, "");
  m.finished = field<std::string>(j, path, "finished", false, "");
  m.points_total = field<size_t>(j, path, "points_total", true, 0);
  m.swept_keys = field<std::vector<std::string>>(j, path, "swept_keys", true, {});
  json report = field<json>(j, path, "report", false, json::object());
  if (!report.is_object()) throw IoError(path + ": key 'report' must be an object");
  m.report = report;
  if (m.title.empty()) m.title = field<std::string>(report, path, "title", false, "");
  if (report.contains("baseline")) {
    m.baseline = report["baseline"];
    if (!m.baseline.is_object() || m.baseline.empty())
      throw IoError(path + ": key 'report.baseline' must be a non-empty object of key paths");
  }
  m.subject = field<json>(report, path, "subject", false, json::object());
  m.compare = field<json>(report, path, "compare", false, json::object());
  if (!m.subject.is_object() || !m.compare.is_object())
    throw IoError(path + ": keys 'report.subject' and 'report.compare' must be objects");
  for (const auto& [name, keys] : m.compare.items())
    if (!keys.is_object() || keys.empty())
      throw IoError(path + ": key 'report.compare." + name +
                    "' must be a non-empty object of key paths");
  m.summarize = field<std::vector<std::string>>(report, path, "summarize", false, {});
  m.reference = field<json>(report, path, "reference", false, json::object());
  if (!m.reference.is_object()) throw IoError(path + ": key 'report.reference' must be an object");
  for (const auto& [name, value] : m.reference.items())
    if (!value.is_number())
      throw IoError(path + ": key 'report.reference." + name + "' must be a number");
  m.notes = field<std::vector<std::string>>(report, path, "notes", false, {});
  return m;
}

ResultsFolder read_results_folder(const std::string& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw IoError(dir + ": not a results folder");
  ResultsFolder r;
  r.dir = dir;
  r.manifest = read_manifest((fs::path(dir) / "manifest.json").string());
  const std::string points_path = (fs::path(dir) / "points.jsonl").string();
  size_t valid_bytes = 0;
  r.points = read_points(points_path, &valid_bytes);
  r.torn_tail = valid_bytes < fs::file_size(points_path);
  return r;
}

}  // namespace tessel::report
