// Text mask files: parsing with line-numbered errors, and writing.
#include "models/sparse/mask_io.h"

#include <fstream>
#include <sstream>

#include "runtime/core/atomic_file.h"
#include "runtime/core/error.h"
#include "runtime/core/file_io.h"
#include "runtime/core/limits.h"

namespace tessel::sparse {
namespace {

[[noreturn]] void fail(const std::string& name, int line, const std::string& what) {
  throw ConfigError(name + ":" + std::to_string(line) + ": " + what);
}

int64_t header_int(const std::string& name, int line, const std::string& token,
                   const std::string& key) {
  if (token.rfind(key + "=", 0) != 0)
    fail(name, line, "header: expected " + key + "=<count>, got \"" + token + "\"");
  std::string v = token.substr(key.size() + 1);
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v.size() || n <= 0)
    fail(name, line, "header: " + key + " must be a positive integer, got \"" + v + "\"");
  return n;
}

}  // namespace

MaskFile parse_mask(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string raw;
  int line = 0;
  bool have_header = false;
  MaskFile mf;
  int64_t row = 0;
  std::vector<int> row_line;  // line of each mask row, for pattern errors
  while (std::getline(in, raw)) {
    ++line;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    size_t first = raw.find_first_not_of(" \t");
    if (first == std::string::npos || raw[first] == '#') continue;
    std::istringstream tokens(raw);
    std::vector<std::string> tok;
    for (std::string t; tokens >> t;) tok.push_back(t);
    if (tok.empty()) continue;  // only whitespace other than spaces and tabs (\v, \f)
    if (!have_header) {
      if (tok[0] != "nm_mask" || tok.size() != 4)
        fail(
            name, line,
            "expected the header \"nm_mask rows=<R> cols=<C> pattern=<N:M>\", got \"" + raw + "\"");
      int64_t rows = header_int(name, line, tok[1], "rows");
      int64_t cols = header_int(name, line, tok[2], "cols");
      if (tok[3].rfind("pattern=", 0) != 0)
        fail(name, line, "header: expected pattern=<N:M>, got \"" + tok[3] + "\"");
      try {
        mf.pattern = Pattern::parse(tok[3].substr(8));
      } catch (const ConfigError& e) {
        fail(name, line, std::string("header: ") + e.what());
      }
      if (cols % mf.pattern.m != 0)
        fail(name, line,
             "header: cols=" + std::to_string(cols) +
                 " is not a multiple of M=" + std::to_string(mf.pattern.m));
      // Each value takes at least two bytes ("1 " or "1\n"), so a header promising more values
      // than the file can hold is wrong; checking first keeps rows=1e11 from allocating.
      if (product_bytes({rows, cols}, 2) > text.size())
        fail(name, line,
             "header: rows=" + std::to_string(rows) + " x cols=" + std::to_string(cols) +
                 " values need at least " + format_bytes(product_bytes({rows, cols}, 2)) +
                 " of text, the file has " + format_bytes(text.size()));
      mf.mask = Mask(rows, cols);
      have_header = true;
      continue;
    }
    if (row >= mf.mask.rows)
      fail(name, line, "expected " + std::to_string(mf.mask.rows) + " rows, found more");
    if (static_cast<int64_t>(tok.size()) != mf.mask.cols)
      fail(name, line,
           "expected " + std::to_string(mf.mask.cols) + " values, got " +
               std::to_string(tok.size()));
    for (int64_t c = 0; c < mf.mask.cols; ++c) {
      const std::string& t = tok[static_cast<size_t>(c)];
      if (t != "0" && t != "1")
        fail(name, line, "value " + std::to_string(c + 1) + " is \"" + t + "\", expected 0 or 1");
      mf.mask(row, c) = t == "1";
    }
    row_line.push_back(line);
    ++row;
  }
  if (!have_header) fail(name, line, "empty mask file: no \"nm_mask ...\" header");
  if (row != mf.mask.rows)
    fail(name, line,
         "expected " + std::to_string(mf.mask.rows) + " rows, got " + std::to_string(row));
  Violation v = check(mf.mask, mf.pattern);
  if (!v.ok) fail(name, row_line[static_cast<size_t>(v.row)], v.str(mf.pattern));
  return mf;
}

MaskFile load_mask(const std::string& path) {
  return parse_mask(read_file(path, "mask file"), path);
}

std::string format_mask(const Mask& mask, const Pattern& pattern) {
  Violation v = check(mask, pattern);
  if (!v.ok) throw ConfigError("save_mask: mask is not " + pattern.str() + ": " + v.str(pattern));
  std::string out = "# N:M mask written by tessel (models/sparse/mask_io.h)\n";
  out += "nm_mask rows=" + std::to_string(mask.rows) + " cols=" + std::to_string(mask.cols) +
         " pattern=" + pattern.str() + "\n";
  out.reserve(out.size() + static_cast<size_t>(mask.rows * mask.cols * 2));
  for (int64_t r = 0; r < mask.rows; ++r) {
    for (int64_t c = 0; c < mask.cols; ++c) {
      if (c) out += ' ';
      out += mask(r, c) ? '1' : '0';
    }
    out += '\n';
  }
  return out;
}

void save_mask(const std::string& path, const Mask& mask, const Pattern& pattern) {
  // Atomic, so an interrupted pruning run never leaves a truncated mask for the next reader.
  write_file_atomic(path, format_mask(mask, pattern));
}

}  // namespace tessel::sparse
