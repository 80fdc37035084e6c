// Whole-file writes that never leave a half-written file behind.
#pragma once

#include <string>

namespace tessel {

// Writes `content` to a temporary file beside `path`, flushes it, and renames it over
// `path`. Throws IoError naming the path on any failure; `path` is then untouched.
void write_file_atomic(const std::string& path, const std::string& content);

}  // namespace tessel
