// Fuzz target: IDX files (MNIST), plain or gzip, through both readers: models/data's
// read_idx and the ANN studies' read_mnist_images and read_vectors. The first byte picks a .gz
// name.
#include <cstdint>
#include <string>

#include "models/ann/vectors.h"
#include "models/data/mnist.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessel;
  if (size < 1) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string path =
      fuzz::write_temp(data[0] & 1 ? "x-idx3-ubyte.gz" : "x-idx3-ubyte", bytes);
  fuzz::expect_clean(path, [&] {
    data::IdxArray a = data::read_idx(path);
    size_t n = 1;
    for (auto d : a.dims) n *= static_cast<size_t>(d);
    if (n != a.data.size()) fuzz::finding("idx: dims do not match the data");
  });
  // The ANN reader names the file by its base name.
  fuzz::expect_clean("x-idx3-ubyte", [&] { ann::read_mnist_images(path); });
  // The same bytes through format detection by content (IDX, .npy, gzip of either).
  fuzz::expect_clean("x-idx3-ubyte", [&] {
    ann::VectorSet v = ann::read_vectors(path);
    if (v.data.size() != static_cast<size_t>(v.n) * static_cast<size_t>(v.dim))
      fuzz::finding("read_vectors: n x dim does not match the data");
  });
  return 0;
}
