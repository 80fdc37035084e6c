// Vector sets for nearest-neighbour search: fvecs/ivecs/bvecs files, MNIST, Gaussian mixtures.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessel::ann {

// n vectors of `dim` floats, row-major and contiguous, so a vector read is one memory range
// (the memory traces rely on that layout: vector i lives at byte offset i * dim * 4).
struct VectorSet {
  int64_t n = 0;
  int dim = 0;
  std::vector<float> data;

  VectorSet() = default;
  VectorSet(int64_t n_, int dim_) : n(n_), dim(dim_), data(static_cast<std::size_t>(n_) * dim_) {}
  const float* row(int64_t i) const { return data.data() + i * dim; }
  float* row(int64_t i) { return data.data() + i * dim; }
  // Rows [begin, end) as a new set (MNIST base/query splits, test subsets).
  VectorSet slice(int64_t begin, int64_t end) const;
};

// n rows of `dim` int32 (ivecs: ground-truth neighbour ids).
struct IntRows {
  int64_t n = 0;
  int dim = 0;
  std::vector<int32_t> data;
  const int32_t* row(int64_t i) const { return data.data() + i * dim; }
};

// The TEXMEX formats: each record is a little-endian int32 dimension followed by that many
// components (float32, int32 or uint8). Every record must have the same dimension. Errors are
// tessel::IoError naming the file, the record and what is wrong
// ("base.fvecs: record 17: dimension 96, expected 128", "...: truncated").
VectorSet read_fvecs(const std::string& path);
IntRows read_ivecs(const std::string& path);
VectorSet read_bvecs(const std::string& path);  // uint8 components widened to float
void write_fvecs(const std::string& path, const VectorSet& v);
void write_ivecs(const std::string& path, const IntRows& v);
// Components must be integers in [0, 255]; anything else is an IoError (no silent rounding).
void write_bvecs(const std::string& path, const VectorSet& v);

// Parses an IDX3 image file (magic 2051, as MNIST ships it; gzip-compressed when it starts with
// the gzip signature) into one vector of rows*cols pixel values 0..255 per image.
VectorSet read_mnist_images(const std::string& path);

// Reads a base or query set, choosing the format by content where the format has a signature:
// gzip (1f 8b) is inflated first, then IDX images (00 00 08 03) or a .npy array (\x93NUMPY,
// 2-D, float32/float64/int8) are read whatever the name. TEXMEX files have no signature, so
// the name picks the component type (.fvecs/.fvec: float32, .bvecs/.bvec: uint8; any case,
// optionally followed by .gz) and every record's dimension field is checked. A name that says
// one format over content of another, an ivecs file (ids, not vectors) and content that
// matches no format are IoErrors naming the file and what was expected.
VectorSet read_vectors(const std::string& path);

// FNV-1a 64 over n (int64), dim (int32) and the components' float32 bits, all little-endian:
// what an index file records of the base it was built from. Never 0 (0 means "not recorded").
uint64_t vector_checksum(const VectorSet& v);

// The synthetic benchmark set of issue 9: `centres` Gaussian centres drawn uniformly in
// [0,1]^dim, each vector a uniformly chosen centre plus N(0, sigma^2) noise per component.
// Centres depend only on `seed`; `stream` selects an independent sample of vectors from the same
// mixture, so base (stream 0) and queries (stream 1) share centres but no points.
struct MixtureSpec {
  int centres = 100;
  int dim = 128;
  double sigma = 0.1;
  uint64_t seed = 2026;
};
VectorSet gaussian_mixture(const MixtureSpec& spec, int64_t n, uint64_t stream);

}  // namespace tessel::ann
