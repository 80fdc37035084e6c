// Test-side writers of .npy bytes and zip archives, written independently of the readers.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "models/common/npy.h"

namespace tessel::testing {

inline void put(std::string& s, uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) s.push_back(static_cast<char>((v >> (8 * k)) & 0xFF));
}

// A version-1.0 .npy file exactly as numpy writes it: header padded with spaces so the
// data starts at a multiple of 64 bytes, ending in '\n'.
inline std::string npy_bytes(const std::vector<int64_t>& shape, const std::vector<double>& values,
                             const std::string& descr = "<f4", bool fortran = false) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': (";
  for (std::size_t k = 0; k < shape.size(); ++k) dict += std::to_string(shape[k]) + ", ";
  if (shape.size() > 1) dict.resize(dict.size() - 2);
  if (shape.size() == 1) dict.resize(dict.size() - 1);
  dict += "), }";
  std::size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  put(out, dict.size(), 2);
  out += dict;
  for (double v : values) {
    if (descr == "<f8") {
      uint64_t bits;
      std::memcpy(&bits, &v, 8);
      put(out, bits, 8);
    } else if (descr == "<f4") {
      const float f = static_cast<float>(v);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      put(out, bits, 4);
    } else if (descr == "|i1") {
      put(out, static_cast<uint64_t>(static_cast<int64_t>(v)), 1);
    } else {
      put(out, static_cast<uint64_t>(static_cast<int64_t>(v)), 4);
    }
  }
  return out;
}

struct ZipEntry {
  std::string name;
  std::string data;
  uint16_t method = 0;       // 0 stored; 8 claims deflate (data left as is)
  bool zip64_local = false;  // numpy >= 1.x style: sizes 0xFFFFFFFF + zip64 extra field
};

// A zip archive as Python's zipfile writes it: local headers, data, central directory, EOCD.
inline std::string zip_bytes(const std::vector<ZipEntry>& entries) {
  std::string out, cd;
  for (const ZipEntry& e : entries) {
    const uint64_t offset = out.size();
    const uint32_t crc = tessel::crc32(e.data.data(), e.data.size());
    put(out, 0x04034b50, 4);
    put(out, e.zip64_local ? 45 : 20, 2);
    put(out, 0, 2);
    put(out, e.method, 2);
    put(out, 0, 4);  // time, date
    put(out, crc, 4);
    put(out, e.zip64_local ? 0xFFFFFFFF : e.data.size(), 4);
    put(out, e.zip64_local ? 0xFFFFFFFF : e.data.size(), 4);
    put(out, e.name.size(), 2);
    put(out, e.zip64_local ? 20 : 0, 2);
    out += e.name;
    if (e.zip64_local) {
      put(out, 1, 2);
      put(out, 16, 2);
      put(out, e.data.size(), 8);
      put(out, e.data.size(), 8);
    }
    out += e.data;
    put(cd, 0x02014b50, 4);
    put(cd, 20, 2);
    put(cd, 20, 2);
    put(cd, 0, 2);
    put(cd, e.method, 2);
    put(cd, 0, 4);
    put(cd, crc, 4);
    put(cd, e.data.size(), 4);
    put(cd, e.data.size(), 4);
    put(cd, e.name.size(), 2);
    put(cd, 0, 2);
    put(cd, 0, 2);
    put(cd, 0, 2);
    put(cd, 0, 2);
    put(cd, 0, 4);
    put(cd, offset, 4);
    cd += e.name;
  }
  const uint64_t cd_offset = out.size();
  out += cd;
  put(out, 0x06054b50, 4);
  put(out, 0, 2);
  put(out, 0, 2);
  put(out, entries.size(), 2);
  put(out, entries.size(), 2);
  put(out, cd.size(), 4);
  put(out, cd_offset, 4);
  put(out, 0, 2);
  return out;
}

// A fresh file path under the system temp folder.
inline std::string temp_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "tessel_models_tests";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

inline std::string write_file(const std::string& name, const std::string& bytes) {
  const std::string path = temp_path(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

}  // namespace tessel::testing
