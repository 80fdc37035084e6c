// Whole-file writes that never leave a half-written file behind.
#pragma once

#include <string>

namespace tessel {

// Writes `content` to a temporary file beside `path` and renames it over `path`, so a
// reader (or a process killed mid-write) never sees half a file. `durable` also fsyncs
// before the rename, which survives power loss but costs milliseconds on most disks.
// Throws IoError naming the path on any failure; `path` is then untouched.
void write_file_atomic(const std::string& path, const std::string& content, bool durable = true);

}  // namespace tessel
