// Tensor trace: event collection, text form, conversion to the memory-trace format, peak.
#include "models/nn/tensor_trace.h"

#include <algorithm>
#include <map>
#include <sstream>

namespace tessel::nn {

void TensorTrace::add(int layer, TensorOp op, const std::string& tensor, int64_t bytes) {
  events_.push_back(TensorEvent{step_, layer, op, tensor, bytes});
}

std::string TensorTrace::format_text() const {
  std::ostringstream out;
  out << "# tessel tensor trace: <step> <layer> <op A|F|R|W> <tensor> <bytes>\n";
  for (const auto& e : events_)
    out << e.step << ' ' << e.layer << ' ' << static_cast<char>(e.op) << ' ' << e.tensor << ' '
        << e.bytes << '\n';
  return out.str();
}

MemoryTrace TensorTrace::to_memory_trace() const {
  MemoryTrace t;
  for (const auto& e : events_) {
    if (e.op != TensorOp::kRead && e.op != TensorOp::kWrite) continue;
    // Requests carry at most 2^32-1 bytes; larger tensors become several requests.
    const uint32_t obj = t.object_index(e.tensor);
    int64_t left = e.bytes;
    uint64_t offset = 0;
    while (left > 0) {
      const int64_t chunk = std::min<int64_t>(left, int64_t{1} << 30);
      MemoryRequest r;
      r.write = e.op == TensorOp::kWrite;
      r.object = obj;
      r.address = offset;
      r.bytes = static_cast<uint32_t>(chunk);
      t.requests.push_back(r);
      offset += static_cast<uint64_t>(chunk);
      left -= chunk;
    }
  }
  return t;
}

int64_t TensorTrace::peak_bytes() const {
  std::map<std::string, int64_t> live;
  int64_t now = 0, peak = 0;
  for (const auto& e : events_) {
    if (e.op == TensorOp::kAlloc) {
      auto& b = live[e.tensor];
      now += e.bytes - b;
      b = e.bytes;
    } else if (e.op == TensorOp::kFree) {
      auto it = live.find(e.tensor);
      if (it != live.end()) {
        now -= it->second;
        live.erase(it);
      }
    }
    peak = std::max(peak, now);
  }
  return peak;
}

}  // namespace tessel::nn
