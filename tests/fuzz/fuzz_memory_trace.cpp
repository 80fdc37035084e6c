// Fuzz target: memory-access traces, text and binary (read_memory_trace picks by the magic).
// A trace that reads must survive a round trip through both writers.
#include <cstdint>
#include <sstream>
#include <string>

#include "runtime/core/memory_trace.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessel;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::string path = fuzz::write_temp("t.trace", bytes);
  fuzz::expect_clean(path, [&] {
    MemoryTrace t = read_memory_trace(path);
    t.total_bytes();
    std::istringstream text(format_memory_trace_text(t));
    const MemoryTrace from_text = parse_memory_trace_text(text, "round-trip");
    const MemoryTrace from_binary =
        parse_memory_trace_binary(format_memory_trace_binary(t), "round-trip");
    // Requests must survive both writers. Objects are compared by name: the text format has
    // no object table, so an object no request uses is (rightly) not carried over.
    auto object = [](const MemoryTrace& tr, const MemoryRequest& r) {
      return r.object == MemoryRequest::kNoObject ? std::string("<flat>") : tr.objects.at(r.object);
    };
    for (const MemoryTrace* again : {&from_text, &from_binary}) {
      if (again->requests.size() != t.requests.size())
        fuzz::finding("request count changed in a round trip");
      for (size_t i = 0; i < t.requests.size(); ++i) {
        const MemoryRequest &a = t.requests[i], &b = again->requests[i];
        if (a.time_ps != b.time_ps || a.write != b.write || a.address != b.address ||
            a.bytes != b.bytes || a.batch != b.batch || object(t, a) != object(*again, b))
          fuzz::finding("request " + std::to_string(i) + " changed in a round trip");
      }
    }
  });
  return 0;
}
