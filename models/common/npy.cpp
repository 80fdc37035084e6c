// Parses NumPy .npy headers and zip (stored-entry) archives without any external library.
#include "models/common/npy.h"

#include <charconv>

#include <array>
#include <cstring>
#include <fstream>
#include <sstream>

#include "runtime/core/atomic_file.h"
#include "runtime/core/error.h"
#include "runtime/core/file_io.h"
#include "runtime/core/limits.h"

namespace tessel {
namespace {

uint64_t le(const std::string& b, std::size_t pos, int bytes) {
  uint64_t v = 0;
  for (int k = bytes - 1; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(b[pos + k]);
  return v;
}

// Minimal reader of the Python dict literal in a .npy header.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& where) : s_(text), where_(where) {}

  std::size_t value_pos(const std::string& key) const {
    const std::string quoted1 = "'" + key + "'";
    const std::string quoted2 = "\"" + key + "\"";
    std::size_t p = s_.find(quoted1);
    std::size_t len = quoted1.size();
    if (p == std::string::npos) p = s_.find(quoted2);
    if (p == std::string::npos) fail("header has no '" + key + "' key");
    p = s_.find(':', p + len);
    if (p == std::string::npos) fail("header key '" + key + "' has no value");
    return skip_space(p + 1);
  }

  std::string string_value(const std::string& key) const {
    std::size_t p = value_pos(key);
    if (p >= s_.size() || (s_[p] != '\'' && s_[p] != '"'))
      fail("header '" + key + "' is not a string");
    const char q = s_[p];
    const std::size_t e = s_.find(q, p + 1);
    if (e == std::string::npos) fail("header '" + key + "' has an unterminated string");
    return s_.substr(p + 1, e - p - 1);
  }

  bool bool_value(const std::string& key) const {
    const std::size_t p = value_pos(key);
    if (s_.compare(p, 4, "True") == 0) return true;
    if (s_.compare(p, 5, "False") == 0) return false;
    fail("header '" + key + "' is not True or False");
    return false;
  }

  std::vector<int64_t> tuple_value(const std::string& key) const {
    std::size_t p = value_pos(key);
    if (p >= s_.size() || s_[p] != '(') fail("header '" + key + "' is not a tuple");
    const std::size_t e = s_.find(')', p);
    if (e == std::string::npos) fail("header '" + key + "' has an unterminated tuple");
    std::vector<int64_t> dims;
    std::size_t q = p + 1;
    while (true) {
      q = skip_space(q);
      if (q >= e) break;
      std::size_t digits = q;
      while (digits < e && s_[digits] >= '0' && s_[digits] <= '9') ++digits;
      if (digits == q) fail("header '" + key + "' holds a non-integer dimension");
      int64_t dim = 0;
      const auto [end, ec] = std::from_chars(s_.data() + q, s_.data() + digits, dim);
      if (ec != std::errc() || end != s_.data() + digits)
        fail("header '" + key + "' holds a dimension too large for 64 bits");
      dims.push_back(dim);
      q = skip_space(digits);
      if (q < e && s_[q] == ',')
        ++q;
      else if (q < e)
        fail("header '" + key + "' is malformed");
    }
    return dims;
  }

 private:
  std::size_t skip_space(std::size_t p) const {
    while (p < s_.size() && (s_[p] == ' ' || s_[p] == '\t' || s_[p] == '\n')) ++p;
    return p;
  }
  [[noreturn]] void fail(const std::string& what) const { throw IoError(where_ + ": " + what); }

  const std::string& s_;
  const std::string& where_;
};

}  // namespace

int64_t NpyArray::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string NpyArray::shape_string() const {
  std::string s = "[";
  for (std::size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
  return s + "]";
}

NpyArray parse_npy(const std::string& bytes, const std::string& where) {
  static const char kMagic[] = "\x93NUMPY";
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0)
    throw IoError(where + ": not a .npy file (missing \\x93NUMPY magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0;
  std::size_t header_start = 0;
  if (major == 1) {
    header_len = le(bytes, 8, 2);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw IoError(where + ": truncated .npy header");
    header_len = le(bytes, 8, 4);
    header_start = 12;
  } else {
    throw IoError(where + ": unsupported .npy format version " + std::to_string(major));
  }
  if (header_start + header_len > bytes.size())
    throw IoError(where + ": truncated .npy header (needs " + std::to_string(header_len) +
                  " bytes, file has " + std::to_string(bytes.size() - header_start) + ")");
  const std::string header = bytes.substr(header_start, header_len);
  HeaderParser parser(header, where);

  NpyArray arr;
  arr.descr = parser.string_value("descr");
  const bool fortran = parser.bool_value("fortran_order");
  arr.shape = parser.tuple_value("shape");
  int item = 0;
  if (arr.descr == "<f4")
    item = 4;
  else if (arr.descr == "<f8")
    item = 8;
  else if (arr.descr == "|i1" || arr.descr == "<i1" || arr.descr == "i1")
    item = 1;  // int8: every value is exact as a float
  else
    throw IoError(where + ": unsupported dtype '" + arr.descr +
                  "' (expected '<f4', '<f8' or int8 '|i1')");

  const std::size_t data_start = header_start + header_len;
  // Saturating: a shape whose size overflows 64 bits is simply more than the file holds.
  const uint64_t need = product_bytes(arr.shape, static_cast<uint64_t>(item));
  const std::size_t have = bytes.size() - data_start;
  if (have < need)
    throw IoError(where + ": truncated data: shape " + arr.shape_string() + " " + arr.descr +
                  " needs " + (need == UINT64_MAX ? "more than 2^64" : std::to_string(need)) +
                  " bytes, found " + std::to_string(have));
  const int64_t n = static_cast<int64_t>(need / static_cast<uint64_t>(item));
  if (have > need)
    throw IoError(where + ": " + std::to_string(have - need) +
                  " unexpected bytes after the data of shape " + arr.shape_string());

  std::vector<float> raw(static_cast<std::size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    if (item == 1) {
      raw[k] = static_cast<float>(static_cast<int8_t>(bytes[data_start + k]));
    } else if (item == 4) {
      uint32_t bits = static_cast<uint32_t>(le(bytes, data_start + 4 * k, 4));
      std::memcpy(&raw[k], &bits, 4);
    } else {
      uint64_t bits = le(bytes, data_start + 8 * k, 8);
      double d;
      std::memcpy(&d, &bits, 8);
      raw[k] = static_cast<float>(d);
    }
  }
  if (!fortran || arr.shape.size() < 2) {
    arr.data = std::move(raw);
    return arr;
  }
  // Fortran order: the first index varies fastest; transpose into C order.
  arr.data.resize(raw.size());
  const std::size_t nd = arr.shape.size();
  std::vector<int64_t> idx(nd, 0);
  for (int64_t f = 0; f < n; ++f) {
    int64_t c_off = 0;
    for (std::size_t d = 0; d < nd; ++d) c_off = c_off * arr.shape[d] + idx[d];
    arr.data[c_off] = raw[f];
    for (std::size_t d = 0; d < nd; ++d) {
      if (++idx[d] < arr.shape[d]) break;
      idx[d] = 0;
    }
  }
  return arr;
}

NpyArray read_npy(const std::string& path) {
  return parse_npy(read_file(path), path);
}

uint32_t crc32(const void* data, std::size_t size) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::map<std::string, NpyArray> read_npz(const std::string& path) {
  const std::string b = read_file(path);
  auto fail = [&](const std::string& what) -> void { throw IoError(path + ": " + what); };
  // The formats people pass by mistake, named with the way out.
  const std::string export_hint =
      "; export the arrays with numpy.savez, e.g. np.savez(\"w.npz\", **{k: v.cpu().numpy() "
      "for k, v in model.state_dict().items()})";
  if (b.size() >= 2 && static_cast<unsigned char>(b[0]) == 0x80 && b[1] >= 2 && b[1] <= 5)
    fail("is a Python pickle (torch.save's legacy format?), not an .npz archive" + export_hint);
  if (b.compare(0, 6, "\x93NUMPY", 6) == 0)
    fail("is a single .npy array, not an .npz archive of named arrays" + export_hint);
  auto need = [&](uint64_t pos, uint64_t len, const std::string& what) {
    if (pos + len > b.size() || pos + len < pos) fail("truncated zip archive (" + what + ")");
  };

  // End of central directory: 22 bytes plus a comment of up to 65535 bytes at the end.
  if (b.size() < 22) fail("not a zip archive (too short for an end-of-central-directory record)");
  std::size_t eocd = std::string::npos;
  const std::size_t lowest = b.size() >= 22 + 65535 ? b.size() - 22 - 65535 : 0;
  for (std::size_t p = b.size() - 22 + 1; p-- > lowest;) {
    if (le(b, p, 4) == 0x06054b50) {
      eocd = p;
      break;
    }
  }
  if (eocd == std::string::npos) {
    if (b.compare(0, 4, "PK\x03\x04", 4) == 0)
      fail("truncated zip archive (no end-of-central-directory record)");
    fail("not a zip archive (no end-of-central-directory record)");
  }
  uint64_t entries = le(b, eocd + 10, 2);
  uint64_t cd_size = le(b, eocd + 12, 4);
  uint64_t cd_offset = le(b, eocd + 16, 4);
  if (entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
    // Zip64: a locator 20 bytes before the EOCD points at the zip64 EOCD record.
    if (eocd < 20 || le(b, eocd - 20, 4) != 0x07064b50) fail("zip64 locator missing");
    const uint64_t rec = le(b, eocd - 20 + 8, 8);
    need(rec, 56, "zip64 end-of-central-directory record");
    if (le(b, rec, 4) != 0x06064b50) fail("bad zip64 end-of-central-directory signature");
    entries = le(b, rec + 32, 8);
    cd_size = le(b, rec + 40, 8);
    cd_offset = le(b, rec + 48, 8);
  }
  need(cd_offset, cd_size, "central directory");

  std::map<std::string, NpyArray> out;
  uint64_t p = cd_offset;
  for (uint64_t e = 0; e < entries; ++e) {
    need(p, 46, "central directory entry");
    if (le(b, p, 4) != 0x02014b50) fail("bad central directory entry signature");
    const uint64_t flags = le(b, p + 8, 2);
    const uint64_t method = le(b, p + 10, 2);
    const uint32_t crc = static_cast<uint32_t>(le(b, p + 16, 4));
    uint64_t csize = le(b, p + 20, 4);
    uint64_t usize = le(b, p + 24, 4);
    const uint64_t name_len = le(b, p + 28, 2);
    const uint64_t extra_len = le(b, p + 30, 2);
    const uint64_t comment_len = le(b, p + 32, 2);
    uint64_t local = le(b, p + 42, 4);
    need(p + 46, name_len + extra_len + comment_len, "central directory entry name");
    const std::string name = b.substr(p + 46, name_len);
    // Zip64 extended information: 64-bit values for the fields that read 0xFFFFFFFF.
    for (uint64_t x = p + 46 + name_len; x + 4 <= p + 46 + name_len + extra_len;) {
      const uint64_t id = le(b, x, 2);
      const uint64_t len = le(b, x + 2, 2);
      if (id == 0x0001) {
        uint64_t q = x + 4;
        if (usize == 0xFFFFFFFF && q + 8 <= x + 4 + len) usize = le(b, q, 8), q += 8;
        if (csize == 0xFFFFFFFF && q + 8 <= x + 4 + len) csize = le(b, q, 8), q += 8;
        if (local == 0xFFFFFFFF && q + 8 <= x + 4 + len) local = le(b, q, 8), q += 8;
      }
      x += 4 + len;
    }
    p += 46 + name_len + extra_len + comment_len;

    if (name == "data.pkl" ||
        (name.size() > 9 && name.compare(name.size() - 9, 9, "/data.pkl") == 0))
      fail("is a PyTorch torch.save file (zip archive with '" + name + "'), not an .npz archive" +
           export_hint);
    const std::string entry = "entry '" + name + "'";
    if (flags & 1) fail(entry + " is encrypted");
    if (method != 0)
      fail(entry + " is compressed (zip method " + std::to_string(method) +
           (method == 8 ? ", deflate" : "") +
           "); only stored entries are supported: save with np.savez, not np.savez_compressed");
    need(local, 30, entry + " local header");
    if (le(b, local, 4) != 0x04034b50) fail(entry + ": bad local header signature");
    const uint64_t data = local + 30 + le(b, local + 26, 2) + le(b, local + 28, 2);
    if (csize != usize) fail(entry + ": stored entry with compressed size != size");
    need(data, csize, entry + " data");
    const std::string bytes = b.substr(data, csize);
    if (crc32(bytes.data(), bytes.size()) != crc)
      fail(entry + ": CRC-32 mismatch (file is corrupt)");
    std::string key = name;
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    out[key] = parse_npy(bytes, path + ": array '" + key + "'");
  }
  return out;
}

}  // namespace tessel

namespace tessel {
namespace {

void put_le(std::string& b, uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) b.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
}

}  // namespace

std::string npy_bytes(const NpyArray& a) {
  if (a.size() != static_cast<int64_t>(a.data.size()))
    throw ConfigError("npy: shape " + a.shape_string() + " holds " + std::to_string(a.size()) +
                      " elements, the array has " + std::to_string(a.data.size()));
  // Python's tuple repr, as np.save writes it: "(3,)", "(2, 3)".
  std::string shape = "(";
  for (std::size_t k = 0; k < a.shape.size(); ++k)
    shape += (k ? ", " : "") + std::to_string(a.shape[k]);
  shape += a.shape.size() == 1 ? ",)" : ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // The format pads the header with spaces to a multiple of 64 bytes, ending in '\n'.
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string b("\x93NUMPY\x01\x00", 8);
  put_le(b, header.size(), 2);
  b += header;
  b.reserve(b.size() + 4 * a.data.size());
  for (float f : a.data) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    put_le(b, bits, 4);
  }
  return b;
}

void write_npy(const std::string& path, const NpyArray& a) {
  write_file_atomic(path, npy_bytes(a), false);
}

std::string npz_bytes(const std::map<std::string, NpyArray>& arrays) {
  std::string zip, central;
  uint16_t entries = 0;
  for (const auto& [key, array] : arrays) {
    const std::string name = key + ".npy";
    const std::string data = npy_bytes(array);
    const uint32_t crc = crc32(data.data(), data.size());
    if (zip.size() + data.size() + name.size() + 30 >= 0xffffffffu || entries == 0xffff)
      throw ConfigError("npz: the archive would need zip64 (over 4 GiB or 65535 arrays)");
    const uint64_t offset = zip.size();
    // Local file header: version 2.0, no flags, stored, no date, sizes, name.
    put_le(zip, 0x04034b50, 4);
    put_le(zip, 20, 2);
    put_le(zip, 0, 2);
    put_le(zip, 0, 2);
    put_le(zip, 0, 4);
    put_le(zip, crc, 4);
    put_le(zip, data.size(), 4);
    put_le(zip, data.size(), 4);
    put_le(zip, name.size(), 2);
    put_le(zip, 0, 2);
    zip += name;
    zip += data;
    // Its central directory record.
    put_le(central, 0x02014b50, 4);
    put_le(central, 20, 2);
    put_le(central, 20, 2);
    put_le(central, 0, 2);
    put_le(central, 0, 2);
    put_le(central, 0, 4);
    put_le(central, crc, 4);
    put_le(central, data.size(), 4);
    put_le(central, data.size(), 4);
    put_le(central, name.size(), 2);
    put_le(central, 0, 2);  // extra
    put_le(central, 0, 2);  // comment
    put_le(central, 0, 2);  // disk
    put_le(central, 0, 2);  // internal attributes
    put_le(central, 0, 4);  // external attributes
    put_le(central, offset, 4);
    central += name;
    ++entries;
  }
  const uint64_t cd_offset = zip.size();
  zip += central;
  put_le(zip, 0x06054b50, 4);
  put_le(zip, 0, 2);
  put_le(zip, 0, 2);
  put_le(zip, entries, 2);
  put_le(zip, entries, 2);
  put_le(zip, central.size(), 4);
  put_le(zip, cd_offset, 4);
  put_le(zip, 0, 2);
  return zip;
}

void write_npz(const std::string& path, const std::map<std::string, NpyArray>& arrays) {
  write_file_atomic(path, npz_bytes(arrays), false);
}

}  // namespace tessel
