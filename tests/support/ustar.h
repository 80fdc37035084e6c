// Test support: tar archives built by hand from the POSIX ustar layout, independent of the
// reader in models/data, so the tests of that reader and of the corpora on it can fail.
#pragma once

#include <cstdio>
#include <string>

namespace tessel::testing {

// One regular-file entry: its 512-byte header and the data padded to a 512-byte boundary.
// An archive is the entries concatenated, then two zero blocks.
inline std::string ustar_file(const std::string& name, const std::string& data) {
  std::string h(512, '\0');
  auto put = [&](std::size_t at, const std::string& v) { h.replace(at, v.size(), v); };
  put(0, name);
  put(100, "0000644");
  char octal[16];
  std::snprintf(octal, sizeof octal, "%011zo", data.size());
  put(124, octal);
  put(136, "14500000000");
  h[156] = '0';
  put(257, std::string("ustar\0"
                       "00",
                       8));
  // The checksum is computed with its own field as spaces.
  put(148, "        ");
  unsigned sum = 0;
  for (const char c : h) sum += static_cast<unsigned char>(c);
  std::snprintf(octal, sizeof octal, "%06o", sum);
  put(148, std::string(octal) + std::string(1, '\0') + " ");
  std::string out = h + data;
  out.resize((out.size() + 511) / 512 * 512, '\0');
  return out;
}

}  // namespace tessel::testing
