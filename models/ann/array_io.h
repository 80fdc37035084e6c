// Length-prefixed arrays in the binary index files of the IVF previews (their sweep caches).
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/core/error.h"

namespace tessel::ann {

// u64 element count, then the elements as stored in memory (little-endian hosts).
template <typename T>
void write_array(std::ofstream& o, const std::vector<T>& v) {
  const uint64_t n = v.size();
  o.write(reinterpret_cast<const char*>(&n), 8);
  o.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(n * sizeof(T)));
}

// Reads what write_array wrote; a count beyond 1 TiB or a short read is an IoError naming
// `path` and `what` (the kind of index, for the message).
template <typename T>
void read_array(std::ifstream& in, std::vector<T>& v, const std::string& path,
                const std::string& what) {
  uint64_t n = 0;
  if (!in.read(reinterpret_cast<char*>(&n), 8) || n > (uint64_t{1} << 40) / sizeof(T))
    throw IoError(path + ": truncated or corrupt " + what + " index");
  v.resize(n);
  if (!in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(T))))
    throw IoError(path + ": truncated " + what + " index");
}

}  // namespace tessel::ann
