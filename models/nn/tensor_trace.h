// Per-step trace of tensor allocations, frees and accesses by layer (Sentinel's profile).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/core/memory_trace.h"

namespace tessel::nn {

enum class TensorOp : char { kAlloc = 'A', kFree = 'F', kRead = 'R', kWrite = 'W' };

// What Sentinel profiles: the lifetime (alloc..free) and every touch of each tensor,
// labelled with the layer that touched it, in program order.
struct TensorEvent {
  int64_t step = 0;
  int layer = -1;  // Transformer block / MLP layer; -1 for embeddings, head, optimizer
  TensorOp op = TensorOp::kRead;
  std::string tensor;  // "h0.attn.qkv", "param:h0.attn.w_qkv", "adam_m", ...
  int64_t bytes = 0;
};

// Collects events while a model runs one or more steps. Pass a pointer in
// StepOptions::trace; a null pointer costs nothing. Names are stable across steps, so a
// placement policy learnt on step k applies to step k + 1.
//
// Text format (`format_text`), one event per line after a `#` header:
//
//   <step> <layer> <op> <tensor> <bytes>
//
//   op is A (allocate), F (free), R (read), W (write); layer -1 means outside the
//   blocks. Activations are allocated when the forward pass produces them and freed when
//   the backward pass has consumed them; parameters, gradients and optimizer state are
//   allocated once (step of the first event) and never freed.
class TensorTrace {
 public:
  void begin_step(int64_t step) { step_ = step; }
  int64_t step() const { return step_; }
  void add(int layer, TensorOp op, const std::string& tensor, int64_t bytes);
  void alloc(int layer, const std::string& t, int64_t bytes) {
    add(layer, TensorOp::kAlloc, t, bytes);
  }
  void free(int layer, const std::string& t, int64_t bytes) {
    add(layer, TensorOp::kFree, t, bytes);
  }
  void read(int layer, const std::string& t, int64_t bytes) {
    add(layer, TensorOp::kRead, t, bytes);
  }
  void write(int layer, const std::string& t, int64_t bytes) {
    add(layer, TensorOp::kWrite, t, bytes);
  }

  const std::vector<TensorEvent>& events() const { return events_; }
  void clear() { events_.clear(); }

  std::string format_text() const;
  // The accesses (R/W) as a runtime/core memory trace: one object per tensor name, one
  // request per access of the tensor's full size, issued as soon as possible, so the
  // memory-hierarchy models can replay a training step. Allocations and frees have no
  // request in that format; the text format keeps them.
  MemoryTrace to_memory_trace() const;
  // Peak bytes of simultaneously allocated tensors (the footprint Sentinel budgets for).
  int64_t peak_bytes() const;

 private:
  int64_t step_ = 0;
  std::vector<TensorEvent> events_;
};

}  // namespace tessel::nn
