// Whole-file writes that never leave a half-written file behind.
#pragma once

#include <string>

namespace tessel {

// Writes `content` to a temporary file beside `path` and renames it over `path`, so a
// reader (or a process killed mid-write) never sees half a file. `durable` also fsyncs
// before the rename, which survives power loss but costs milliseconds on most disks.
// Throws IoError naming the path on any failure; `path` is then untouched.
// The temporary is `<path>.tmp.<pid>`: the only thing a kill mid-write can leave behind.
void write_file_atomic(const std::string& path, const std::string& content, bool durable = true);

// Copies `from` to `to` through the same temporary-and-rename path (no fsync).
void copy_file_atomic(const std::string& from, const std::string& to);

// Removes the `<name>.tmp.<pid>` files in `dir` (not below it) whose process has gone: what
// a writer killed mid-write left. A live writer's temporary is kept.
void remove_stale_temps(const std::string& dir);

}  // namespace tessel
