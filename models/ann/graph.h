// Directed proximity graphs over a vector set: adjacency storage, reachability, index files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessel::ann {

// Adjacency lists in compressed form: node i's out-neighbours are
// edges[offsets[i] .. offsets[i+1]). One contiguous array keeps a search's adjacency reads
// cache-friendly and gives each list a stable byte address for memory traces.
struct Graph {
  std::vector<int64_t> offsets{0};
  std::vector<int32_t> edges;
  int32_t entry = 0;  // where every search starts (NSG's navigating node)
  // Further start nodes every search also evaluates first (NsgParams::entry_points); empty for
  // the paper's single navigating node.
  std::vector<int32_t> extra_entries;

  int64_t size() const { return static_cast<int64_t>(offsets.size()) - 1; }
  int64_t edge_count() const { return static_cast<int64_t>(edges.size()); }
  int degree(int64_t i) const { return static_cast<int>(offsets[i + 1] - offsets[i]); }
  const int32_t* neighbours(int64_t i) const { return edges.data() + offsets[i]; }
  int max_degree() const;
  double mean_degree() const;

  static Graph from_lists(const std::vector<std::vector<int32_t>>& lists, int32_t entry);
  std::vector<std::vector<int32_t>> to_lists() const;
};

// Every one of n nodes once, breadth first: from each of `roots` in turn, then from every node
// not yet reached, by id. `for_each_neighbour(u, visit)` calls visit(v) for each out-neighbour
// v of u. Neighbours come close together in the order (the packed layout, the NSG build).
template <typename ForEachNeighbour>
std::vector<int32_t> breadth_first_order(int64_t n, const std::vector<int32_t>& roots,
                                         const ForEachNeighbour& for_each_neighbour) {
  std::vector<int32_t> order;
  order.reserve(static_cast<std::size_t>(n));
  std::vector<char> placed(static_cast<std::size_t>(n), 0);
  auto grow_from = [&](int32_t root) {
    if (placed[root]) return;
    placed[root] = 1;
    // `order` never reallocates (reserved), so it is read while it grows.
    for (std::size_t head = (order.push_back(root), order.size() - 1); head < order.size(); ++head)
      for_each_neighbour(order[head], [&](int32_t v) {
        if (!placed[v]) placed[v] = 1, order.push_back(v);
      });
  };
  for (int32_t r : roots) grow_from(r);
  for (int64_t i = 0; i < n; ++i) grow_from(static_cast<int32_t>(i));
  return order;
}

// Ints per slot of the packed layout (PackedIndex): the degree word and the list of 95% of the
// nodes (of every node when `cover_all`), rounded up to whole 64-byte lines. The NSG build
// fills lists up to this capacity (NsgParams::slot_fill), which therefore costs no memory.
int packed_slot_stride(std::vector<int> degrees, bool cover_all);

// Nodes reachable from `from` by following out-edges (breadth-first), as a 0/1 mask.
std::vector<char> reachable_from(const Graph& g, int32_t from);
int64_t count_reachable(const Graph& g, int32_t from);

// Which algorithm built an index (recorded in the file so `search` can report it).
enum class GraphKind : uint32_t { kNsg = 1, kMrng = 2, kHnswFlat = 3, kKnn = 4 };
const char* graph_kind_name(GraphKind k);

// Index file, little-endian:
//   magic "TSLANNG\0", u32 version (2), u32 kind, i64 nodes, i32 dim, i32 entry,
//   i64 edge count, u64 base checksum, i32 extra entry count, extra entries x i32 ids,
//   nodes+1 x i64 offsets, edges x i32 ids, u64 FNV-1a checksum of all preceding bytes.
// The vectors themselves are not stored: an index is searched together with the base it was
// built from; `dim`, the node count and the base checksum (vector_checksum of the base as read,
// 0 when the writer recorded none) catch another one. Version 1 files (no base checksum) still
// load, with base_checksum 0. Loading checks every field and throws tessel::IoError naming the
// file and the fault (bad magic, unsupported version, truncated, offsets not increasing,
// neighbour id out of range, checksum mismatch).
constexpr uint32_t kGraphFileVersion = 2;
struct IndexFile {
  Graph graph;
  GraphKind kind = GraphKind::kNsg;
  int dim = 0;
  uint64_t base_checksum = 0;  // vector_checksum of the base; 0: not recorded
};
void save_index(const std::string& path, const IndexFile& index);
IndexFile load_index(const std::string& path);

}  // namespace tessel::ann
