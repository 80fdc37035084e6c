// Fuzz target: .npy arrays (header dictionary, dtype, shape, data length).
#include <cstdint>
#include <string>

#include "models/common/npy.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessel;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean("x.npy", [&] {
    NpyArray a = parse_npy(bytes, "x.npy");
    size_t n = 1;
    for (auto d : a.shape) n *= static_cast<size_t>(d);
    if (n != a.data.size()) fuzz::finding("shape does not match the data read");
  });
  return 0;
}
