// LD_PRELOAD library for kill_test: kills the run's whole process group at the N-th file
// write or rename made by any of its processes (the tool, its point children, gnuplot), so
// the test can stop a run at exactly a chosen I/O step instead of hoping a timer lands there.
//
// TESSEL_KILL_COUNTER: a file of at least 8 bytes whose first 8 hold the shared call count.
// TESSEL_KILL_AT: the call to die at (1-based); 0 or unset only counts.
// A write that is due writes half its bytes first: a kill inside a large write(2) can cut it
// short like that, which is the torn last line points.jsonl readers must handle.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

static long* counter;
static long kill_at;
static ssize_t (*real_write)(int, const void*, size_t);
static ssize_t (*real_writev)(int, const struct iovec*, int);
static int (*real_rename)(const char*, const char*);

__attribute__((constructor)) static void init(void) {
  real_write = (ssize_t(*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
  real_writev = (ssize_t(*)(int, const struct iovec*, int))dlsym(RTLD_NEXT, "writev");
  real_rename = (int (*)(const char*, const char*))dlsym(RTLD_NEXT, "rename");
  const char* path = getenv("TESSEL_KILL_COUNTER");
  const char* at = getenv("TESSEL_KILL_AT");
  if (!path) return;
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  void* p = mmap(NULL, sizeof(long), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return;
  counter = (long*)p;
  kill_at = at ? atol(at) : 0;
}

// Counts this call; true when it is the one to die at. Terminal output (fds 0-2) is not
// counted: how much progress the tool prints depends on timing.
static int due(int fd) {
  if (!counter || fd <= 2) return 0;
  return __atomic_add_fetch(counter, 1, __ATOMIC_SEQ_CST) == kill_at;
}

static void die(void) {
  kill(0, SIGKILL);
  for (;;) pause();
}

ssize_t write(int fd, const void* buf, size_t n) {
  if (due(fd)) {
    real_write(fd, buf, n / 2);
    die();
  }
  return real_write(fd, buf, n);
}

ssize_t writev(int fd, const struct iovec* iov, int count) {
  if (due(fd)) {
    size_t half = 0;
    for (int i = 0; i < count; ++i) half += iov[i].iov_len;
    half /= 2;
    for (int i = 0; i < count && half > 0; ++i) {
      size_t n = iov[i].iov_len < half ? iov[i].iov_len : half;
      real_write(fd, iov[i].iov_base, n);
      half -= n;
    }
    die();
  }
  return real_writev(fd, iov, count);
}

int rename(const char* from, const char* to) {
  if (due(3)) die();
  return real_rename(from, to);
}
