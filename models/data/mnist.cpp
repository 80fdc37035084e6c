// IDX reader (plain or gzip) and MNIST loader with checks of every header field.
#include "models/data/mnist.h"

#include "models/data/archive.h"

#include "runtime/core/error.h"

namespace tessel::data {
namespace {

uint32_t be32(const std::string& s, std::size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
         (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

}  // namespace

IdxArray read_idx(const std::string& path, int expected_dims) {
  const std::string bytes = read_maybe_gzip(path);
  if (bytes.size() < 4) throw IoError(path + ": not an IDX file (shorter than its 4-byte magic)");
  if (bytes[0] != 0 || bytes[1] != 0)
    throw IoError(path + ": not an IDX file (magic must start with two zero bytes)");
  if (static_cast<uint8_t>(bytes[2]) != 0x08)
    throw IoError(path + ": IDX element type 0x" + std::to_string(static_cast<uint8_t>(bytes[2])) +
                  " is not unsigned byte (0x08)");
  const int nd = static_cast<uint8_t>(bytes[3]);
  if (nd == 0) throw IoError(path + ": IDX file with zero dimensions");
  if (expected_dims > 0 && nd != expected_dims)
    throw IoError(path + ": expected " + std::to_string(expected_dims) +
                  " dimensions, the file has " + std::to_string(nd));
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(nd);
  if (bytes.size() < header) throw IoError(path + ": truncated IDX header");
  IdxArray a;
  uint64_t total = 1;
  for (int d = 0; d < nd; ++d) {
    const uint32_t v = be32(bytes, 4 + 4 * static_cast<std::size_t>(d));
    if (v == 0 || v > (1u << 30))
      throw IoError(path + ": implausible dimension " + std::to_string(v));
    a.dims.push_back(static_cast<int32_t>(v));
    total *= v;
    // Stop before the product can overflow (up to 255 dimensions of 2^30 each).
    if (total > bytes.size() - header)
      throw IoError(path + ": truncated: header promises more than the " +
                    std::to_string(bytes.size() - header) + " bytes of data the file has");
  }
  if (bytes.size() - header < total)
    throw IoError(path + ": truncated: header promises " + std::to_string(total) +
                  " bytes of data, the file has " + std::to_string(bytes.size() - header));
  if (bytes.size() - header > total)
    throw IoError(path + ": " + std::to_string(bytes.size() - header - total) +
                  " bytes of trailing data after the array");
  a.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return a;
}

Mnist load_mnist(const std::string& images_path, const std::string& labels_path) {
  IdxArray img = read_idx(images_path, 3);
  IdxArray lab = read_idx(labels_path, 1);
  Mnist m;
  m.count = img.dims[0];
  m.rows = img.dims[1];
  m.cols = img.dims[2];
  if (lab.dims[0] != m.count)
    throw IoError(labels_path + ": " + std::to_string(lab.dims[0]) + " labels for " +
                  std::to_string(m.count) + " images in " + images_path);
  m.images.resize(img.data.size());
  for (std::size_t i = 0; i < img.data.size(); ++i) m.images[i] = img.data[i] / 255.0f;
  m.labels.resize(lab.data.size());
  for (std::size_t i = 0; i < lab.data.size(); ++i) {
    if (lab.data[i] > 9)
      throw IoError(labels_path + ": label " + std::to_string(lab.data[i]) + " at index " +
                    std::to_string(i) + " is not a digit 0-9");
    m.labels[i] = lab.data[i];
  }
  return m;
}

}  // namespace tessel::data
