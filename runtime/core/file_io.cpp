// Whole-file reads.
#include "runtime/core/file_io.h"

#include <fstream>
#include <sstream>

#include "runtime/core/error.h"

namespace tessel {

std::string read_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open" + (what.empty() ? "" : " " + what));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw IoError(path + ": read error");
  return ss.str();
}

}  // namespace tessel
