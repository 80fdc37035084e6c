// Memory-access trace formats (text and binary): what models emit and memory models replay.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace tessel {

// One memory request of a trace.
//
// A request names either a flat address or a named object (a tensor, a sample store...)
// plus a byte offset inside it; memory hierarchies place objects in tiers by name, so a
// trace stays valid when the placement changes.
struct MemoryRequest {
  static constexpr int64_t kAsap = -1;                // issue as soon as the memory accepts it
  static constexpr uint32_t kNoObject = 0x7FFFFFFFu;  // `address` is a flat address
  static constexpr uint32_t kNoBatch = 0xFFFFFFFFu;   // not part of a batch

  int64_t time_ps = kAsap;  // issue time in picoseconds, or kAsap
  bool write = false;
  uint32_t object = kNoObject;  // index into MemoryTrace::objects
  uint64_t address = 0;         // flat address, or offset inside `object`
  uint32_t bytes = 0;           // > 0
  uint32_t line = 0;            // text line it was read from, for messages (0: binary or generated)
  // Batch id: requests issued together whose completion counts as one (a re-rank's vector
  // reads, a swap-in of samples); replay reports each batch's last completion minus its
  // first issue. Any id below kNoBatch; requests of a batch need not be adjacent.
  uint32_t batch = kNoBatch;
};

struct MemoryTrace {
  std::vector<std::string> objects;  // object names, in order of first use
  std::vector<MemoryRequest> requests;

  // Index of `name`, adding it when new. Names match [A-Za-z_][A-Za-z0-9_.:/-]*.
  uint32_t object_index(const std::string& name);
  uint64_t total_bytes() const;
};

// Text format, one request per line (blank lines and `#` comments ignored):
//
//   <time> <op> <target> <bytes> [batch=<id>]
//
//   time    issue time in ns (decimal, up to 3 fractional digits), or `-` for as soon
//           as possible; timed requests must not go back in time
//   op      R or W
//   target  0x-prefixed hex address, or an object name with an optional hex offset:
//           `weights` or `weights+0x40`
//   bytes   decimal request size, 1 .. 2^32-1
//   batch   optional batch marker: the request belongs to batch <id> (decimal,
//           0 .. 4294967294); traces without markers read as before
//
// Errors are IoError (cannot read) or ConfigError "<name>:<line>: <message>".
MemoryTrace parse_memory_trace_text(std::istream& in, const std::string& name);
std::string format_memory_trace_text(const MemoryTrace& trace);

// Binary format (little-endian), for long traces:
//
//   header   8 bytes magic "TSLMTRC\0", u32 version (1 or 2), u32 object count,
//            u64 request count
//   objects  per object: u16 name length, name bytes
//   records  per request, 24 bytes: i64 time_ps (-1 = as soon as possible),
//            u64 address, u32 bytes, u32 op_object: bit 31 set for a write, bits
//            0-30 the object index (0x7FFFFFFF = flat address); version 2 adds
//            u32 batch (0xFFFFFFFF = none) to each record (28 bytes)
//
// The writer writes version 1 when no request has a batch (readable by older readers)
// and version 2 otherwise; the reader takes both. Errors name the file and the record.
constexpr char kMemoryTraceMagic[8] = {'T', 'S', 'L', 'M', 'T', 'R', 'C', '\0'};
constexpr uint32_t kMemoryTraceVersion = 2;  // newest version this reader knows
constexpr uint32_t kMemoryTraceWriteBit = 0x80000000u;

// Reads a trace file in either format (binary when it starts with the magic). An empty
// trace reads as one without requests; consumers decide whether that is an error.
MemoryTrace read_memory_trace(const std::string& path);
MemoryTrace parse_memory_trace_binary(const std::string& data, const std::string& name);
std::string format_memory_trace_binary(const MemoryTrace& trace);
// Writes `trace` to `path` atomically; binary when `binary`, text otherwise.
void write_memory_trace(const std::string& path, const MemoryTrace& trace, bool binary);

}  // namespace tessel
