// Whole-file reads.
#include "runtime/core/file_io.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/core/error.h"

namespace tessel {

std::string read_file(const std::string& path, const std::string& what) {
  // A folder opens like a file on Linux and reads as empty; every loader would then
  // report an empty or malformed file instead of the real mistake.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw IoError(path + ": is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open" + (what.empty() ? "" : " " + what));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw IoError(path + ": read error");
  return ss.str();
}

}  // namespace tessel
