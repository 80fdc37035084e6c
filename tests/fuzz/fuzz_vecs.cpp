// Fuzz target: TEXMEX vector files; the first byte picks .fvecs, .ivecs or .bvecs.
#include <cstdint>
#include <string>

#include "models/ann/vectors.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessel;
  if (size < 1) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const int kind = data[0] % 3;
  const std::string path = fuzz::write_temp(kind == 0   ? "v.fvecs"
                                            : kind == 1 ? "v.ivecs"
                                                        : "v.bvecs",
                                            bytes);
  fuzz::expect_clean(std::string(kind == 0   ? "v.fvecs"
                                 : kind == 1 ? "v.ivecs"
                                             : "v.bvecs"),
                     [&] {
                       if (kind == 0) {
                         ann::VectorSet v = ann::read_fvecs(path);
                         if (v.data.size() != static_cast<size_t>(v.n) * static_cast<size_t>(v.dim))
                           fuzz::finding("fvecs: n x dim does not match the data");
                       } else if (kind == 1) {
                         ann::read_ivecs(path);
                       } else {
                         ann::VectorSet v = ann::read_bvecs(path);
                         if (v.data.size() != static_cast<size_t>(v.n) * static_cast<size_t>(v.dim))
                           fuzz::finding("bvecs: n x dim does not match the data");
                       }
                     });
  // Format detection: a TEXMEX name over content that may carry another format's signature.
  if (kind != 1)
    fuzz::expect_clean(kind == 0 ? "v.fvecs" : "v.bvecs", [&] {
      ann::VectorSet v = ann::read_vectors(path);
      if (v.data.size() != static_cast<size_t>(v.n) * static_cast<size_t>(v.dim))
        fuzz::finding("read_vectors: n x dim does not match the data");
    });
  return 0;
}
