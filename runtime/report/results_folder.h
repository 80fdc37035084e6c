// Reads a results folder (manifest.json + points.jsonl) for the report generator.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

// Full header, not json_fwd.hpp: Manifest holds json members by value.
#include <nlohmann/json.hpp>

#include "runtime/core/point_record.h"

namespace tessel::report {

// manifest.json as the sweep writes it.
struct Manifest {
  std::string name;
  std::string title;  // "title", else "report.title"; may be empty: the report uses `name`
  std::string command;
  std::string sweep_file;
  std::string config_hash;
  uint64_t seed = 0;
  std::string git_commit;
  std::string host;
  std::string tessel_version;
  std::string started;   // ISO-8601 UTC
  std::string finished;  // ISO-8601 UTC
  size_t points_total = 0;
  std::vector<std::string> swept_keys;
  nlohmann::json baseline;  // report.baseline: key path → value; null when absent
  // report.subject: key path → value selecting the points the comparisons summarise
  // (all successful points when absent).
  nlohmann::json subject;
  // report.compare: name → baseline key paths, each summarised over the subject points.
  nlohmann::json compare;
  // report.summarize: metric names averaged over the subject points.
  std::vector<std::string> summarize;
  // report.reference: comparison or "metric <name>" → a published figure shown beside ours.
  nlohmann::json reference;
  // report.notes: paragraphs printed under the comparisons (sources, caveats).
  std::vector<std::string> notes;
  // report.group_by, report.metrics, report.plots: the study sections (runtime/report/
  // study.h reads them); the `report` object as the sweep wrote it.
  nlohmann::json report = nlohmann::json::object();
};

struct ResultsFolder {
  std::string dir;
  Manifest manifest;
  std::vector<PointRecord> points;  // in file order
  bool torn_tail = false;           // points.jsonl ended in a partial line (ignored)
};

// Parses manifest.json. Throws IoError naming the file (and the key) when it is missing,
// is not JSON, or lacks a required key or has one of the wrong type.
Manifest read_manifest(const std::string& path);

// Reads `dir`/manifest.json and `dir`/points.jsonl; IoError as above, and with
// file:line for a malformed point record.
ResultsFolder read_results_folder(const std::string& dir);

}  // namespace tessel::report
