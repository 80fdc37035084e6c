// `tessel merge`: joins the folders of a sharded sweep (--shard i/n) into one results folder.
#pragma once

#include <string>
#include <vector>

namespace tessel::sweep {

struct MergeSummary {
  std::string out_dir;
  size_t points = 0;
  size_t failed = 0;
};

// Checks first, writes after: every folder is a finished shard of the same sweep (name and
// config hash) and shard count, no shard twice, none missing, each shard's points.jsonl holds
// exactly its points (no torn last line, duplicate or gap). Then writes `out_dir` (default
// results/<name>): points.jsonl in the order `tessel sweep -j 1` writes it (the shards' lines
// byte for byte), the points' artifacts, summary.csv and manifest.json (which lists the
// shards). Throws IoError / ConfigError naming the folder and line; nothing is written then.
MergeSummary merge_shards(const std::vector<std::string>& dirs, const std::string& out_dir,
                          const std::string& command_line);

}  // namespace tessel::sweep
