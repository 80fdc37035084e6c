// Readers and writers for NumPy .npy arrays and .npz archives (uncompressed zip of .npy),
// float data.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tessel {

// One array, converted to float32 and stored in C (row-major) order.
struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
  std::string descr;  // dtype as written in the file, e.g. "<f4"

  bool is_int8() const { return descr == "|i1" || descr == "<i1" || descr == "i1"; }

  int64_t size() const;
  std::string shape_string() const;  // "[1024, 256]"
};

// Parses the bytes of one .npy file. `where` prefixes every error message (a file name,
// or "w.npz: array 'weight_hh_l0'"). Accepts format versions 1.0, 2.0 and 3.0,
// little-endian float32 ('<f4'), float64 ('<f8', narrowed to float) and int8 ('|i1'), C or
// Fortran order.
// Throws tessel::IoError naming `where` and what is wrong.
NpyArray parse_npy(const std::string& bytes, const std::string& where);

// Reads a .npy file.
NpyArray read_npy(const std::string& path);

// Reads every array of a .npz archive (as written by np.savez: a zip whose entries are
// stored, not deflated; zip64 records are understood). Keys drop the ".npy" suffix.
// Deflated entries (np.savez_compressed) are rejected with a message saying so, and so
// are torch.save files (zip with data.pkl, or a pickle) and single .npy files.
std::map<std::string, NpyArray> read_npz(const std::string& path);

// The bytes of a version 1.0 .npy file holding `a` as little-endian float32 ('<f4', C
// order), what np.save writes for a float32 array. Throws tessel::ConfigError when the
// shape does not hold a.data.size() elements.
std::string npy_bytes(const NpyArray& a);

// Writes `a` with npy_bytes, atomically (a crash leaves the old file or none). Throws
// tessel::IoError naming `path` when it cannot be written.
void write_npy(const std::string& path, const NpyArray& a);

// An np.savez archive (stored entries, "<key>.npy" each, no zip64: under 4 GiB) of `arrays`,
// and the same written atomically to `path`.
std::string npz_bytes(const std::map<std::string, NpyArray>& arrays);
void write_npz(const std::string& path, const std::map<std::string, NpyArray>& arrays);

// CRC-32 (IEEE 802.3, as zip uses) of a byte range; exposed for tests that write archives.
uint32_t crc32(const void* data, std::size_t size);

}  // namespace tessel
