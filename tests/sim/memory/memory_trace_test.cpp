// Tests of the memory-trace text and binary formats: round trips and line-numbered errors.
#include <sstream>

#include <gtest/gtest.h>

#include "runtime/core/error.h"
#include "runtime/core/memory_trace.h"

namespace tessel {
namespace {

MemoryTrace parse(const std::string& text) {
  std::istringstream in(text);
  return parse_memory_trace_text(in, "trace.txt");
}

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(MemoryTrace, ParsesEveryFieldForm) {
  MemoryTrace t = parse(
      "# comment line\n"
      "\n"
      "0 R 0x1000 64\n"
      "12.5 W weights+0x40 128   # trailing comment\n"
      "- r acts 4096\n"
      "13 w 0XFF 1\n");
  ASSERT_EQ(t.requests.size(), 4u);
  EXPECT_EQ(t.requests[0].time_ps, 0);
  EXPECT_FALSE(t.requests[0].write);
  EXPECT_EQ(t.requests[0].address, 0x1000u);
  EXPECT_EQ(t.requests[0].object, MemoryRequest::kNoObject);
  EXPECT_EQ(t.requests[1].time_ps, 12500);
  EXPECT_TRUE(t.requests[1].write);
  EXPECT_EQ(t.objects.at(t.requests[1].object), "weights");
  EXPECT_EQ(t.requests[1].address, 0x40u);
  EXPECT_EQ(t.requests[1].bytes, 128u);
  EXPECT_EQ(t.requests[2].time_ps, MemoryRequest::kAsap);
  EXPECT_EQ(t.objects.at(t.requests[2].object), "acts");
  EXPECT_EQ(t.requests[3].address, 0xFFu);
  EXPECT_EQ(t.total_bytes(), 64u + 128 + 4096 + 1);
}

TEST(MemoryTrace, RejectsMalformedLinesWithLineNumbers) {
  EXPECT_EQ(error_of("0 R 0x0 64\n\n5 X 0x40 64\n"), "trace.txt:3: expected R or W, got 'X'");
  EXPECT_EQ(error_of("0 R 0x0\n"),
            "trace.txt:1: expected '<time_ns|-> <R|W> <address|object> <bytes>', got '0 R 0x0'");
  EXPECT_EQ(error_of("0 R 0x0 0\n"),
            "trace.txt:1: expected a size in bytes from 1 to 4294967295, got '0'");
  EXPECT_EQ(error_of("0 R 0xZZ 64\n"),
            "trace.txt:1: expected a hex address such as 0x1f40, got '0xZZ'");
  EXPECT_EQ(error_of("abc R 0x0 64\n"),
            "trace.txt:1: expected a time in ns (at most 3 decimals) or '-', got 'abc'");
  EXPECT_EQ(error_of("10 R 0x0 64\n5 R 0x0 64\n"),
            "trace.txt:2: time 5 ns goes back before the previous request (10 ns)");
  EXPECT_EQ(error_of("0 R 9abc 64\n"),
            "trace.txt:1: expected a hex address (0x...) or an object name, got '9abc'");
  EXPECT_EQ(error_of("0 R w+12 64\n"), "trace.txt:1: expected a hex offset after '+' in 'w+12'");
  EXPECT_EQ(error_of("0 R 0x0 64 extra\n"),
            "trace.txt:1: unexpected field 'extra' after the size (only batch=<id> may follow)");
  EXPECT_EQ(error_of("0 R 0x0 64 batch=x\n"),
            "trace.txt:1: expected a batch id from 0 to 4294967294, got 'batch=x'");
  EXPECT_EQ(error_of("0 R 0x0 64 batch=4294967295\n"),
            "trace.txt:1: expected a batch id from 0 to 4294967294, got 'batch=4294967295'");
  EXPECT_EQ(error_of("0 R 0x0 64 batch=1 more\n"),
            "trace.txt:1: unexpected field 'more' after the batch");
}

MemoryTrace sample() {
  MemoryTrace t;
  t.requests.push_back({MemoryRequest::kAsap, false, MemoryRequest::kNoObject, 0xdeadbeef00, 64});
  t.requests.push_back({1500, true, t.object_index("grad/layer.0"), 0x80, 256});
  t.requests.push_back({2001, false, t.object_index("params"), 0, 4096});
  t.requests.push_back({2001, true, t.object_index("grad/layer.0"), 0, 1});
  return t;
}

void expect_same(const MemoryTrace& a, const MemoryTrace& b) {
  ASSERT_EQ(a.requests.size(), b.requests.size());
  EXPECT_EQ(a.objects, b.objects);
  for (size_t i = 0; i < a.requests.size(); ++i) {
    EXPECT_EQ(a.requests[i].time_ps, b.requests[i].time_ps) << i;
    EXPECT_EQ(a.requests[i].write, b.requests[i].write) << i;
    EXPECT_EQ(a.requests[i].object, b.requests[i].object) << i;
    EXPECT_EQ(a.requests[i].address, b.requests[i].address) << i;
    EXPECT_EQ(a.requests[i].bytes, b.requests[i].bytes) << i;
    EXPECT_EQ(a.requests[i].batch, b.requests[i].batch) << i;
  }
}

TEST(MemoryTrace, TextRoundTrip) {
  MemoryTrace t = sample();
  std::string text = format_memory_trace_text(t);
  EXPECT_NE(text.find("1.5 W grad/layer.0+0x80 256"), std::string::npos) << text;
  EXPECT_NE(text.find("2.001 R params 4096"), std::string::npos) << text;
  expect_same(t, parse(text));
}

TEST(MemoryTrace, BinaryRoundTripAndLayout) {
  MemoryTrace t = sample();
  std::string bin = format_memory_trace_binary(t);
  // Header 24 B, names (2 + 12) + (2 + 6), 4 records of 24 B.
  EXPECT_EQ(bin.size(), 24u + 14 + 8 + 4 * 24);
  EXPECT_EQ(bin.compare(0, 8, std::string("TSLMTRC\0", 8)), 0);
  expect_same(t, parse_memory_trace_binary(bin, "t.bin"));
}

TEST(MemoryTrace, BinaryErrorsNameTheRecord) {
  MemoryTrace t = sample();
  std::string bin = format_memory_trace_binary(t);
  std::string truncated = bin.substr(0, bin.size() - 5);
  try {
    parse_memory_trace_binary(truncated, "t.bin");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "t.bin: header says 4 records but 91 bytes of records follow (24 bytes each)");
  }
  // Record 2's size field (offset 24 + 22 + 24 + 16) set to zero.
  std::string zero = bin;
  for (int i = 0; i < 4; ++i) zero[24 + 22 + 24 + 16 + i] = 0;
  try {
    parse_memory_trace_binary(zero, "t.bin");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "t.bin: record 2: size 0");
  }
  std::string version = bin;
  version[8] = 9;
  EXPECT_THROW(parse_memory_trace_binary(version, "t.bin"), ConfigError);
}

// Batch markers: an optional `batch=<id>` after the size (text) and a version-2 record
// field (binary); traces without batches keep the version-1 layout older readers know.
MemoryTrace batched() {
  MemoryTrace t = sample();
  t.requests[1].batch = 0;
  t.requests[2].batch = 7;
  t.requests[3].batch = 0;  // batches need not be adjacent
  return t;
}

TEST(MemoryTrace, BatchMarkersInText) {
  MemoryTrace t = parse("- R vectors+0x1000 4096 batch=3\n- R vectors 4096 batch=3\n- W 0x0 64\n");
  ASSERT_EQ(t.requests.size(), 3u);
  EXPECT_EQ(t.requests[0].batch, 3u);
  EXPECT_EQ(t.requests[1].batch, 3u);
  EXPECT_EQ(t.requests[2].batch, MemoryRequest::kNoBatch);
  const MemoryTrace b = batched();
  const std::string text = format_memory_trace_text(b);
  EXPECT_NE(text.find("1.5 W grad/layer.0+0x80 256 batch=0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("- R 0xdeadbeef00 64\n"), std::string::npos) << text;
  expect_same(b, parse(text));
}

TEST(MemoryTrace, BatchMarkersInBinaryVersion2) {
  const MemoryTrace b = batched();
  const std::string bin = format_memory_trace_binary(b);
  EXPECT_EQ(bin[8], 2);                          // version 2
  EXPECT_EQ(bin.size(), 24u + 14 + 8 + 4 * 28);  // 28-byte records
  expect_same(b, parse_memory_trace_binary(bin, "t.bin"));
  // Without batches: version 1, 24-byte records, as before.
  const std::string v1 = format_memory_trace_binary(sample());
  EXPECT_EQ(v1[8], 1);
  EXPECT_EQ(v1.size(), 24u + 14 + 8 + 4 * 24);
  std::string bad = bin;
  bad[8] = 3;
  try {
    parse_memory_trace_binary(bad, "t.bin");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "t.bin: binary trace version 3, this reader knows 1 to 2");
  }
}

TEST(MemoryTrace, FilesInBothFormatsReadBack) {
  MemoryTrace t = sample();
  const std::string dir = TESSEL_BINARY_DIR;
  write_memory_trace(dir + "/memory_trace_test.bin", t, true);
  write_memory_trace(dir + "/memory_trace_test.txt", t, false);
  expect_same(t, read_memory_trace(dir + "/memory_trace_test.bin"));
  expect_same(t, read_memory_trace(dir + "/memory_trace_test.txt"));
  EXPECT_THROW(read_memory_trace(dir + "/no_such_trace.txt"), IoError);
}

}  // namespace
}  // namespace tessel
