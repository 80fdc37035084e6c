// Carousel Memory's sample store: every streamed sample on storage, one fixed-size record
// per sample in one file, written by a writer thread, read back with pread (O_DIRECT where
// the filesystem takes it), class-balanced eviction when full, header + checksums.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "models/common/rng.h"
#include "models/continual/sample.h"

namespace tessel::continual {

struct StoreOptions {
  std::string path;
  int64_t capacity = 0;         // records (samples)
  int sample_bytes = 0;         // raw bytes per sample
  int logit_count = 0;          // floats per sample
  int classes = 0;              // labels 0..classes-1
  bool direct = true;           // try O_DIRECT (falls back to buffered I/O where refused)
  bool refuse_crashed = false;  // a store left by a crash: refuse (true) or rebuild (false)
  int writer_cpu = -1;          // the writer thread's CPU (-1: not pinned)
};

// File layout: a 4096-byte header, then `capacity` records of record_bytes() each.
//   header: "TSLCARM\0", u32 version 1, u32 state (1 open, 2 closed cleanly), u64 capacity,
//           u32 record_bytes, u32 sample_bytes, u32 logit_count, u32 classes, u64 records
//           written, u32 CRC-32 of the preceding bytes.
//   record: u32 magic "CREC", i32 label, u32 id, u32 CRC-32 of (label, id, payload), payload
//           = pixels then logits (little-endian floats), zero padding to a multiple of 4096.
// A run marks the header `open` before its first record write and `closed` after the last
// one is on disk (fsync), so a store whose header still says `open` was left by a crash:
// its records may be torn or half-indexed and are never read.
class SampleStore {
 public:
  static constexpr uint32_t kHeaderBytes = 4096;
  static constexpr uint32_t kVersion = 1;
  static constexpr uint32_t kStateOpen = 1, kStateClosed = 2;

  // Opens or creates the file and preallocates it (an unwritable or full path fails here).
  // An existing file must be a store: a bad magic or header checksum is "corrupt" and
  // refused; a store closed cleanly has every record's checksum verified (corrupt: refused)
  // and is then reused as empty space; a crashed store is rebuilt or refused.
  // Throws IoError naming the path and the problem.
  explicit SampleStore(const StoreOptions& options);
  ~SampleStore();  // close() if still open; errors there are swallowed (call close())
  SampleStore(const SampleStore&) = delete;
  SampleStore& operator=(const SampleStore&) = delete;

  // Trainer thread. Picks a record (the next free one, or when full a random record of the
  // largest class; on ties the sample's own class, else the lowest label), updates the index and
  // queues the write. Returns the record index. The write reaches the file after kick() (or
  // flush/close) wakes the writer.
  int64_t put(const Sample& s, Rng& rng);
  // Wakes the writer for everything put() so far.
  void kick();
  // A uniformly random record whose write has reached the file; -1 when none.
  int64_t random_written(Rng& rng) const;
  // Trainer thread. A uniformly random record among those put() so far, written or not
  // (a choice that does not depend on the writer's progress); -1 when none.
  int64_t random_put(Rng& rng) const;
  // Any thread. Whether a put() of record r has not reached the file yet (so a read now
  // would return the record's previous content, or none).
  bool write_pending(int64_t r) const { return pending_[r].load() != 0; }
  // Any thread. Reads and checks record r (pread under the record's lock, so a write in
  // progress is never seen half done). Throws IoError on a checksum or format mismatch.
  Sample read(int64_t r) const;
  // Waits until every queued write has reached the file.
  void flush();
  // Flushes, fsyncs and marks the header closed. Throws IoError on failure.
  void close();

  // Class of each record as indexed by put() (-1: empty); per-class record counts.
  const std::vector<int32_t>& record_labels() const { return labels_; }
  std::vector<int64_t> class_counts() const { return counts_; }
  int64_t size() const { return filled_; }
  int64_t capacity() const { return opt_.capacity; }
  uint32_t record_bytes() const { return record_bytes_; }
  uint64_t record_offset(int64_t r) const { return kHeaderBytes + uint64_t(r) * record_bytes_; }
  bool direct() const { return direct_; }
  bool rebuilt() const { return rebuilt_; }  // the file was left by a crash and rebuilt
  const std::string& path() const { return opt_.path; }
  uint64_t bytes_written() const { return bytes_written_.load(); }
  uint64_t bytes_read() const { return bytes_read_.load(); }
  uint64_t write_calls() const { return write_calls_.load(); }  // pwrite calls (coalesced)

  // Encodes / decodes one record (exposed for tests; decode checks magic and checksum and
  // throws IoError naming `where`).
  std::vector<uint8_t> encode(const Sample& s) const;
  Sample decode(const uint8_t* rec, const std::string& where) const;

 private:
  void write_header(uint32_t state);
  void check_existing(int fd, uint64_t size);
  void writer_loop();
  std::mutex& record_lock(int64_t r) const { return stripes_[uint64_t(r) % kStripes]; }

  static constexpr uint64_t kStripes = 64;
  StoreOptions opt_;
  uint32_t record_bytes_ = 0;
  int fd_ = -1;
  bool direct_ = false, rebuilt_ = false, closed_ = false;
  std::vector<int32_t> labels_;
  std::vector<int64_t> counts_;
  std::vector<std::vector<int64_t>> by_class_;  // records of each class
  std::vector<int64_t> pos_in_class_;           // record → index in by_class_[label]
  int64_t filled_ = 0;
  std::unique_ptr<std::atomic<uint8_t>[]> written_;   // record's first write is on file
  std::unique_ptr<std::atomic<uint32_t>[]> pending_;  // puts of the record not yet on file
  std::vector<int64_t> written_list_;                 // records written, for random_written
  mutable std::mutex written_mu_;
  mutable std::unique_ptr<std::mutex[]> stripes_;

  struct Job {
    int64_t record;
    std::vector<uint8_t> bytes;
  };
  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<Job> queue_;
  bool busy_ = false, stop_ = false;
  std::string write_error_;
  std::thread writer_;
  mutable std::atomic<uint64_t> bytes_written_{0}, bytes_read_{0}, write_calls_{0};
};

}  // namespace tessel::continual
