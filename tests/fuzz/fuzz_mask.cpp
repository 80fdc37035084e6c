// Fuzz target: N:M mask text files (header, rows of 0/1, the pattern check).
#include <cstdint>
#include <string>

#include "models/sparse/mask_io.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessel;
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean("m.txt", [&] {
    sparse::MaskFile m = sparse::parse_mask(text, "m.txt");
    // What reads must write back to text that reads as the same mask.
    sparse::MaskFile again = sparse::parse_mask(sparse::format_mask(m.mask, m.pattern), "m.txt");
    if (!(again.mask == m.mask)) fuzz::finding("mask changed in a round trip");
  });
  return 0;
}
