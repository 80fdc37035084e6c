// Vector sources of the ANN studies: files or the seeded mixture, with row ranges.
#include "models/ann/vector_source.h"

#include <cstdint>

#include "runtime/core/limits.h"

namespace tessel::ann {

int64_t parse_count(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 15)
    return -1;
  return std::stoll(text);
}

const KeySet& vector_source_keys() {
  static const KeySet keys = [] {
    KeySet k("vector source");
    k.text("vectors",
           "base set: a file (IDX images such as MNIST's or `.npy`, found by content; "
           "`.fvecs`/`.fvec`/`.bvecs`/`.bvec` by name, any case; each gzipped or not; docs/ann.md, "
           "\"Vector files\"; relative to the config file) or `mixture:<n>[:<stream>]`, the "
           "seeded Gaussian mixture");
    k.text("vectors_rows", "keep these rows only: `begin:end` (either side may be left out)")
        .opt("all");
    k.text("queries", "query set, in the forms of `vectors`").opt("required when searching");
    k.text("queries_rows", "keep these query rows only: `begin:end`").opt("all");
    k.integer("mixture_seed", 0, int64_t{1} << 48, "seed of the mixture sets").def("2026");
    return k;
  }();
  return keys;
}

VectorSource VectorSource::read(const Config& w, const std::string& key, uint64_t seed) {
  VectorSource s;
  s.where = w.at(key);
  s.spec = w.get<std::string>(key);
  s.seed = seed;
  if (s.spec.rfind("mixture:", 0) == 0) {
    const std::string rest = s.spec.substr(8);
    const auto colon = rest.find(':');
    s.mixture_n = parse_count(rest.substr(0, colon));
    const int64_t stream = colon == std::string::npos ? 0 : parse_count(rest.substr(colon + 1));
    if (s.mixture_n < 1 || stream < 0)
      w.fail(key, "expected mixture:<n>[:<stream>] with whole numbers, got '" + s.spec + "'");
    s.stream = static_cast<uint64_t>(stream);
    check_allocation(w, key, {s.mixture_n, MixtureSpec{}.dim}, sizeof(float), "mixture vectors");
  } else {
    s.spec = w.get_path(key);
  }
  if (w.has(key + "_rows")) {
    s.rows_where = w.at(key + "_rows");
    s.rows = w.get<std::string>(key + "_rows");
    // The form is checked here, before anything loads; the range against the set in load().
    const auto colon = s.rows.find(':');
    const int64_t begin = colon == 0 ? 0 : parse_count(s.rows.substr(0, colon));
    const int64_t end = colon == std::string::npos   ? -1
                        : colon + 1 == s.rows.size() ? INT64_MAX
                                                     : parse_count(s.rows.substr(colon + 1));
    if (colon == std::string::npos || begin < 0 || end <= begin)
      w.fail(key + "_rows", "expected begin:end with begin < end, got '" + s.rows + "'");
  }
  return s;
}

VectorSet VectorSource::load() const {
  VectorSet v;
  if (mixture_n > 0) {
    MixtureSpec m;
    m.seed = seed;
    v = gaussian_mixture(m, mixture_n, stream);
  } else {
    v = read_vectors(spec);  // format by content (signatures), TEXMEX by name
  }
  if (!rows.empty()) {
    const auto colon = rows.find(':');
    const int64_t b = colon == 0 ? 0 : parse_count(rows.substr(0, colon));
    const int64_t e = colon == std::string::npos ? -1
                      : colon + 1 == rows.size() ? v.n
                                                 : parse_count(rows.substr(colon + 1));
    if (e > v.n || b >= e)
      rows_where.fail(
          "", "rows " + rows + " outside the " + std::to_string(v.n) + " vectors of " + spec);
    v = v.slice(b, e);
  }
  return v;
}

}  // namespace tessel::ann
