// Runs part of a test in a forked child process. SystemC elaborates once per process, so a
// test that builds several models runs each one in its own child and reads its numbers back
// through a pipe.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace tessel::testing {

// The bytes `f` returns in a child; empty when it threw (the message goes to stderr) or the
// child died.
inline std::string in_child_bytes(const std::function<std::string()>& f) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::string out;
    try {
      out = f();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
    }
    const ssize_t n = write(fds[1], out.data(), out.size());
    _exit(n == static_cast<ssize_t>(out.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::string in;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) in.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return in;
}

// `n` numbers from `f` in a child (missing ones NaN); all NaN when the child failed.
inline std::vector<double> in_child(const std::function<std::vector<double>()>& f, size_t n) {
  const std::string bytes = in_child_bytes([&] {
    std::vector<double> v = f();
    v.resize(n, NAN);
    return std::string(reinterpret_cast<const char*>(v.data()), n * sizeof(double));
  });
  std::vector<double> v(n, NAN);
  if (bytes.size() == n * sizeof(double)) std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

// One number from `f` in a child; NaN when the child failed.
inline double in_child(const std::function<double()>& f) {
  return in_child([&] { return std::vector<double>{f()}; }, 1)[0];
}

}  // namespace tessel::testing
