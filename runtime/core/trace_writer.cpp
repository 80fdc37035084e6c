// Streaming trace-event JSON output.
#include "runtime/core/trace_writer.h"

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"

namespace tessel {

TraceWriter::TraceWriter(const std::string& path, const std::string& process) : path_(path) {
  file_ = std::fopen(path.c_str(), "w");
  if (!file_) throw IoError(path + ": cannot write trace (" + std::strerror(errno) + ")");
  std::fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", file_);
  const nlohmann::json name = {
      {"ph", "M"}, {"pid", 1}, {"name", "process_name"}, {"args", {{"name", process}}}};
  std::fputs(name.dump().c_str(), file_);
}

TraceWriter::~TraceWriter() {
  try {
    close();
  } catch (const Error&) {
    // A destructor cannot report; close() explicitly to see write errors.
  }
}

void TraceWriter::begin_event() {
  std::fputs(",\n", file_);
  ++events_;
}

int TraceWriter::track(const std::string& name) {
  auto it = tracks_.find(name);
  if (it != tracks_.end()) return it->second;
  int id = static_cast<int>(tracks_.size()) + 1;
  tracks_[name] = id;
  begin_event();
  nlohmann::json meta = {
      {"ph", "M"}, {"pid", 1}, {"tid", id}, {"name", "thread_name"}, {"args", {{"name", name}}}};
  std::fputs(meta.dump().c_str(), file_);
  begin_event();
  nlohmann::json order = {{"ph", "M"},
                          {"pid", 1},
                          {"tid", id},
                          {"name", "thread_sort_index"},
                          {"args", {{"sort_index", id}}}};
  std::fputs(order.dump().c_str(), file_);
  return id;
}

void TraceWriter::span(int track, const std::string& name, double start_ns, double duration_ns) {
  begin_event();
  std::fprintf(file_, "{\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"name\":%s,\"ts\":%.6f,\"dur\":%.6f}",
               track, nlohmann::json(name).dump().c_str(), start_ns / 1000.0, duration_ns / 1000.0);
}

void TraceWriter::counter(const std::string& name, double time_ns, double value) {
  begin_event();
  std::fprintf(file_, "{\"ph\":\"C\",\"pid\":1,\"name\":%s,\"ts\":%.6f,\"args\":{\"value\":%.17g}}",
               nlohmann::json(name).dump().c_str(), time_ns / 1000.0, value);
}

void TraceWriter::close() {
  if (!file_) return;
  std::fputs("\n]}\n", file_);
  bool failed = std::ferror(file_) != 0;
  failed |= std::fclose(file_) != 0;
  file_ = nullptr;
  if (failed) throw IoError(path_ + ": error while writing trace");
}

}  // namespace tessel
