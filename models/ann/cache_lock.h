// An exclusive lock on `<path>.lock` for the life of the object. Sweep points that run at
// once share cached files (an index, its packed layout, a full view, a preview): the first
// builds and writes one while the others wait, then load it.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <string>

#include "runtime/core/error.h"

namespace tessel::ann {

class CacheLock {
 public:
  // `required`: a lock file that cannot be opened is an IoError; otherwise the work goes on
  // unlocked (two points may then build the same file, each writing it whole).
  explicit CacheLock(const std::string& path, bool required = true)
      : fd_(::open((path + ".lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644)) {
    if (fd_ < 0) {
      if (required) throw IoError(path + ".lock: cannot open");
      return;
    }
    ::flock(fd_, LOCK_EX);
  }
  ~CacheLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  CacheLock(const CacheLock&) = delete;
  CacheLock& operator=(const CacheLock&) = delete;

 private:
  int fd_;
};

}  // namespace tessel::ann
