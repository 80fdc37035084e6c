// The full-view file: writer, checks on open, parallel page reads, exact re-rank.
#include "models/ann/full_view.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>

#ifndef TESSEL_ANN_HAVE_URING
#define TESSEL_ANN_HAVE_URING 0
#endif
#if TESSEL_ANN_HAVE_URING
#include <liburing.h>
#endif

#include "models/ann/distance.h"
#include "runtime/core/error.h"

namespace tessel::ann {
namespace {

constexpr char kMagic[8] = {'T', 'S', 'L', 'Z', 'F', 'V', '0', '1'};
constexpr uint32_t kVersion = 1;

// Page 0 of the file (the rest of the page is zero).
struct Header {
  char magic[8];
  uint32_t version;
  uint32_t dim;
  uint64_t count;
  uint32_t page_bytes;
  uint32_t per_page;
  uint32_t span;
  uint32_t reserved;
  uint64_t checksum;
};

struct Fnv {
  uint64_t h = 0xcbf29ce484222325ull;
  void add(const float* p, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      uint32_t w;
      std::memcpy(&w, p + i, 4);
      h = (h ^ w) * 0x100000001b3ull;
    }
  }
};

std::string errno_text() {
  return std::strerror(errno);
}

}  // namespace

FullViewLayout FullViewLayout::of(int dim, int64_t count) {
  FullViewLayout l;
  l.dim = dim;
  l.count = count;
  const int64_t bytes = int64_t{dim} * 4;
  if (bytes <= kFullViewPage) {
    l.per_page = static_cast<int>(kFullViewPage / bytes);
    l.span = 1;
  } else {
    l.per_page = 0;
    l.span = static_cast<int>((bytes + kFullViewPage - 1) / kFullViewPage);
  }
  return l;
}

int64_t FullViewLayout::data_pages() const {
  return per_page ? (count + per_page - 1) / per_page : count * span;
}

uint64_t vectors_checksum(const VectorSet& v) {
  Fnv f;
  f.add(v.data.data(), v.n * v.dim);
  return f.h;
}

const char* full_view_io_name(FullViewIo io) {
  switch (io) {
    case FullViewIo::kUring:
      return "io_uring";
    case FullViewIo::kThreads:
      return "threads";
    case FullViewIo::kMmap:
      return "mmap";
    default:
      return "sequential";
  }
}

bool full_view_has_uring() {
  return TESSEL_ANN_HAVE_URING != 0;
}

uint64_t write_full_view(const std::string& path, const VectorSet& v) {
  if (v.dim < 1) throw IoError(path + ": cannot write a full view of dimension 0");
  const FullViewLayout l = FullViewLayout::of(v.dim, v.n);
  Header h{};
  std::memcpy(h.magic, kMagic, 8);
  h.version = kVersion;
  h.dim = static_cast<uint32_t>(v.dim);
  h.count = static_cast<uint64_t>(v.n);
  h.page_bytes = kFullViewPage;
  h.per_page = static_cast<uint32_t>(l.per_page);
  h.span = static_cast<uint32_t>(l.span);
  h.checksum = vectors_checksum(v);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError(path + ": cannot open " + tmp + " for writing");
    std::vector<char> page(kFullViewPage, 0);
    std::memcpy(page.data(), &h, sizeof h);
    out.write(page.data(), kFullViewPage);
    const int64_t vbytes = int64_t{v.dim} * 4;
    for (int64_t p = 0; p < l.data_pages(); ++p) {
      std::fill(page.begin(), page.end(), 0);
      if (l.per_page) {
        for (int64_t j = 0; j < l.per_page; ++j) {
          const int64_t id = p * l.per_page + j;
          if (id >= v.n) break;
          std::memcpy(page.data() + j * vbytes, v.row(id), static_cast<std::size_t>(vbytes));
        }
      } else {
        const int64_t id = p / l.span, part = p % l.span;
        const int64_t off = part * kFullViewPage;
        const int64_t len = std::min<int64_t>(kFullViewPage, vbytes - off);
        std::memcpy(page.data(), reinterpret_cast<const char*>(v.row(id)) + off,
                    static_cast<std::size_t>(len));
      }
      out.write(page.data(), kFullViewPage);
    }
    out.close();
    if (!out) throw IoError(path + ": write failed (disk full?)");
    std::filesystem::rename(tmp, path);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
  return h.checksum;
}

// The parallel reader behind read_pages: an io_uring ring or a pool of blocking pread threads.
struct FullView::Engine {
#if TESSEL_ANN_HAVE_URING
  io_uring ring{};
  bool ring_ok = false;
#endif
  // Thread pool: `job(i)` for i in [0, total) by all workers and the caller.
  std::vector<std::thread> threads;
  std::mutex mu;
  std::condition_variable wake, done;
  std::function<void(int64_t)> job;
  std::atomic<int64_t> next{0};
  int64_t total = 0;
  int active = 0;
  uint64_t generation = 0;
  bool stop = false;

  void work() {
    for (int64_t i; (i = next.fetch_add(1)) < total;) job(i);
  }
  void start_pool(int n) {
    for (int t = 0; t < n; ++t)
      threads.emplace_back([this] {
        uint64_t seen = 0;
        for (;;) {
          {
            std::unique_lock<std::mutex> lock(mu);
            wake.wait(lock, [&] { return stop || generation != seen; });
            if (stop) return;
            seen = generation;
          }
          work();
          std::lock_guard<std::mutex> lock(mu);
          if (--active == 0) done.notify_one();
        }
      });
  }
  void run(int64_t n, std::function<void(int64_t)> f) {
    {
      std::lock_guard<std::mutex> lock(mu);
      job = std::move(f);
      total = n;
      next = 0;
      active = static_cast<int>(threads.size());
      ++generation;
    }
    wake.notify_all();
    work();
    std::unique_lock<std::mutex> lock(mu);
    done.wait(lock, [&] { return active == 0; });
  }
  ~Engine() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    wake.notify_all();
    for (auto& t : threads) t.join();
#if TESSEL_ANN_HAVE_URING
    if (ring_ok) io_uring_queue_exit(&ring);
#endif
  }
};

FullView::FullView(const std::string& path, const FullViewOptions& o)
    : path_(path), io_(o.io), queue_depth_(std::max(1, o.queue_depth)) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw IoError(path + ": cannot open: " + errno_text());
  if (!S_ISREG(st.st_mode)) throw IoError(path + ": not a regular file");
  // O_DIRECT keeps the page cache from answering the reads; some filesystems (tmpfs on older
  // kernels, some overlays) refuse it at open or at the first read: fall back and record it.
  if (o.direct && io_ != FullViewIo::kMmap) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
    direct_ = fd_ >= 0;
  }
  if (fd_ < 0) fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw IoError(path + ": cannot open: " + errno_text());
  buffer_pages_ = 64;
  if (::posix_memalign(reinterpret_cast<void**>(&buffer_), kFullViewPage,
                       static_cast<std::size_t>(buffer_pages_) * kFullViewPage) != 0)
    throw IoError(path + ": out of memory for read buffers");
  ssize_t got = ::pread(fd_, buffer_, kFullViewPage, 0);
  if (got < 0 && errno == EINVAL && direct_) {
    ::close(fd_);
    direct_ = false;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw IoError(path + ": cannot open: " + errno_text());
    got = ::pread(fd_, buffer_, kFullViewPage, 0);
  }
  auto fail = [&](const std::string& why) {
    ::close(fd_);
    std::free(buffer_);
    fd_ = -1;
    buffer_ = nullptr;
    throw IoError(path + ": " + why);
  };
  if (got < 0) fail("cannot read: " + errno_text());
  Header h{};
  if (got < static_cast<ssize_t>(sizeof h)) fail("shorter than a full-view header");
  std::memcpy(&h, buffer_, sizeof h);
  if (std::memcmp(h.magic, kMagic, 8) != 0) fail("not a full-view file (bad magic)");
  if (h.version != kVersion || h.page_bytes != kFullViewPage || h.dim < 1)
    fail("unsupported full-view header (version " + std::to_string(h.version) + ", page " +
         std::to_string(h.page_bytes) + ", dimension " + std::to_string(h.dim) + ")");
  layout_ = FullViewLayout::of(static_cast<int>(h.dim), static_cast<int64_t>(h.count));
  if (static_cast<int>(h.per_page) != layout_.per_page || static_cast<int>(h.span) != layout_.span)
    fail("inconsistent header (vectors per page)");
  checksum_ = h.checksum;
  if (st.st_size < layout_.file_bytes())
    fail("file is " + std::to_string(st.st_size) + " bytes but its header's " +
         std::to_string(layout_.count) + " x " + std::to_string(layout_.dim) + " vectors need " +
         std::to_string(layout_.file_bytes()) + " (short file)");
  if (o.expected_dim >= 0 && o.expected_dim != layout_.dim)
    fail("dimension " + std::to_string(layout_.dim) + ", but the index was built for dimension " +
         std::to_string(o.expected_dim));
  if (o.expected_checksum != 0 && o.expected_checksum != checksum_) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "data checksum %016llx, but the index was built from %016llx",
                  static_cast<unsigned long long>(checksum_),
                  static_cast<unsigned long long>(o.expected_checksum));
    fail(std::string(buf) + " (an index from another data file)");
  }
  engine_ = std::make_unique<Engine>();
  if (io_ == FullViewIo::kUring) {
    bool ring = false;
#if TESSEL_ANN_HAVE_URING
    engine_->ring_ok =
        io_uring_queue_init(static_cast<unsigned>(queue_depth_), &engine_->ring, 0) == 0;
    ring = engine_->ring_ok;
#endif
    if (!ring) io_ = FullViewIo::kThreads;  // no liburing, or the kernel refuses rings (seccomp)
  }
  if (io_ == FullViewIo::kThreads) engine_->start_pool(std::min(queue_depth_, 64) - 1);
  if (io_ == FullViewIo::kMmap) {
    void* m = ::mmap(nullptr, static_cast<std::size_t>(layout_.file_bytes()), PROT_READ,
                     MAP_SHARED | MAP_POPULATE, fd_, 0);
    if (m == MAP_FAILED) fail("cannot map: " + errno_text());
    map_ = static_cast<const uint8_t*>(m);
  }
  if (o.verify_data) {
    Fnv f;
    const int64_t vbytes = int64_t{layout_.dim} * 4;
    std::vector<float> row(layout_.dim);
    for (int64_t p0 = 0; p0 < layout_.data_pages(); p0 += buffer_pages_) {
      const int64_t np = std::min(buffer_pages_, layout_.data_pages() - p0);
      const ssize_t r = ::pread(fd_, buffer_, static_cast<std::size_t>(np) * kFullViewPage,
                                (1 + p0) * kFullViewPage);
      if (r != np * kFullViewPage) fail("read failed while verifying the data");
      if (layout_.per_page) {
        for (int64_t p = 0; p < np; ++p)
          for (int j = 0; j < layout_.per_page; ++j) {
            const int64_t id = (p0 + p) * layout_.per_page + j;
            if (id >= layout_.count) break;
            std::memcpy(row.data(), buffer_ + p * kFullViewPage + j * vbytes,
                        static_cast<std::size_t>(vbytes));
            f.add(row.data(), layout_.dim);
          }
      } else {
        // Spanning vectors: checksum by whole vectors, so chunks hold whole vectors only.
        for (int64_t p = 0; p + layout_.span <= np; p += layout_.span) {
          std::memcpy(row.data(), buffer_ + p * kFullViewPage, static_cast<std::size_t>(vbytes));
          f.add(row.data(), layout_.dim);
        }
      }
    }
    if (f.h != checksum_) fail("data does not match the checksum in its header (corrupt file)");
  }
}

FullView::~FullView() {
  engine_.reset();
  if (map_) ::munmap(const_cast<uint8_t*>(map_), static_cast<std::size_t>(layout_.file_bytes()));
  if (fd_ >= 0) ::close(fd_);
  std::free(buffer_);
}

std::vector<int64_t> FullView::pages_of(const int32_t* ids, int n) const {
  std::vector<int64_t> pages;
  pages.reserve(static_cast<std::size_t>(n) * layout_.span);
  for (int i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= layout_.count)
      throw IoError(path_ + ": vector id " + std::to_string(ids[i]) + " outside the " +
                    std::to_string(layout_.count) + " vectors of the file");
    const int64_t p = layout_.first_page(ids[i]);
    for (int s = 0; s < layout_.span; ++s) pages.push_back(p + s);
  }
  std::sort(pages.begin(), pages.end());
  pages.erase(std::unique(pages.begin(), pages.end()), pages.end());
  return pages;
}

void FullView::read_pages(const std::vector<int64_t>& pages) {
  const int64_t n = static_cast<int64_t>(pages.size());
  if (n > buffer_pages_) {
    std::free(buffer_);
    buffer_ = nullptr;
    buffer_pages_ = std::max<int64_t>(n, 2 * buffer_pages_);
    if (::posix_memalign(reinterpret_cast<void**>(&buffer_), kFullViewPage,
                         static_cast<std::size_t>(buffer_pages_) * kFullViewPage) != 0)
      throw IoError(path_ + ": out of memory for read buffers");
  }
  auto short_read = [&](int64_t page, long got) {
    throw IoError(path_ + ": read of page " + std::to_string(page) + " returned " +
                  std::to_string(got) + " bytes" + (got < 0 ? " (" + errno_text() + ")" : ""));
  };
  if (io_ == FullViewIo::kSequential) {
    for (int64_t j = 0; j < n; ++j) {
      const ssize_t r =
          ::pread(fd_, buffer_ + j * kFullViewPage, kFullViewPage, pages[j] * kFullViewPage);
      if (r != kFullViewPage) short_read(pages[j], static_cast<long>(r));
    }
    return;
  }
#if TESSEL_ANN_HAVE_URING
  if (io_ == FullViewIo::kUring) {
    io_uring& ring = engine_->ring;
    int64_t submitted = 0, completed = 0;
    while (completed < n) {
      // Keep up to queue_depth reads in flight: one submit call per refill.
      int queued = 0;
      while (submitted < n && submitted - completed < queue_depth_) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        if (!sqe) break;
        io_uring_prep_read(sqe, fd_, buffer_ + submitted * kFullViewPage, kFullViewPage,
                           static_cast<uint64_t>(pages[submitted]) * kFullViewPage);
        io_uring_sqe_set_data64(sqe, static_cast<uint64_t>(submitted));
        ++submitted, ++queued;
      }
      if (queued) {
        const int rc = io_uring_submit(&ring);
        if (rc < 0) {
          errno = -rc;
          short_read(pages[completed], -1);
        }
      }
      io_uring_cqe* cqe = nullptr;
      int rc = io_uring_wait_cqe(&ring, &cqe);
      if (rc < 0) {
        errno = -rc;
        short_read(pages[completed], -1);
      }
      // Drain every completion that is ready.
      do {
        const int64_t j = static_cast<int64_t>(io_uring_cqe_get_data64(cqe));
        const int res = cqe->res;
        io_uring_cqe_seen(&ring, cqe);
        ++completed;
        if (res != kFullViewPage) {
          // Reap what is still in flight before reporting, so the ring stays usable.
          while (completed < submitted && io_uring_wait_cqe(&ring, &cqe) == 0) {
            io_uring_cqe_seen(&ring, cqe);
            ++completed;
          }
          if (res < 0) errno = -res;
          short_read(pages[j], res);
        }
      } while (io_uring_peek_cqe(&ring, &cqe) == 0);
    }
    return;
  }
#endif
  std::atomic<int64_t> bad{-1};
  std::atomic<long> bad_got{0};
  engine_->run(n, [&](int64_t j) {
    const ssize_t r =
        ::pread(fd_, buffer_ + j * kFullViewPage, kFullViewPage, pages[j] * kFullViewPage);
    if (r != kFullViewPage) {
      bad = j;
      bad_got = static_cast<long>(r);
    }
  });
  if (bad >= 0) short_read(pages[bad], bad_got);
}

void FullView::read(const int32_t* ids, int n, float* out, FullViewReadStats* stats) {
  if (map_) {
    // Straight from the mapping: the pages touched are the reads counted.
    pages_ = pages_of(ids, n);
    if (stats) {
      stats->reads += static_cast<int64_t>(pages_.size());
      stats->bytes += static_cast<int64_t>(pages_.size()) * kFullViewPage;
    }
    const std::size_t vbytes = static_cast<std::size_t>(layout_.dim) * 4;
    for (int i = 0; i < n; ++i)
      std::memcpy(
          out + static_cast<int64_t>(i) * layout_.dim,
          map_ + layout_.first_page(ids[i]) * kFullViewPage + layout_.offset_in_page(ids[i]),
          vbytes);
    return;
  }
  pages_ = pages_of(ids, n);
  read_pages(pages_);
  if (stats) {
    stats->reads += static_cast<int64_t>(pages_.size());
    stats->bytes += static_cast<int64_t>(pages_.size()) * kFullViewPage;
  }
  const std::size_t vbytes = static_cast<std::size_t>(layout_.dim) * 4;
  for (int i = 0; i < n; ++i) {
    const int64_t p = layout_.first_page(ids[i]);
    const int64_t j = std::lower_bound(pages_.begin(), pages_.end(), p) - pages_.begin();
    // A spanning vector's pages are consecutive in the sorted list, hence in the buffer.
    std::memcpy(out + static_cast<int64_t>(i) * layout_.dim,
                buffer_ + j * kFullViewPage + layout_.offset_in_page(ids[i]), vbytes);
  }
}

void FullView::rerank(const float* q, const int32_t* ids, int n, int k, int32_t* out_ids,
                      float* out_dist, FullViewReadStats* stats) {
  rows_.resize(static_cast<std::size_t>(n) * layout_.dim);
  read(ids, n, rows_.data(), stats);
  std::vector<std::pair<float, int32_t>> d(n);
  for (int i = 0; i < n; ++i)
    d[i] = {l2_sq(q, rows_.data() + static_cast<int64_t>(i) * layout_.dim, layout_.dim), ids[i]};
  const int kk = std::min(k, n);
  std::partial_sort(d.begin(), d.begin() + kk, d.end());
  for (int i = 0; i < k; ++i) {
    out_ids[i] = i < kk ? d[i].second : -1;
    out_dist[i] = i < kk ? d[i].first : std::numeric_limits<float>::infinity();
  }
}

}  // namespace tessel::ann
