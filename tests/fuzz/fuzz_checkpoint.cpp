// Fuzz target: training checkpoints, as given and with the trailing FNV-1a hash repaired so
// the header and tensor sizes behind it are reached.
#include <cstdint>
#include <string>

#include "models/nn/checkpoint.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessel;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  for (const std::string& file : {bytes, fuzz::with_fnv_trailer(bytes)}) {
    const std::string path = fuzz::write_temp("c.ckpt", file);
    fuzz::expect_clean(path, [&] {
      nn::Checkpoint c = nn::read_checkpoint(path);
      if (c.values.size() != c.m.size() || c.m.size() != c.v.size())
        fuzz::finding("checkpoint tensors differ in length");
    });
  }
  return 0;
}
