// Chrome/Perfetto trace-event JSON writer for per-block activity over simulated time.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

namespace tessel {

// Writes the JSON trace-event format that ui.perfetto.dev and chrome://tracing open.
// Each hardware block is a track (a "thread"); spans are complete events ("ph":"X").
// Timestamps are simulated nanoseconds, written in the format's microseconds.
class TraceWriter {
 public:
  // `process` names the trace's one process in the viewer. Throws IoError.
  explicit TraceWriter(const std::string& path, const std::string& process = "tessel simulation");
  ~TraceWriter();
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  // Returns the track id for a block name, creating it (with a name record) once.
  int track(const std::string& name);
  void span(int track, const std::string& name, double start_ns, double duration_ns);
  void counter(const std::string& name, double time_ns, double value);
  // Finishes the JSON; called by the destructor if not before. Throws IoError on failure.
  void close();
  uint64_t events() const { return events_; }

 private:
  void begin_event();
  std::FILE* file_ = nullptr;
  std::string path_;
  std::map<std::string, int> tracks_;
  uint64_t events_ = 0;
};

}  // namespace tessel
