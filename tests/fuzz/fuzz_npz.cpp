// Fuzz target: .npz archives (zip directory, local headers, zip64) and the LSTM weight
// checks applied to the arrays found in them.
#include <cstdint>
#include <string>

#include "models/common/npy.h"
#include "models/lstm/weights_io.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessel;
  const std::string path =
      fuzz::write_temp("w.npz", std::string(reinterpret_cast<const char*>(data), size));
  fuzz::expect_clean(path, [&] {
    auto arrays = read_npz(path);
    lstm::lstm_weights_from_arrays(arrays, path, "", nullptr);
  });
  return 0;
}
