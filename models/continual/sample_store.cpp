// Carousel Memory's on-disk sample store (see sample_store.h for the file layout).
#include "models/continual/sample_store.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "models/continual/cpu_pin.h"
#include "runtime/core/error.h"

namespace tessel::continual {
namespace {

constexpr char kMagic[8] = {'T', 'S', 'L', 'C', 'A', 'R', 'M', '\0'};
constexpr uint32_t kRecordMagic = 0x43455243u;  // "CREC" little-endian
constexpr uint32_t kRecordHead = 16;            // magic, label, id, crc
constexpr uint32_t kAlign = 4096;               // O_DIRECT: offsets, sizes and buffers on 4 KiB

// A buffer aligned for O_DIRECT.
struct AlignedBuffer {
  explicit AlignedBuffer(size_t n) : size(n) {
    void* p = nullptr;
    if (posix_memalign(&p, kAlign, n) != 0) throw std::bad_alloc();
    data = static_cast<uint8_t*>(p);
    std::memset(data, 0, n);
  }
  ~AlignedBuffer() { std::free(data); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  uint8_t* data = nullptr;
  size_t size = 0;
};

template <typename T>
void put_le(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(T));  // x86-64 and AArch64 Linux: little-endian hosts
}
template <typename T>
T get_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

std::string errno_text(int e) {
  return std::strerror(e);
}

// pread/pwrite of the whole range, retrying short transfers and EINTR.
bool full_io(int fd, uint8_t* buf, size_t n, uint64_t off, bool write, int* err) {
  size_t done = 0;
  while (done < n) {
    const ssize_t k = write ? ::pwrite(fd, buf + done, n - done, off_t(off + done))
                            : ::pread(fd, buf + done, n - done, off_t(off + done));
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      *err = k < 0 ? errno : (write ? ENOSPC : EIO);
      return false;
    }
    done += size_t(k);
  }
  return true;
}

}  // namespace

uint32_t crc32(const void* data, std::size_t n, uint32_t crc) {
  static const auto table = [] {
    std::vector<uint32_t> t(256);
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

SampleStore::SampleStore(const StoreOptions& options) : opt_(options) {
  const std::string where = "carm store " + opt_.path;
  if (opt_.path.empty()) throw IoError("carm store: empty path");
  if (opt_.capacity <= 0 || opt_.sample_bytes <= 0 || opt_.logit_count < 0 || opt_.classes <= 0)
    throw Error(where + ": capacity, sample size and classes must be positive", kExitConfig);
  const uint64_t payload =
      kRecordHead + uint64_t(opt_.sample_bytes) + 4 * uint64_t(opt_.logit_count);
  record_bytes_ = uint32_t((payload + kAlign - 1) / kAlign * kAlign);
  stripes_.reset(new std::mutex[kStripes]);
  labels_.assign(size_t(opt_.capacity), -1);
  pos_in_class_.assign(size_t(opt_.capacity), -1);
  counts_.assign(size_t(opt_.classes), 0);
  by_class_.resize(size_t(opt_.classes));
  written_.reset(new std::atomic<uint8_t>[size_t(opt_.capacity)]);
  pending_.reset(new std::atomic<uint32_t>[size_t(opt_.capacity)]);
  for (int64_t r = 0; r < opt_.capacity; ++r) written_[r] = 0, pending_[r] = 0;

  // O_DIRECT bypasses the page cache, so reads cost what the device costs (ext4 and xfs
  // take it; tmpfs refuses it with EINVAL at open, and then buffered I/O is used).
  direct_ = opt_.direct;
  fd_ = ::open(opt_.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | (direct_ ? O_DIRECT : 0), 0644);
  if (fd_ < 0 && direct_ && errno == EINVAL) {
    direct_ = false;
    fd_ = ::open(opt_.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  }
  if (fd_ < 0) throw IoError(where + ": cannot open for writing: " + errno_text(errno));
  try {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw IoError(where + ": cannot stat: " + errno_text(errno));
    if (!S_ISREG(st.st_mode)) throw IoError(where + ": not a regular file");
    check_existing(fd_, uint64_t(st.st_size));
    // Preallocate the whole store now, so a full or size-limited filesystem fails here
    // with a clear message instead of in the writer thread halfway through training.
    const uint64_t total = kHeaderBytes + uint64_t(opt_.capacity) * record_bytes_;
    if (::ftruncate(fd_, 0) != 0) throw IoError(where + ": cannot truncate: " + errno_text(errno));
    const int e = ::posix_fallocate(fd_, 0, off_t(total));
    if (e != 0)
      throw IoError(where + ": cannot allocate " + std::to_string(total) +
                    " bytes (store full or file size limit): " + errno_text(e));
    write_header(kStateOpen);
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
  writer_ = std::thread([this] { writer_loop(); });
}

void SampleStore::check_existing(int fd, uint64_t size) {
  const std::string where = "carm store " + opt_.path;
  if (size == 0) return;  // a new (or empty) file
  if (size < kHeaderBytes)
    throw IoError(where + ": corrupt store file (" + std::to_string(size) +
                  " bytes, shorter than the header); refusing to use or overwrite it");
  AlignedBuffer h(kHeaderBytes);
  int err = 0;
  if (!full_io(fd, h.data, kHeaderBytes, 0, false, &err))
    throw IoError(where + ": cannot read the header: " + errno_text(err));
  if (std::memcmp(h.data, kMagic, 8) != 0)
    throw IoError(where + ": not a Carousel sample store (bad magic); refusing to overwrite it");
  const uint32_t crc = get_le<uint32_t>(h.data + 48);
  if (crc32(h.data, 48) != crc)
    throw IoError(where + ": corrupt store file: header checksum mismatch");
  const uint32_t state = get_le<uint32_t>(h.data + 12);
  if (state == kStateOpen) {
    if (opt_.refuse_crashed)
      throw IoError(where +
                    ": left by an interrupted run (header state 'open': records may be torn); "
                    "refusing it (carm.on_crash: refuse); delete it or set on_crash: rebuild");
    rebuilt_ = true;  // nothing of it is read: the constructor truncates and starts over
    return;
  }
  if (state != kStateClosed)
    throw IoError(where + ": corrupt store file: unknown header state " + std::to_string(state));
  // A cleanly closed store: every record it claims must still check out before the file is
  // reused, so a store damaged on disk is reported, not silently overwritten.
  const uint64_t cap = get_le<uint64_t>(h.data + 16);
  const uint32_t rb = get_le<uint32_t>(h.data + 24);
  const uint64_t n = get_le<uint64_t>(h.data + 40);
  if (rb != record_bytes_ || get_le<uint32_t>(h.data + 28) != uint32_t(opt_.sample_bytes) ||
      get_le<uint32_t>(h.data + 32) != uint32_t(opt_.logit_count) || n > cap ||
      size < kHeaderBytes + cap * rb)
    throw IoError(where +
                  ": store was written for another sample size or is truncated; "
                  "delete it to start a new one");
  AlignedBuffer rec(rb);
  for (uint64_t r = 0; r < n; ++r) {
    if (!full_io(fd, rec.data, rb, kHeaderBytes + r * rb, false, &err))
      throw IoError(where + ": cannot read record " + std::to_string(r) + ": " + errno_text(err));
    decode(rec.data, where + ": record " + std::to_string(r));
  }
}

void SampleStore::write_header(uint32_t state) {
  AlignedBuffer h(kHeaderBytes);
  std::memcpy(h.data, kMagic, 8);
  put_le<uint32_t>(h.data + 8, kVersion);
  put_le<uint32_t>(h.data + 12, state);
  put_le<uint64_t>(h.data + 16, uint64_t(opt_.capacity));
  put_le<uint32_t>(h.data + 24, record_bytes_);
  put_le<uint32_t>(h.data + 28, uint32_t(opt_.sample_bytes));
  put_le<uint32_t>(h.data + 32, uint32_t(opt_.logit_count));
  put_le<uint32_t>(h.data + 36, uint32_t(opt_.classes));
  put_le<uint64_t>(h.data + 40, uint64_t(filled_));
  put_le<uint32_t>(h.data + 48, crc32(h.data, 48));
  int err = 0;
  if (!full_io(fd_, h.data, kHeaderBytes, 0, true, &err) || ::fdatasync(fd_) != 0)
    throw IoError("carm store " + opt_.path +
                  ": cannot write the header: " + errno_text(err ? err : errno));
}

std::vector<uint8_t> SampleStore::encode(const Sample& s) const {
  if (int(s.pixels.size()) != opt_.sample_bytes || int(s.logits.size()) > opt_.logit_count ||
      s.label < 0 || s.label >= opt_.classes)
    throw Error("carm store: sample does not match the store's geometry", kExitFailure);
  std::vector<uint8_t> b(record_bytes_, 0);
  put_le<uint32_t>(b.data(), kRecordMagic);
  put_le<int32_t>(b.data() + 4, s.label);
  put_le<uint32_t>(b.data() + 8, s.id);
  uint8_t* p = b.data() + kRecordHead;
  std::memcpy(p, s.pixels.data(), s.pixels.size());
  if (!s.logits.empty()) std::memcpy(p + opt_.sample_bytes, s.logits.data(), 4 * s.logits.size());
  const size_t payload = size_t(opt_.sample_bytes) + 4 * size_t(opt_.logit_count);
  uint32_t c = crc32(b.data() + 4, 8);
  c = crc32(p, payload, c);
  put_le<uint32_t>(b.data() + 12, c);
  return b;
}

Sample SampleStore::decode(const uint8_t* rec, const std::string& where) const {
  if (get_le<uint32_t>(rec) != kRecordMagic)
    throw IoError(where + ": corrupt store file: bad record magic");
  const size_t payload = size_t(opt_.sample_bytes) + 4 * size_t(opt_.logit_count);
  uint32_t c = crc32(rec + 4, 8);
  c = crc32(rec + kRecordHead, payload, c);
  if (c != get_le<uint32_t>(rec + 12))
    throw IoError(where + ": corrupt store file: record checksum mismatch");
  Sample s;
  s.label = get_le<int32_t>(rec + 4);
  s.id = get_le<uint32_t>(rec + 8);
  if (s.label < 0 || s.label >= opt_.classes)
    throw IoError(where + ": corrupt store file: label out of range");
  s.pixels.assign(rec + kRecordHead, rec + kRecordHead + opt_.sample_bytes);
  s.logits.resize(size_t(opt_.logit_count));
  if (opt_.logit_count > 0)
    std::memcpy(s.logits.data(), rec + kRecordHead + opt_.sample_bytes, 4 * s.logits.size());
  return s;
}

int64_t SampleStore::put(const Sample& s, Rng& rng) {
  std::vector<uint8_t> bytes = encode(s);
  int64_t r;
  if (filled_ < opt_.capacity) {
    r = filled_++;
  } else {
    // Class-balanced eviction: a random record of the largest class; the sample's own
    // class when it is among the largest (so a tie never grows one class past another),
    // else the lowest label among the largest.
    size_t big = 0;
    for (size_t c = 1; c < counts_.size(); ++c)
      if (counts_[c] > counts_[big]) big = c;
    if (counts_[size_t(s.label)] == counts_[big]) big = size_t(s.label);
    auto& list = by_class_[big];
    r = list[size_t(rng.uniform() * double(list.size()))];
    const int64_t at = pos_in_class_[size_t(r)];
    pos_in_class_[size_t(list.back())] = at;
    list[size_t(at)] = list.back();
    list.pop_back();
    --counts_[big];
  }
  labels_[size_t(r)] = s.label;
  pos_in_class_[size_t(r)] = int64_t(by_class_[size_t(s.label)].size());
  by_class_[size_t(s.label)].push_back(r);
  ++counts_[size_t(s.label)];
  std::unique_lock<std::mutex> lk(mu_);
  if (!write_error_.empty()) throw IoError(write_error_);
  pending_[r].fetch_add(1);
  queue_.push_back({r, std::move(bytes)});
  return r;
}

void SampleStore::kick() {
  // One wake-up per mini-batch, not per sample: the writer then also finds the batch's
  // records queued together and writes them with one pwrite.
  cv_.notify_one();
}

int64_t SampleStore::random_written(Rng& rng) const {
  std::lock_guard<std::mutex> lk(written_mu_);
  if (written_list_.empty()) return -1;
  return written_list_[size_t(rng.uniform() * double(written_list_.size()))];
}

int64_t SampleStore::random_put(Rng& rng) const {
  if (filled_ == 0) return -1;
  return int64_t(rng.uniform() * double(filled_));
}

void SampleStore::writer_loop() {
  pin_this_thread(opt_.writer_cpu);  // best effort, as the swapper's I/O threads
  // Queued records with consecutive indices (the common case: a store that is still
  // filling appends) go out as one pwrite of up to kRun records, so a mini-batch's samples
  // cost one system call and one device command rather than one each.
  constexpr size_t kRun = 64;
  AlignedBuffer buf(kRun * record_bytes_);
  for (;;) {
    std::vector<Job> run;
    {
      std::unique_lock<std::mutex> lk(mu_);
      busy_ = false;
      idle_cv_.notify_all();
      cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      do {
        run.push_back(std::move(queue_.front()));
        queue_.pop_front();
      } while (!queue_.empty() && run.size() < kRun &&
               queue_.front().record == run.back().record + 1);
      busy_ = true;
    }
    for (size_t i = 0; i < run.size(); ++i)
      std::memcpy(buf.data + i * record_bytes_, run[i].bytes.data(), record_bytes_);
    const size_t n = run.size() * record_bytes_;
    const uint64_t off = record_offset(run.front().record);
    // Lock the records' stripes in ascending order (readers hold one stripe at a time).
    std::vector<uint64_t> stripes;
    for (const Job& j : run) stripes.push_back(uint64_t(j.record) % kStripes);
    std::sort(stripes.begin(), stripes.end());
    stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
    for (uint64_t k : stripes) stripes_[k].lock();
    int err = 0;
    bool ok = full_io(fd_, buf.data, n, off, true, &err);
    if (!ok && err == EINVAL && direct_) {
      // A filesystem that accepted O_DIRECT at open but not this transfer: buffered I/O.
      ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_DIRECT);
      direct_ = false;
      ok = full_io(fd_, buf.data, n, off, true, &err);
    }
    for (uint64_t k : stripes) stripes_[k].unlock();
    if (!ok) {
      std::lock_guard<std::mutex> lk(mu_);
      write_error_ = "carm store " + opt_.path + ": write of records " +
                     std::to_string(run.front().record) + ".." + std::to_string(run.back().record) +
                     " failed (store full?): " + errno_text(err);
      queue_.clear();
      continue;
    }
    bytes_written_ += n;
    ++write_calls_;
    for (const Job& j : run) {
      pending_[j.record].fetch_sub(1);
      if (written_[j.record].exchange(1) == 0) {
        std::lock_guard<std::mutex> lk(written_mu_);
        written_list_.push_back(j.record);
      }
    }
  }
}

Sample SampleStore::read(int64_t r) const {
  if (r < 0 || r >= opt_.capacity) throw Error("carm store: record out of range", kExitFailure);
  AlignedBuffer buf(record_bytes_);
  int err = 0;
  {
    std::lock_guard<std::mutex> lk(record_lock(r));
    if (!full_io(fd_, buf.data, record_bytes_, record_offset(r), false, &err))
      throw IoError("carm store " + opt_.path + ": read of record " + std::to_string(r) +
                    " failed: " + errno_text(err));
  }
  bytes_read_ += record_bytes_;
  return decode(buf.data, "carm store " + opt_.path + ": record " + std::to_string(r));
}

void SampleStore::flush() {
  cv_.notify_one();
  std::unique_lock<std::mutex> lk(mu_);
  idle_cv_.wait(lk, [&] { return queue_.empty() && !busy_; });
  if (!write_error_.empty()) throw IoError(write_error_);
}

void SampleStore::close() {
  if (closed_) return;
  closed_ = true;
  std::string error;
  cv_.notify_one();
  {
    std::unique_lock<std::mutex> lk(mu_);
    idle_cv_.wait(lk, [&] { return queue_.empty() && !busy_; });
    stop_ = true;
    cv_.notify_all();
    error = write_error_;
  }
  writer_.join();
  if (error.empty() && ::fsync(fd_) != 0)
    error = "carm store " + opt_.path + ": fsync failed: " + errno_text(errno);
  // Only a store whose every record reached the file is marked closed; otherwise the
  // header keeps saying `open` and the next run treats it as crashed.
  if (error.empty()) {
    try {
      write_header(kStateClosed);
    } catch (const Error& e) {
      error = e.what();
    }
  }
  ::close(fd_);
  fd_ = -1;
  if (!error.empty()) throw IoError(error);
}

SampleStore::~SampleStore() {
  try {
    close();
  } catch (...) {
  }
}

}  // namespace tessel::continual
