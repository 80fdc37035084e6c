// MNIST in IDX format (optionally gzip-compressed): images scaled to [0, 1] and labels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessel::data {

// One IDX array of unsigned bytes (type code 0x08), the only type MNIST uses.
struct IdxArray {
  std::vector<int32_t> dims;
  std::vector<uint8_t> data;
};

// Reads an IDX file, plain or .gz (decompressed with zlib when the build has it).
// Throws tessel::IoError naming the file and the problem: missing, bad magic, wrong
// element type, dimension count not `expected_dims` (when > 0), truncated or trailing data.
IdxArray read_idx(const std::string& path, int expected_dims = 0);

struct Mnist {
  int count = 0, rows = 0, cols = 0;
  std::vector<float> images;  // [count, rows * cols], pixel / 255
  std::vector<int32_t> labels;
};

// Images file (magic 2051, 3 dims) and labels file (magic 2049, 1 dim): counts must
// agree and labels lie in 0..9; errors name the offending file.
Mnist load_mnist(const std::string& images_path, const std::string& labels_path);

}  // namespace tessel::data
