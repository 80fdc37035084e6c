// Fuzz target: ANN graph index files, as given and with the trailing checksum repaired.
#include <cstdint>
#include <string>

#include "models/ann/graph.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessel;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  for (const std::string& file : {bytes, fuzz::with_fnv_trailer(bytes)}) {
    const std::string path = fuzz::write_temp("g.index", file);
    fuzz::expect_clean(path, [&] {
      ann::IndexFile idx = ann::load_index(path);
      // A loaded graph must be safe to walk.
      ann::count_reachable(idx.graph, idx.graph.entry);
    });
  }
  return 0;
}
