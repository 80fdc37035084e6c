// Graph storage helpers, breadth-first reachability and the versioned index file.
#include "models/ann/graph.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "runtime/core/atomic_file.h"
#include "runtime/core/error.h"
#include "runtime/core/file_io.h"

namespace tessel::ann {
namespace {

constexpr char kMagic[8] = {'T', 'S', 'L', 'A', 'N', 'N', 'G', '\0'};

uint64_t fnv1a(const char* p, std::size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 0x100000001b3ull;
  return h;
}

template <typename T>
void put(std::string& out, T v) {
  for (std::size_t k = 0; k < sizeof(T); ++k)
    out.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * k)) & 0xFF));
}

class Reader {
 public:
  Reader(const std::string& bytes, const std::string& path) : b_(bytes), path_(path) {}
  template <typename T>
  T get(const char* what) {
    if (b_.size() - pos_ < sizeof(T)) throw IoError(path_ + ": truncated in " + what);
    uint64_t v = 0;
    for (std::size_t k = 0; k < sizeof(T); ++k)
      v |= static_cast<uint64_t>(static_cast<unsigned char>(b_[pos_ + k])) << (8 * k);
    pos_ += sizeof(T);
    return static_cast<T>(v);
  }
  std::size_t pos() const { return pos_; }
  std::size_t left() const { return b_.size() - pos_; }

 private:
  const std::string& b_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

}  // namespace

int Graph::max_degree() const {
  int m = 0;
  for (int64_t i = 0; i < size(); ++i) m = std::max(m, degree(i));
  return m;
}

int packed_slot_stride(std::vector<int> degrees, bool cover_all) {
  // Degrees are skewed: NSG's repair edges and kept reverse edges give a few nodes lists far
  // above the mean (139 against 16.4 on the 200k mixture), and sizing every slot for them costs
  // more memory than listing them apart. Each overflowing list costs the search a second
  // dependent read, so the share stays small: at a 16-int stride 39% of tight32's nodes
  // overflowed and QPS fell by a third (docs/ann.md, "Packed layout"); 95% rather than 99%
  // because hubs with all their reverse edges kept (NsgParams::reverse) push the 99th
  // percentile far above the 95th.
  int cover = 0;
  if (!degrees.empty()) {
    auto at = cover_all ? std::max_element(degrees.begin(), degrees.end())
                        : degrees.begin() + (degrees.size() - 1) * 95 / 100;
    if (!cover_all) std::nth_element(degrees.begin(), at, degrees.end());
    cover = *at;
  }
  return (1 + std::max(cover, 1) + 15) / 16 * 16;
}

double Graph::mean_degree() const {
  return size() ? static_cast<double>(edge_count()) / static_cast<double>(size()) : 0.0;
}

Graph Graph::from_lists(const std::vector<std::vector<int32_t>>& lists, int32_t entry) {
  Graph g;
  g.entry = entry;
  g.offsets.resize(lists.size() + 1);
  g.offsets[0] = 0;
  for (std::size_t i = 0; i < lists.size(); ++i)
    g.offsets[i + 1] = g.offsets[i] + static_cast<int64_t>(lists[i].size());
  g.edges.reserve(static_cast<std::size_t>(g.offsets.back()));
  for (const auto& l : lists) g.edges.insert(g.edges.end(), l.begin(), l.end());
  return g;
}

std::vector<std::vector<int32_t>> Graph::to_lists() const {
  std::vector<std::vector<int32_t>> out(static_cast<std::size_t>(size()));
  for (int64_t i = 0; i < size(); ++i) out[i].assign(neighbours(i), neighbours(i) + degree(i));
  return out;
}

std::vector<char> reachable_from(const Graph& g, int32_t from) {
  std::vector<char> seen(static_cast<std::size_t>(g.size()), 0);
  if (g.size() == 0) return seen;
  std::vector<int32_t> frontier{from};
  seen[from] = 1;
  while (!frontier.empty()) {
    std::vector<int32_t> next;
    for (int32_t u : frontier)
      for (int j = 0; j < g.degree(u); ++j) {
        const int32_t v = g.neighbours(u)[j];
        if (!seen[v]) {
          seen[v] = 1;
          next.push_back(v);
        }
      }
    frontier.swap(next);
  }
  return seen;
}

int64_t count_reachable(const Graph& g, int32_t from) {
  int64_t c = 0;
  for (char s : reachable_from(g, from)) c += s;
  return c;
}

const char* graph_kind_name(GraphKind k) {
  switch (k) {
    case GraphKind::kNsg:
      return "nsg";
    case GraphKind::kMrng:
      return "mrng";
    case GraphKind::kHnswFlat:
      return "hnsw-flat";
    case GraphKind::kKnn:
      return "knn";
  }
  return "unknown";
}

void save_index(const std::string& path, const IndexFile& index) {
  const Graph& g = index.graph;
  std::string out(kMagic, sizeof(kMagic));
  put<uint32_t>(out, kGraphFileVersion);
  put<uint32_t>(out, static_cast<uint32_t>(index.kind));
  put<int64_t>(out, g.size());
  put<int32_t>(out, index.dim);
  put<int32_t>(out, g.entry);
  put<int64_t>(out, g.edge_count());
  put<uint64_t>(out, index.base_checksum);
  put<int32_t>(out, static_cast<int32_t>(g.extra_entries.size()));
  for (int32_t e : g.extra_entries) put<int32_t>(out, e);
  out.reserve(out.size() + g.offsets.size() * 8 + g.edges.size() * 4 + 8);
  for (int64_t o : g.offsets) put<int64_t>(out, o);
  for (int32_t e : g.edges) put<int32_t>(out, e);
  put<uint64_t>(out, fnv1a(out.data(), out.size()));
  write_file_atomic(path, out, false);
}

IndexFile load_index(const std::string& path) {
  const std::string bytes = read_file(path, "index file");
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0)
    throw IoError(path + ": not a Tessel ANN index (bad magic)");
  Reader r(bytes, path);
  for (std::size_t k = 0; k < sizeof(kMagic); ++k) r.get<uint8_t>("magic");
  const uint32_t version = r.get<uint32_t>("header");
  if (version != 1 && version != kGraphFileVersion)
    throw IoError(path + ": index version " + std::to_string(version) +
                  " unsupported (this build reads 1 to " + std::to_string(kGraphFileVersion) + ")");
  IndexFile idx;
  const uint32_t kind = r.get<uint32_t>("header");
  if (kind < 1 || kind > 4) throw IoError(path + ": unknown graph kind " + std::to_string(kind));
  idx.kind = static_cast<GraphKind>(kind);
  const int64_t n = r.get<int64_t>("header");
  idx.dim = r.get<int32_t>("header");
  idx.graph.entry = r.get<int32_t>("header");
  const int64_t m = r.get<int64_t>("header");
  if (version >= 2) idx.base_checksum = r.get<uint64_t>("header");
  if (n <= 0 || n > INT32_MAX || idx.dim <= 0 || m < 0)
    throw IoError(path + ": header has nodes " + std::to_string(n) + ", dim " +
                  std::to_string(idx.dim) + ", edges " + std::to_string(m));
  if (idx.graph.entry < 0 || idx.graph.entry >= n)
    throw IoError(path + ": entry node " + std::to_string(idx.graph.entry) + " out of range");
  const int32_t extra = r.get<int32_t>("header");
  if (extra < 0 || extra > n)
    throw IoError(path + ": extra entry count " + std::to_string(extra) + " out of range");
  for (int32_t k = 0; k < extra; ++k) {
    const int32_t e = r.get<int32_t>("entries");
    if (e < 0 || e >= n)
      throw IoError(path + ": extra entry " + std::to_string(e) + " out of range");
    idx.graph.extra_entries.push_back(e);
  }
  const uint64_t need = static_cast<uint64_t>(n + 1) * 8 + static_cast<uint64_t>(m) * 4 + 8;
  if (r.left() != need)
    throw IoError(path + ": truncated or oversized (" + std::to_string(r.left()) +
                  " bytes after header, expected " + std::to_string(need) + ")");
  idx.graph.offsets.resize(static_cast<std::size_t>(n + 1));
  for (auto& o : idx.graph.offsets) o = r.get<int64_t>("offsets");
  if (idx.graph.offsets[0] != 0 || idx.graph.offsets[n] != m)
    throw IoError(path + ": offsets do not span the edge array");
  for (int64_t i = 0; i < n; ++i)
    if (idx.graph.offsets[i + 1] < idx.graph.offsets[i])
      throw IoError(path + ": offsets decrease at node " + std::to_string(i));
  idx.graph.edges.resize(static_cast<std::size_t>(m));
  for (auto& e : idx.graph.edges) {
    e = r.get<int32_t>("edges");
    if (e < 0 || e >= n)
      throw IoError(path + ": neighbour id " + std::to_string(e) + " out of range at edge " +
                    std::to_string(&e - idx.graph.edges.data()));
  }
  const std::size_t body = r.pos();
  const uint64_t stored = r.get<uint64_t>("checksum");
  if (stored != fnv1a(bytes.data(), body))
    throw IoError(path + ": checksum mismatch (corrupt file)");
  return idx;
}

}  // namespace tessel::ann
