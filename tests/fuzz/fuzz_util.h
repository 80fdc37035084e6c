// Helpers shared by the libFuzzer targets: temporary files and the rule that bad input may
// only end in a tessel::Error naming where it came from.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/core/error.h"

namespace tessel::fuzz {

// A folder of this process's own (RAM-backed when /dev/shm exists), removed at exit.
inline const std::string& temp_dir() {
  // Never destroyed: the exit handler that removes the folder runs after static destructors
  // registered later, so it must not read a string that may already be gone.
  static const std::string* dir = [] {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path root =
        fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    auto* d = new std::string((root / ("tessel_fuzz_" + std::to_string(::getpid()))).string());
    fs::create_directories(*d);
    std::atexit([] {
      std::error_code e;
      fs::remove_all(temp_dir(), e);
    });
    return d;
  }();
  return *dir;
}

// Writes `bytes` to temp_dir()/name and returns the path. Every write gets a new modification
// time, so the config loader's cache (keyed by path, size and time) never serves the previous
// input's tree.
inline std::string write_temp(const std::string& name, const std::string& bytes) {
  namespace fs = std::filesystem;
  static int64_t tick = 0;
  const std::string path = temp_dir() + "/" + name;
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  std::error_code ec;
  fs::last_write_time(path, fs::file_time_type(std::chrono::seconds(1000000000 + ++tick)), ec);
  return path;
}

[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// Runs `f` on one input. A tessel::Error whose message names `where` (a file path or the name
// given to a parser) is the expected outcome of bad input; any other exception is a finding:
// the user would see "internal error" or a message without the file.
template <typename F>
void expect_clean(const std::string& where, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.find(where) == std::string::npos) finding("error does not name " + where + ": " + msg);
  } catch (const std::exception& e) {
    finding(std::string("non-tessel exception: ") + e.what());
  }
}

// FNV-1a 64 over `n` bytes: the checksum of the index and checkpoint formats, so a target
// can repair it and reach the fields behind it.
inline uint64_t fnv1a64(const char* p, std::size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 0x100000001b3ull;
  return h;
}

// `bytes` with its last 8 bytes replaced by the FNV-1a of everything before them.
inline std::string with_fnv_trailer(std::string bytes) {
  if (bytes.size() < 8) return bytes;
  const uint64_t h = fnv1a64(bytes.data(), bytes.size() - 8);
  for (int k = 0; k < 8; ++k)
    bytes[bytes.size() - 8 + k] = static_cast<char>((h >> (8 * k)) & 0xFF);
  return bytes;
}

}  // namespace tessel::fuzz
