// Reader and writer of the text and binary memory-access trace formats.
#include "runtime/core/memory_trace.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>
#include <sstream>

#include "runtime/core/atomic_file.h"
#include "runtime/core/error.h"
#include "runtime/core/file_io.h"

namespace tessel {
namespace {

bool valid_object_name(const std::string& s) {
  if (s.empty() || s.size() > 65535) return false;
  auto head = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; };
  if (!head(s[0])) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != ':' &&
        c != '/' && c != '-')
      return false;
  return true;
}

// Hex digits after "0x"; false on overflow or a non-hex character.
bool parse_hex(const std::string& s, uint64_t& out) {
  if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return false;
  out = 0;
  for (size_t i = 2; i < s.size(); ++i) {
    int d;
    char c = s[i];
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return false;
    if (out > (std::numeric_limits<uint64_t>::max() >> 4)) return false;
    out = (out << 4) | static_cast<uint64_t>(d);
  }
  return true;
}

bool parse_decimal(const std::string& s, uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

// Latest issue time either format accepts: 9e15 ps (2.5 hours), far beyond any simulated run,
// and leaves room for the latencies replay adds without overflowing int64.
constexpr int64_t kMaxTraceTimePs = 9000000000000000;

// "12", "12.5", "0.125" ns → picoseconds; at most 3 fractional digits (1 ps resolution).
bool parse_time_ns(const std::string& s, int64_t& ps) {
  size_t dot = s.find('.');
  std::string whole = s.substr(0, dot);
  std::string frac = dot == std::string::npos ? "" : s.substr(dot + 1);
  if (dot != std::string::npos && frac.empty()) return false;
  if (frac.size() > 3) return false;
  uint64_t w = 0, f = 0;
  if (!parse_decimal(whole, w)) return false;
  if (!frac.empty() && !parse_decimal(frac, f)) return false;
  for (size_t i = frac.size(); i < 3; ++i) f *= 10;
  if (w > kMaxTraceTimePs / 1000) return false;
  ps = static_cast<int64_t>(w * 1000 + f);
  return true;
}

std::string format_time_ns(int64_t ps) {
  std::string s = std::to_string(ps / 1000);
  int64_t f = ps % 1000;
  if (f == 0) return s;
  char buf[8];
  std::snprintf(buf, sizeof buf, ".%03lld", static_cast<long long>(f));
  std::string frac = buf;
  while (frac.back() == '0') frac.pop_back();
  return s + frac;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

template <typename T>
void put(std::string& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i)
    out.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xFF));
}

template <typename T>
T get(const std::string& data, size_t& pos) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(data[pos + i])) << (8 * i);
  pos += sizeof(T);
  return static_cast<T>(v);
}

}  // namespace

uint32_t MemoryTrace::object_index(const std::string& name) {
  for (size_t i = 0; i < objects.size(); ++i)
    if (objects[i] == name) return static_cast<uint32_t>(i);
  objects.push_back(name);
  return static_cast<uint32_t>(objects.size() - 1);
}

uint64_t MemoryTrace::total_bytes() const {
  uint64_t n = 0;
  for (const auto& r : requests) n += r.bytes;
  return n;
}

MemoryTrace parse_memory_trace_text(std::istream& in, const std::string& name) {
  MemoryTrace trace;
  std::string line;
  int64_t line_no = 0;
  int64_t last_time = 0;
  // Object lookups by name are linear in MemoryTrace::object_index; cache the last one,
  // since traces touch the same object in runs.
  std::string last_object;
  uint32_t last_index = 0;
  while (std::getline(in, line)) {
    ++line_no;
    auto fail = [&](const std::string& msg) -> void {
      throw ConfigError(name + ":" + std::to_string(line_no) + ": " + msg);
    };
    size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string time_s, op_s, target_s, bytes_s, extra;
    if (!(fields >> time_s)) continue;
    if (!(fields >> op_s >> target_s >> bytes_s))
      fail("expected '<time_ns|-> <R|W> <address|object> <bytes>', got '" + line + "'");
    MemoryRequest r;
    if (fields >> extra) {
      uint64_t id = 0;
      if (extra.compare(0, 6, "batch=") != 0)
        fail("unexpected field '" + extra + "' after the size (only batch=<id> may follow)");
      if (!parse_decimal(extra.substr(6), id) || id >= MemoryRequest::kNoBatch)
        fail("expected a batch id from 0 to 4294967294, got '" + extra + "'");
      r.batch = static_cast<uint32_t>(id);
      if (fields >> extra) fail("unexpected field '" + extra + "' after the batch");
    }
    if (time_s != "-") {
      if (!parse_time_ns(time_s, r.time_ps))
        fail("expected a time in ns (at most 3 decimals) or '-', got '" + time_s + "'");
      if (r.time_ps < last_time)
        fail("time " + time_s + " ns goes back before the previous request (" +
             format_time_ns(last_time) + " ns)");
      last_time = r.time_ps;
    }
    if (op_s == "R" || op_s == "r")
      r.write = false;
    else if (op_s == "W" || op_s == "w")
      r.write = true;
    else
      fail("expected R or W, got '" + op_s + "'");
    if (target_s.size() > 1 && target_s[0] == '0' && (target_s[1] == 'x' || target_s[1] == 'X')) {
      if (!parse_hex(target_s, r.address))
        fail("expected a hex address such as 0x1f40, got '" + target_s + "'");
    } else {
      std::string obj = target_s;
      size_t plus = target_s.find('+');
      if (plus != std::string::npos) {
        obj = target_s.substr(0, plus);
        if (!parse_hex(target_s.substr(plus + 1), r.address))
          fail("expected a hex offset after '+' in '" + target_s + "'");
      }
      if (!valid_object_name(obj))
        fail("expected a hex address (0x...) or an object name, got '" + target_s + "'");
      if (obj != last_object || trace.objects.empty()) {
        last_index = trace.object_index(obj);
        last_object = obj;
      }
      if (last_index >= MemoryRequest::kNoObject) fail("too many objects");
      r.object = last_index;
    }
    uint64_t bytes = 0;
    if (!parse_decimal(bytes_s, bytes) || bytes == 0 || bytes > 0xFFFFFFFFull)
      fail("expected a size in bytes from 1 to 4294967295, got '" + bytes_s + "'");
    r.bytes = static_cast<uint32_t>(bytes);
    r.line = static_cast<uint32_t>(std::min<int64_t>(line_no, 0xFFFFFFFF));
    trace.requests.push_back(r);
  }
  if (in.bad()) throw IoError(name + ": read error");
  return trace;
}

std::string format_memory_trace_text(const MemoryTrace& trace) {
  std::string out =
      "# tessel memory trace: <time_ns|-> <R|W> <address|object[+offset]> <bytes> "
      "[batch=<id>]\n";
  for (const auto& r : trace.requests) {
    out += r.time_ps == MemoryRequest::kAsap ? "-" : format_time_ns(r.time_ps);
    out += r.write ? " W " : " R ";
    if (r.object == MemoryRequest::kNoObject) {
      out += hex(r.address);
    } else {
      out += trace.objects.at(r.object);
      if (r.address) out += "+" + hex(r.address);
    }
    out += ' ';
    out += std::to_string(r.bytes);
    if (r.batch != MemoryRequest::kNoBatch) out += " batch=" + std::to_string(r.batch);
    out += '\n';
  }
  return out;
}

std::string format_memory_trace_binary(const MemoryTrace& trace) {
  // Version 1 unless a request has a batch, so that traces without batches stay readable
  // by readers that know only version 1.
  const bool batches =
      std::any_of(trace.requests.begin(), trace.requests.end(),
                  [](const MemoryRequest& r) { return r.batch != MemoryRequest::kNoBatch; });
  std::string out(kMemoryTraceMagic, sizeof kMemoryTraceMagic);
  put<uint32_t>(out, batches ? 2u : 1u);
  put<uint32_t>(out, static_cast<uint32_t>(trace.objects.size()));
  put<uint64_t>(out, trace.requests.size());
  for (const auto& o : trace.objects) {
    put<uint16_t>(out, static_cast<uint16_t>(o.size()));
    out += o;
  }
  out.reserve(out.size() + trace.requests.size() * (batches ? 28 : 24));
  for (const auto& r : trace.requests) {
    put<int64_t>(out, r.time_ps);
    put<uint64_t>(out, r.address);
    put<uint32_t>(out, r.bytes);
    put<uint32_t>(out, r.object | (r.write ? kMemoryTraceWriteBit : 0));
    if (batches) put<uint32_t>(out, r.batch);
  }
  return out;
}

MemoryTrace parse_memory_trace_binary(const std::string& data, const std::string& name) {
  auto fail = [&](const std::string& msg) -> void { throw ConfigError(name + ": " + msg); };
  if (data.size() < 24 || data.compare(0, 8, kMemoryTraceMagic, 8) != 0)
    fail("not a binary memory trace (bad magic)");
  size_t pos = 8;
  uint32_t version = get<uint32_t>(data, pos);
  if (version < 1 || version > kMemoryTraceVersion)
    fail("binary trace version " + std::to_string(version) + ", this reader knows 1 to " +
         std::to_string(kMemoryTraceVersion));
  const size_t record = version >= 2 ? 28 : 24;
  uint32_t n_objects = get<uint32_t>(data, pos);
  uint64_t n_requests = get<uint64_t>(data, pos);
  MemoryTrace trace;
  for (uint32_t i = 0; i < n_objects; ++i) {
    if (pos + 2 > data.size()) fail("truncated in object name " + std::to_string(i));
    uint16_t len = get<uint16_t>(data, pos);
    if (pos + len > data.size()) fail("truncated in object name " + std::to_string(i));
    std::string obj = data.substr(pos, len);
    pos += len;
    if (!valid_object_name(obj)) fail("object " + std::to_string(i) + ": bad name '" + obj + "'");
    trace.objects.push_back(obj);
  }
  if ((data.size() - pos) / record != n_requests || (data.size() - pos) % record != 0)
    fail("header says " + std::to_string(n_requests) + " records but " +
         std::to_string(data.size() - pos) + " bytes of records follow (" + std::to_string(record) +
         " bytes each)");
  trace.requests.resize(n_requests);
  int64_t last_time = 0;
  for (uint64_t i = 0; i < n_requests; ++i) {
    MemoryRequest& r = trace.requests[i];
    r.time_ps = get<int64_t>(data, pos);
    r.address = get<uint64_t>(data, pos);
    r.bytes = get<uint32_t>(data, pos);
    uint32_t op_object = get<uint32_t>(data, pos);
    r.write = (op_object & kMemoryTraceWriteBit) != 0;
    r.object = op_object & ~kMemoryTraceWriteBit;
    if (record == 28) r.batch = get<uint32_t>(data, pos);
    std::string where = "record " + std::to_string(i + 1) + ": ";
    if (r.time_ps < MemoryRequest::kAsap) fail(where + "negative time");
    if (r.time_ps > kMaxTraceTimePs)
      fail(where + "time " + std::to_string(r.time_ps) + " ps beyond the 9e15 ps limit");
    if (r.time_ps != MemoryRequest::kAsap) {
      if (r.time_ps < last_time) fail(where + "time goes back before the previous request");
      last_time = r.time_ps;
    }
    if (r.bytes == 0) fail(where + "size 0");
    if (r.object != MemoryRequest::kNoObject && r.object >= n_objects)
      fail(where + "object index " + std::to_string(r.object) + " but only " +
           std::to_string(n_objects) + " objects");
  }
  return trace;
}

MemoryTrace read_memory_trace(const std::string& path) {
  std::string data = read_file(path, "memory trace");
  if (data.size() >= 8 && data.compare(0, 8, kMemoryTraceMagic, 8) == 0)
    return parse_memory_trace_binary(data, path);
  std::istringstream text(data);
  return parse_memory_trace_text(text, path);
}

void write_memory_trace(const std::string& path, const MemoryTrace& trace, bool binary) {
  write_file_atomic(path,
                    binary ? format_memory_trace_binary(trace) : format_memory_trace_text(trace));
}

}  // namespace tessel
