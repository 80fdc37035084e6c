// Joining shard folders: every check before the first write.
#include "runtime/sweep/merge.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "runtime/core/atomic_file.h"
#include "runtime/core/error.h"
#include "runtime/core/file_io.h"
#include "runtime/core/point_record.h"
#include "runtime/sweep/results_store.h"
#include "runtime/sweep/shard.h"
#include "runtime/sweep/sweep_plan.h"

namespace tessel::sweep {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct ShardFolder {
  std::string dir;
  json manifest;
  Shard shard;
  std::vector<std::string> lines;  // points.jsonl, one record each, without '\n'
  std::vector<PointRecord> records;
};

ShardFolder read_shard(const std::string& dir) {
  ShardFolder f;
  f.dir = dir;
  const std::string manifest_path = (fs::path(dir) / "manifest.json").string();
  if (!fs::exists(manifest_path))
    throw IoError(manifest_path + ": not found; " + dir +
                  " is not a results folder written by tessel sweep --shard");
  try {
    f.manifest = json::parse(read_file(manifest_path, ""));
  } catch (const json::exception& e) {
    throw IoError(manifest_path + ": malformed JSON: " + e.what());
  }
  if (!f.manifest.is_object() || !f.manifest.contains("shard"))
    throw IoError(manifest_path + ": names no shard; " + dir +
                  " was not written by tessel sweep --shard i/n");
  try {
    f.shard.index = f.manifest.at("shard").at("index").get<size_t>();
    f.shard.count = f.manifest.at("shard").at("count").get<size_t>();
    f.manifest.at("name").get<std::string>();
    f.manifest.at("config_hash").get<std::string>();
    f.manifest.at("points_total").get<size_t>();
  } catch (const json::exception& e) {
    throw IoError(manifest_path + ": " + e.what());
  }
  if (f.shard.count == 0 || f.shard.index >= f.shard.count)
    throw IoError(manifest_path + ": shard " + f.manifest.at("shard").dump() + " is not valid");

  const std::string points_path = (fs::path(dir) / "points.jsonl").string();
  const std::string data = fs::exists(points_path) ? read_file(points_path, "") : "";
  size_t pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos)
      throw IoError(points_path + ":" + std::to_string(f.lines.size() + 1) +
                    ": torn last line (the shard was stopped mid-write); finish it with "
                    "tessel sweep SWEEP --shard " +
                    f.shard.describe() + " --out " + dir + " --resume");
    f.lines.push_back(data.substr(pos, nl - pos));
    try {
      f.records.push_back(PointRecord::from_json(json::parse(f.lines.back())));
    } catch (const json::exception& e) {
      throw IoError(points_path + ":" + std::to_string(f.lines.size()) +
                    ": malformed point record: " + e.what());
    }
    pos = nl + 1;
  }
  return f;
}

}  // namespace

MergeSummary merge_shards(const std::vector<std::string>& dirs, const std::string& out_arg,
                          const std::string& command_line) {
  if (dirs.empty()) throw Error("merge: name the shard folders to join", kExitUsage);
  std::vector<ShardFolder> shards;
  for (const auto& d : dirs) shards.push_back(read_shard(d));

  // One sweep: the same name, config hash (sweep and experiment files) and shard count.
  const ShardFolder& first = shards.front();
  const std::string name = first.manifest.at("name"), hash = first.manifest.at("config_hash");
  const size_t count = first.shard.count, total = first.manifest.at("points_total");
  auto describe = [](const ShardFolder& f) {
    return f.dir + " (sweep '" + f.manifest.at("name").get<std::string>() + "', config hash " +
           f.manifest.at("config_hash").get<std::string>() + ", shard " + f.shard.describe() + ")";
  };
  for (const auto& f : shards) {
    if (f.manifest.at("name") != name || f.manifest.at("config_hash") != hash)
      throw ConfigError("merge: shards of different sweeps: " + describe(first) + " and " +
                        describe(f));
    if (f.shard.count != count || f.manifest.at("points_total") != total)
      throw ConfigError("merge: shards of different splits: " + describe(first) + " and " +
                        describe(f));
  }
  std::map<size_t, const ShardFolder*> by_index;
  for (const auto& f : shards) {
    auto [it, fresh] = by_index.emplace(f.shard.index, &f);
    if (!fresh)
      throw ConfigError("merge: shard " + f.shard.describe() + " given twice: " + it->second->dir +
                        " and " + f.dir);
  }
  std::string missing;
  for (size_t i = 0; i < count; ++i)
    if (!by_index.count(i))
      missing += (missing.empty() ? "" : ", ") + std::to_string(i) + "/" + std::to_string(count);
  if (!missing.empty())
    throw ConfigError("merge: shard" +
                      std::string(missing.find(',') == std::string::npos ? " " : "s ") + missing +
                      " missing (" + std::to_string(shards.size()) + " of " +
                      std::to_string(count) + " given)");
  // Each shard holds exactly its points, in index order, once each.
  for (const auto& f : shards) {
    const std::string points_path = (fs::path(f.dir) / "points.jsonl").string();
    size_t expected = f.shard.index;
    for (size_t k = 0; k < f.records.size(); ++k, expected += count) {
      const PointRecord& r = f.records[k];
      if (r.index == expected && r.id == point_id(expected)) continue;
      std::string why = !f.shard.contains(r.index)
                            ? "point " + r.id + " does not belong to shard " + f.shard.describe()
                        : r.index < expected ? "point " + r.id + " appears twice"
                                             : "point " + point_id(expected) + " is missing";
      throw IoError(points_path + ":" + std::to_string(k + 1) + ": " + why);
    }
    if (f.records.size() != f.shard.points_in(total) ||
        f.manifest.value("finished", json()).is_null())
      throw IoError(f.dir + ": shard " + f.shard.describe() + " is unfinished (" +
                    std::to_string(f.records.size()) + " of " +
                    std::to_string(f.shard.points_in(total)) +
                    " points); finish it with tessel sweep SWEEP --shard " + f.shard.describe() +
                    " --out " + f.dir + " --resume");
  }

  MergeSummary summary;
  summary.out_dir = out_arg.empty() ? "results/" + name : out_arg;
  summary.points = total;
  std::error_code ec;
  for (const auto& f : shards)
    if (fs::equivalent(f.dir, summary.out_dir, ec))
      throw IoError(summary.out_dir + ": is one of the shards; merge into another folder");
  const std::string out_points = (fs::path(summary.out_dir) / "points.jsonl").string();
  if (fs::exists(out_points, ec) && fs::file_size(out_points, ec) > 0)
    throw IoError(out_points + ": results already exist; merge into another --out folder");

  // Every check passed: write. Lines are copied, not re-serialised, so the merged file is
  // byte for byte what the shards recorded, in the order a -j 1 run writes.
  ResultsStore store(summary.out_dir);
  std::string points;
  std::vector<PointRecord> records;
  records.reserve(total);
  std::vector<size_t> next(count, 0);
  for (size_t i = 0; i < total; ++i) {
    const ShardFolder& f = *by_index.at(i % count);
    const size_t k = next[i % count]++;
    points += f.lines[k] + "\n";
    records.push_back(f.records[k]);
    if (!records.back().ok) ++summary.failed;
    // Artifacts keep their paths (points/<id>/...), relative to the results folder.
    const fs::path artifacts = fs::path(f.dir) / "points" / point_id(i);
    // File by file through a temporary, so a killed merge leaves no half-copied artifact.
    if (fs::exists(artifacts)) {
      const fs::path dest = fs::path(store.artifacts_dir()) / point_id(i);
      remove_stale_temps(dest.string());  // of a merge killed earlier
      for (const auto& entry : fs::recursive_directory_iterator(artifacts)) {
        const fs::path to = dest / fs::relative(entry.path(), artifacts);
        if (entry.is_directory()) {
          fs::create_directories(to);
        } else {
          fs::create_directories(to.parent_path());
          copy_file_atomic(entry.path().string(), to.string());
        }
      }
    }
  }
  write_file_atomic(store.points_path(), points);
  store.write_summary(records, first.manifest.value("swept_keys", std::vector<std::string>{}));

  json manifest = first.manifest;
  manifest.erase("shard");
  manifest["command"] = command_line;
  json from = json::array();
  std::string started, finished;
  for (const auto& [index, f] : by_index) {
    from.push_back({{"dir", f->dir},
                    {"shard", f->manifest.at("shard")},
                    {"host", f->manifest.value("host", "")},
                    {"command", f->manifest.value("command", "")},
                    {"started", f->manifest.value("started", "")},
                    {"finished", f->manifest.value("finished", "")}});
    const std::string s = f->manifest.value("started", ""), e = f->manifest.value("finished", "");
    if (started.empty() || (!s.empty() && s < started)) started = s;
    if (e > finished) finished = e;
  }
  manifest["merged_from"] = from;
  manifest["started"] = started;
  manifest["finished"] = finished;
  manifest["points_failed"] = summary.failed;
  store.write_manifest(manifest);
  fs::remove(store.scratch_dir(), ec);
  return summary;
}

}  // namespace tessel::sweep
