// gzip through zlib, and a tar reader small enough to check against the ustar layout.
#include "models/data/archive.h"

#include <fstream>
#include <sstream>

#ifdef TESSEL_HAVE_ZLIB
#include <zlib.h>
#endif

#include "runtime/core/error.h"

namespace tessel::data {

std::string read_maybe_gzip(const std::string& path) {
  std::ifstream probe(path, std::ios::binary);
  if (!probe) throw IoError(path + ": cannot open (missing or unreadable)");
  char magic[2] = {0, 0};
  probe.read(magic, 2);
  const bool gz = probe.gcount() == 2 && static_cast<unsigned char>(magic[0]) == 0x1f &&
                  static_cast<unsigned char>(magic[1]) == 0x8b;
  if (!gz) {
    probe.clear();
    probe.seekg(0);
    std::ostringstream s;
    s << probe.rdbuf();
    return s.str();
  }
#ifdef TESSEL_HAVE_ZLIB
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw IoError(path + ": cannot open gzip stream");
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) out.append(buf, static_cast<std::size_t>(n));
  int err = 0;
  const char* msg = gzerror(f, &err);
  const std::string what = msg ? msg : "";
  gzclose(f);
  if (n < 0 || (err != Z_OK && err != Z_STREAM_END))
    throw IoError(path + ": corrupt gzip data (" + what + ")");
  return out;
#else
  throw IoError(path + ": gzip-compressed, but this build has no zlib; gunzip it first");
#endif
}

namespace {

constexpr std::size_t kBlock = 512;

// A NUL-terminated (or full-width) text field of the header.
std::string field(const char* h, std::size_t at, std::size_t width) {
  std::size_t n = 0;
  while (n < width && h[at + n] != '\0') ++n;
  return std::string(h + at, n);
}

// An octal number field (leading spaces, digits, then NUL or space), or -1 if malformed.
// The GNU base-256 form (high bit of the first byte set) is read as well, since GNU tar
// writes it for sizes of 8 GiB and more.
int64_t octal(const char* h, std::size_t at, std::size_t width) {
  const auto* u = reinterpret_cast<const unsigned char*>(h + at);
  if (u[0] & 0x80) {
    int64_t v = u[0] & 0x3f;
    for (std::size_t i = 1; i < width; ++i) {
      if (v > (INT64_MAX >> 8)) return -1;
      v = (v << 8) | u[i];
    }
    return v;
  }
  std::size_t i = 0;
  while (i < width && u[i] == ' ') ++i;
  int64_t v = 0;
  bool digits = false;
  for (; i < width && u[i] >= '0' && u[i] <= '7'; ++i) {
    if (v > (INT64_MAX >> 3)) return -1;
    v = v * 8 + (u[i] - '0');
    digits = true;
  }
  for (; i < width; ++i)
    if (u[i] != ' ' && u[i] != '\0') return -1;
  return digits ? v : -1;
}

}  // namespace

std::vector<TarEntry> read_tar(const std::string& bytes, const std::string& what) {
  std::vector<TarEntry> out;
  std::size_t at = 0;
  while (at < bytes.size()) {
    if (bytes.size() - at < kBlock)
      throw IoError(what + ": truncated tar header at byte " + std::to_string(at) + " (" +
                    std::to_string(bytes.size() - at) + " of 512 bytes)");
    const char* h = bytes.data() + at;
    bool zero = true;
    for (std::size_t i = 0; i < kBlock && zero; ++i) zero = h[i] == '\0';
    if (zero) break;  // end-of-archive marker (two zero blocks; the first one suffices)
    const std::string where = what + ": tar entry at byte " + std::to_string(at);
    // Checksum: the sum of the header bytes with the checksum field read as 8 spaces.
    int64_t unsigned_sum = 0, signed_sum = 0;
    for (std::size_t i = 0; i < kBlock; ++i) {
      const bool in_field = i >= 148 && i < 156;
      unsigned_sum += in_field ? ' ' : static_cast<unsigned char>(h[i]);
      signed_sum += in_field ? ' ' : static_cast<signed char>(h[i]);
    }
    const int64_t stored = octal(h, 148, 8);
    if (stored < 0 || (stored != unsigned_sum && stored != signed_sum))
      throw IoError(where + ": header checksum " + field(h, 148, 8) + " does not match " +
                    std::to_string(unsigned_sum) + " (not a tar archive, or corrupt)");
    const int64_t size = octal(h, 124, 12);
    if (size < 0) throw IoError(where + ": malformed size field \"" + field(h, 124, 12) + "\"");
    const char type = h[156];
    std::string name = field(h, 0, 100);
    if (field(h, 257, 5) == "ustar") {
      const std::string prefix = field(h, 345, 155);
      if (!prefix.empty()) name = prefix + "/" + name;
    }
    if (type == 'x' || type == 'g' || type == 'L' || type == 'K')
      throw IoError(where + " (" + name + "): pax or GNU long-name entry (type '" +
                    std::string(1, type) + "'), which this reader does not support");
    const std::size_t data_at = at + kBlock;
    if (static_cast<uint64_t>(size) > bytes.size() - data_at)
      throw IoError(where + " (" + name + "): truncated: " + std::to_string(size) +
                    " bytes of data promised, " + std::to_string(bytes.size() - data_at) + " left");
    // '0' and NUL (old tars) are regular files, '7' contiguous files; others carry no text.
    if (type == '0' || type == '\0' || type == '7')
      out.push_back({name, bytes.substr(data_at, static_cast<std::size_t>(size))});
    at = data_at + (static_cast<std::size_t>(size) + kBlock - 1) / kBlock * kBlock;
  }
  return out;
}

}  // namespace tessel::data
