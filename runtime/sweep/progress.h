// Sweep progress: a bar with ETA on a terminal, one plain line per point otherwise.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace tessel::sweep {

class Progress {
 public:
  // `total` points, `already_done` of them finished by an earlier (resumed) run.
  Progress(size_t total, size_t already_done, std::FILE* out);
  void point_finished(const std::string& id, const std::string& params, bool ok,
                      const std::string& failure);
  void finish();

 private:
  void draw();
  size_t total_, done_, done_at_start_, failed_ = 0;
  std::FILE* out_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
};

std::string format_duration(double seconds);  // "1:05", "2:03:04"

}  // namespace tessel::sweep
