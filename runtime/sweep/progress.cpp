// Progress rendering.
#include "runtime/sweep/progress.h"

#include <unistd.h>

#include <cmath>

namespace tessel::sweep {

std::string format_duration(double seconds) {
  long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

Progress::Progress(size_t total, size_t already_done, std::FILE* out)
    : total_(total),
      done_(already_done),
      done_at_start_(already_done),
      out_(out),
      tty_(::isatty(::fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()) {
  if (already_done > 0)
    std::fprintf(out_, "resuming: %zu of %zu points already done\n", already_done, total);
  if (tty_) draw();
}

void Progress::draw() {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  size_t ran = done_ - done_at_start_;
  std::string eta = ran ? format_duration(elapsed / ran * (total_ - done_)) : "?";
  const int width = 30;
  int filled = total_ ? static_cast<int>(width * done_ / total_) : width;
  std::string bar(filled, '#');
  bar.resize(width, '.');
  std::fprintf(out_, "\r[%s] %zu/%zu  failed %zu  elapsed %s  ETA %s   ", bar.c_str(), done_,
               total_, failed_, format_duration(elapsed).c_str(), eta.c_str());
  std::fflush(out_);
}

void Progress::point_finished(const std::string& id, const std::string& params, bool ok,
                              const std::string& failure) {
  ++done_;
  if (!ok) ++failed_;
  if (tty_) {
    if (!ok)
      std::fprintf(out_, "\r%s failed (%s): %s\n", id.c_str(), failure.c_str(), params.c_str());
    draw();
  } else {
    std::fprintf(out_, "[%zu/%zu] %s %s %s%s\n", done_, total_, id.c_str(), ok ? "ok" : "FAILED",
                 params.c_str(), ok ? "" : (" (" + failure + ")").c_str());
    std::fflush(out_);
  }
}

void Progress::finish() {
  if (tty_) std::fprintf(out_, "\n");
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(out_, "%zu points, %zu failed, %s\n", total_, failed_,
               format_duration(elapsed).c_str());
}

}  // namespace tessel::sweep
