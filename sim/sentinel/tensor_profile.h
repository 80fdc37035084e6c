// Sentinel's profile of one training step: the engine's tensor trace parsed, checked and
// cut into layer intervals, with each tensor's size, lifetime and accesses.
#pragma once

#include <algorithm>
#include <cstdint>
#include <istream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tessel::sentinel {

// One event of the engine's text trace (models/nn/tensor_trace.h), tensor as an index.
struct TraceEvent {
  int64_t step = 0;
  int layer = -1;
  char op = 'R';  // A, F, R, W
  uint32_t tensor = 0;
  int64_t bytes = 0;
  int64_t line = 0;  // 1-based line in the file (0: generated)
};

struct TraceFile {
  std::string name;  // file name for messages
  std::vector<std::string> tensors;
  std::vector<TraceEvent> events;
};

// Parses `<step> <layer> <A|F|R|W> <tensor> <bytes>` lines; '#' lines and blank lines are
// skipped. Errors (ConfigError, exit 3) name the file and line. A last line without its
// newline is reported as a truncated file.
TraceFile parse_tensor_trace(std::istream& in, const std::string& name);
TraceFile read_tensor_trace(const std::string& path);

struct Access {  // 16 bytes: a 1M-event step holds millions of them
  uint32_t tensor = 0;
  bool write = false;
  int64_t bytes = 0;
};

// A maximal run of events with the same layer: forward of a block, the head, backward of
// a block, the optimizer. The unit of time of the plan.
struct Interval {
  int layer = -1;
  bool backward = false;  // writes gradients
  double flops = 0;       // roofline compute (see ProfileOptions::rows)
  std::vector<Access> accesses;
};

// A read-only run of a flat array owned by a Profile or a Layout: one array for every
// tensor's uses instead of a heap vector each (a 1M-event step has a million tensors,
// and their allocations and page faults were most of the profiling time).
template <typename T>
struct View {
  using value_type = T;
  using iterator = const T*;
  using const_iterator = const T*;
  const T* first = nullptr;
  const T* last = nullptr;
  const T* begin() const { return first; }
  const T* end() const { return last; }
  size_t size() const { return static_cast<size_t>(last - first); }
  bool empty() const { return first == last; }
  const T& operator[](size_t i) const { return first[i]; }
  const T& front() const { return *first; }
  const T& back() const { return last[-1]; }
  friend bool operator==(const View& a, const std::vector<T>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  friend bool operator==(const std::vector<T>& b, const View& a) { return a == b; }
  friend bool operator==(const View& a, const View& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
};

struct TensorInfo {
  std::string_view name;  // in Profile::name_storage
  int64_t bytes = 0;
  bool persistent = false;    // accessed without an allocation: parameters, optimizer state
  int alloc = -1, free = -1;  // intervals of the A and F events (transient tensors only)
  int64_t accesses = 0, read_bytes = 0, write_bytes = 0;
  View<int> uses;  // intervals with an access, ascending, unique (Profile::use_storage)
  int lifetime() const { return free - alloc + 1; }
};

struct ProfileOptions {
  // Rows through each linear layer (batch x sequence for the Transformer, batch for the
  // MLP). Compute per interval: forward 2 * rows * (elements of the parameters read),
  // backward 4 * rows * (elements of the gradients written), fp32 elements.
  double rows = 1;
  // Whole-store optimizer accesses (`params`, `grads`, `adam_m`, `adam_v`) are split into
  // per-parameter pieces named like the `param:` tensors (what a per-tensor optimizer does).
  bool split_optimizer_state = true;
};

struct Profile {
  std::string name;
  int64_t step = 0;
  std::vector<TensorInfo> tensors;
  std::vector<Interval> intervals;
  int64_t events = 0;
  int64_t peak_bytes = 0;      // all persistent tensors plus the peak of live transients
  int64_t largest_tensor = 0;  // bytes
  int64_t access_bytes = 0;    // total R + W bytes of the step
  // What the tensors' names and uses point into; shared, so copies of a profile stay valid.
  std::shared_ptr<const std::string> name_storage;
  std::shared_ptr<const std::vector<int>> use_storage;
};

// Profiles the first step of the trace. Errors: a free of a tensor not allocated, a second
// allocation of a live tensor, an access to a freed tensor, an allocation after the
// tensor was used, an access larger than the tensor, an allocation never freed
// (truncated trace), an empty trace.
Profile build_profile(const TraceFile& trace, const ProfileOptions& options = {});

}  // namespace tessel::sentinel
