// Where a study's vectors come from: a vector file or the seeded Gaussian mixture, named by one
// workload key, optionally cut to a row range.
#pragma once

#include <cstdint>
#include <string>

#include "models/ann/vectors.h"
#include "runtime/core/config.h"
#include "runtime/core/keys.h"

namespace tessel::ann {

// workload.<key> (the base set, the queries): a file (read_vectors: IDX images such as MNIST's
// or .npy by content, .fvecs/.bvecs by name, gzipped or not; relative to the config file) or
// `mixture:<n>[:<stream>]`, the seeded synthetic set; `<key>_rows: begin:end` keeps those rows
// only.
struct VectorSource {
  Config where, rows_where;  // the keys' nodes, for errors found after loading
  std::string spec;
  int64_t mixture_n = -1;
  uint64_t stream = 0;
  std::string rows;
  uint64_t seed = 2026;  // of the mixture

  static VectorSource read(const Config& w, const std::string& key, uint64_t seed);
  VectorSet load() const;
  // Names the vectors loaded, for index caches.
  std::string identity() const { return spec + "|" + rows + "|" + std::to_string(seed); }
};

// The workload keys of the vector sources, shared by every ANN study (ann.*, ann.zoom, zoom):
// `vectors`, `queries`, their `_rows` and `mixture_seed`. `queries` is declared optional: the
// models that search read it as required.
const KeySet& vector_source_keys();

// A whole decimal number >= 0, or -1.
int64_t parse_count(const std::string& text);

}  // namespace tessel::ann
