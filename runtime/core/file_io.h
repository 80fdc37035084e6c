// Reading a whole file with the error every loader reports when it cannot.
#pragma once

#include <string>

namespace tessel {

// The bytes of `path`. Throws IoError "<path>: is a directory, expected a file" for a
// folder, "<path>: cannot open <what>" (or "<path>: cannot open" when `what` is empty) when
// the file cannot be opened, "<path>: read error" when reading fails part way.
std::string read_file(const std::string& path, const std::string& what = "file");

}  // namespace tessel
