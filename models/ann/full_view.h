// Zoom's "full view": full-precision vectors in an on-disk file laid out for 4 KiB page reads,
// read per query with parallel I/O (io_uring or a thread pool), O_DIRECT where the filesystem
// allows, and the exact re-rank of a preview's candidates.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/ann/vectors.h"

namespace tessel::ann {

// File layout: page 0 is the header; vector i lives in data page 1 + i / per_page at byte
// (i % per_page) * dim * 4 when a vector fits a page (several per page, none straddling a page
// boundary), else in pages 1 + i * span .. + span - 1 from their first byte. All reads are whole
// 4 KiB-aligned pages, as O_DIRECT requires.
inline constexpr int kFullViewPage = 4096;

struct FullViewLayout {
  int dim = 0;
  int64_t count = 0;
  int per_page = 0;  // vectors per page (0 when a vector spans pages)
  int span = 1;      // pages per vector (1 when per_page > 0)
  static FullViewLayout of(int dim, int64_t count);
  int64_t data_pages() const;
  int64_t first_page(int64_t id) const { return per_page ? 1 + id / per_page : 1 + id * span; }
  int64_t offset_in_page(int64_t id) const {
    return per_page ? (id % per_page) * int64_t{dim} * 4 : 0;
  }
  int64_t file_bytes() const { return (1 + data_pages()) * kFullViewPage; }
};

// 64-bit checksum of the vectors' bytes (FNV-1a over 32-bit words): the identity of a data set
// that an index records, so an index is never used with another file's vectors.
uint64_t vectors_checksum(const VectorSet& v);

// Writes the file through a temporary name and a rename: nothing half-written on error.
// Returns the checksum stored in the header.
uint64_t write_full_view(const std::string& path, const VectorSet& v);

// kMmap maps the file (no O_DIRECT): with the file in the page cache a read is a memory copy,
// the "full view in the page cache" case without a system call per page.
enum class FullViewIo { kUring, kThreads, kSequential, kMmap };
const char* full_view_io_name(FullViewIo io);
bool full_view_has_uring();  // built with liburing

struct FullViewOptions {
  bool direct = true;  // O_DIRECT; falls back (direct() == false) where the filesystem refuses
  FullViewIo io = FullViewIo::kUring;  // kUring without liburing falls back to kThreads
  int queue_depth = 64;                // io_uring entries / thread-pool threads (>= 1)
  int expected_dim = -1;               // >= 0: the dimension the index was built for
  uint64_t expected_checksum = 0;      // != 0: the checksum the index recorded
  bool verify_data = false;            // recompute the data's checksum against the header on open
};

struct FullViewReadStats {
  int64_t reads = 0;  // page reads issued (distinct pages)
  int64_t bytes = 0;
};

class FullView {
 public:
  // Opens and checks the file. IoError naming the file when it is missing or unreadable, not a
  // full-view file, shorter than its header says, of another dimension than expected, or its
  // checksum is not the expected one (an index built from another data file).
  FullView(const std::string& path, const FullViewOptions& options);
  ~FullView();
  FullView(const FullView&) = delete;
  FullView& operator=(const FullView&) = delete;

  const FullViewLayout& layout() const { return layout_; }
  int dim() const { return layout_.dim; }
  int64_t count() const { return layout_.count; }
  uint64_t checksum() const { return checksum_; }
  bool direct() const { return direct_; }  // O_DIRECT in effect
  FullViewIo io() const { return io_; }
  const std::string& path() const { return path_; }

  // The distinct pages (sorted) holding `ids`: what a query reads, also the SSD replay's input.
  std::vector<int64_t> pages_of(const int32_t* ids, int n) const;
  // Reads the vectors `ids` (all pages in parallel) into out (n x dim).
  void read(const int32_t* ids, int n, float* out, FullViewReadStats* stats = nullptr);
  // Reads the candidates and returns the k nearest to q by exact float distance (ascending,
  // ties by id) into out_ids / out_dist; fewer than k candidates leave the rest as -1 / inf.
  void rerank(const float* q, const int32_t* ids, int n, int k, int32_t* out_ids, float* out_dist,
              FullViewReadStats* stats = nullptr);

 private:
  void read_pages(const std::vector<int64_t>& pages);  // into buffer_, page j at j * 4096

  struct Engine;
  std::string path_;
  int fd_ = -1;
  bool direct_ = false;
  FullViewIo io_;
  FullViewLayout layout_;
  uint64_t checksum_ = 0;
  int queue_depth_;
  std::unique_ptr<Engine> engine_;
  uint8_t* buffer_ = nullptr;     // page-aligned
  const uint8_t* map_ = nullptr;  // kMmap: the whole file
  int64_t buffer_pages_ = 0;
  std::vector<int64_t> pages_;
  std::vector<float> rows_;
};

}  // namespace tessel::ann
