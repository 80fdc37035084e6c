// Reading and writing N:M masks as text files (the ADMM pruning writes them; workloads read them).
//
// Format (one mask per file, UTF-8/ASCII text):
//   # comment lines and blank lines are ignored anywhere
//   nm_mask rows=<R> cols=<C> pattern=<N:M>     header, first non-comment line
//   1 1 0 0 0 1 0 1 ...                         R lines of C values, each 0 or 1,
//   ...                                          separated by spaces
// The pattern in the header is checked on load: the first group keeping more than N is
// reported with its line ("mask.txt:7: row 4 group 2 (columns 8-11) keeps 3 of 4, 2:4
// allows 2"). Every malformed line is reported as "<file>:<line>: <what is wrong>".
#pragma once

#include <string>

#include "models/sparse/nm_pattern.h"

namespace tessel::sparse {

struct MaskFile {
  Mask mask;
  Pattern pattern;
};

// Throws IoError when the file cannot be opened, ConfigError for malformed content.
MaskFile load_mask(const std::string& path);
// Parses text; `name` stands for the file name in messages.
MaskFile parse_mask(const std::string& text, const std::string& name);
// Throws ConfigError when the mask violates the pattern, IoError when writing fails.
void save_mask(const std::string& path, const Mask& mask, const Pattern& pattern);
std::string format_mask(const Mask& mask, const Pattern& pattern);

}  // namespace tessel::sparse
