// The results folder of a sweep: points.jsonl (append-only), manifest.json, summary.csv.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "runtime/core/point_record.h"

namespace tessel::sweep {

class ResultsStore {
 public:
  // Creates the folder if needed and locks it (a second sweep on it fails with IoError).
  explicit ResultsStore(const std::string& dir);
  ~ResultsStore();
  ResultsStore(const ResultsStore&) = delete;
  ResultsStore& operator=(const ResultsStore&) = delete;

  const std::string& dir() const { return dir_; }
  std::string points_path() const { return dir_ + "/points.jsonl"; }
  std::string manifest_path() const { return dir_ + "/manifest.json"; }
  bool has_points() const;
  // Removes earlier results (points, manifest, summary, reports, artifacts, cache, scratch).
  void clear();
  // Finished records; a torn final line (a write cut by a kill) is cut off the file.
  std::vector<PointRecord> load_existing();
  // Appends one record as a single write(2) to an O_APPEND descriptor: a killed sweep
  // leaves whole lines, or at worst one torn last line that load_existing() cuts off.
  void append(const PointRecord& record);
  nlohmann::json read_manifest() const;
  void write_manifest(const nlohmann::json& manifest) const;
  // summary.csv from every record (ok and failed), in index order.
  void write_summary(const std::vector<PointRecord>& records,
                     const std::vector<std::string>& swept_keys) const;
  // Scratch folder for points' own result and stderr files, and the folders their
  // artifacts are written into while they run.
  std::string scratch_dir() const { return dir_ + "/.points"; }
  // Finished points' artifacts: points/<id>/... (paths in records are relative to dir()).
  std::string artifacts_dir() const { return dir_ + "/points"; }
  // Results that points of this sweep share (an index built once for an L sweep).
  std::string cache_dir() const { return dir_ + "/cache"; }

 private:
  std::string dir_;
  int lock_fd_ = -1;
  int points_fd_ = -1;
};

}  // namespace tessel::sweep
