// One continual-learning sample as the episodic memory and the sample store hold it: raw
// pixels, label, stream id and the logits DER++ keeps from when it was streamed.
#pragma once

#include <cstdint>
#include <vector>

namespace tessel::continual {

struct Sample {
  int32_t label = -1;
  uint32_t id = 0;              // index in the training split (for tests and traces)
  std::vector<uint8_t> pixels;  // sample_bytes raw bytes (MNIST: 784 pixel values)
  std::vector<float> logits;    // logit_count values (empty when the method keeps none)
};

// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib's crc32(); `crc` chains.
uint32_t crc32(const void* data, std::size_t n, uint32_t crc = 0);

}  // namespace tessel::continual
