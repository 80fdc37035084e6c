// Reader for the fixed-point LSTM golden vectors (tests/models/lstm/golden, docs/lstm_kernels.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessel::rtl {

struct GoldenStep {
  std::vector<int64_t> x, acc, preact, gate, c, h;
};

struct GoldenFile {
  std::string name;
  int input_size = 0, hidden_size = 0, steps = 0;
  std::vector<int64_t> w_ih, w_hh, bias, h0, c0;
  std::vector<GoldenStep> step;
};

// Parses format 1; throws tessel::IoError naming the file on anything unexpected.
GoldenFile read_golden(const std::string& path);

// The committed golden files under `source_dir`, sorted by name.
std::vector<std::string> golden_paths(const std::string& source_dir);

}  // namespace tessel::rtl
