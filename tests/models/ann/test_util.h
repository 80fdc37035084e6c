// Helpers shared by the ANN tests: temp files, MNIST location, brute-force references.
#pragma once

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "models/ann/vectors.h"
#include "runtime/core/error.h"

namespace tessel::ann::testing {

inline std::string temp_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "tessel_ann_tests";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

inline std::string write_bytes(const std::string& name, const std::string& bytes) {
  const std::string p = temp_path(name);
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no tessel::Error thrown)";
}

// The MNIST test images from ../shared/data (see its README); empty when absent.
inline std::string mnist_images_path() {
  for (const char* p : {TESSEL_SOURCE_DIR "/../shared/data/mnist/t10k-images-idx3-ubyte.gz",
                        "../shared/data/mnist/t10k-images-idx3-ubyte.gz"})
    if (std::filesystem::exists(p)) return p;
  return "";
}

// Squared distance in long double, independent of the library's kernels.
inline long double ref_dist(const float* a, const float* b, int dim) {
  long double s = 0;
  for (int k = 0; k < dim; ++k) {
    const long double d = static_cast<long double>(a[k]) - b[k];
    s += d * d;
  }
  return s;
}

// Brute-force k nearest (ascending by distance, then id) of `q` among base rows, optionally
// skipping one row.
inline std::vector<int32_t> ref_knn(const VectorSet& base, const float* q, int k,
                                    int64_t skip = -1) {
  std::vector<std::pair<long double, int32_t>> all;
  for (int64_t i = 0; i < base.n; ++i)
    if (i != skip) all.emplace_back(ref_dist(q, base.row(i), base.dim), static_cast<int32_t>(i));
  std::partial_sort(all.begin(), all.begin() + k, all.end());
  std::vector<int32_t> out;
  for (int j = 0; j < k; ++j) out.push_back(all[j].second);
  return out;
}

// The IVF tests' set: 4,000 base vectors and 40 queries from a 30-centre, 32-d mixture.
struct SmallMixture {
  VectorSet base, queries;
  SmallMixture() {
    MixtureSpec m;
    m.centres = 30;
    m.dim = 32;
    m.sigma = 0.1;
    m.seed = 8;
    base = gaussian_mixture(m, 4000, 0);
    queries = gaussian_mixture(m, 40, 1);
  }
};

}  // namespace tessel::ann::testing
