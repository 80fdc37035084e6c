// Archive input: whole files read plain or gzip-compressed (zlib), and a ustar tar reader.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessel::data {

// The file's bytes; a gzip file (magic 1f 8b) is decompressed with zlib when the build has
// it. Throws tessel::IoError naming the file: missing or unreadable, corrupt gzip data, or a
// gzip file in a build without zlib.
std::string read_maybe_gzip(const std::string& path);

// One regular file of a tar archive.
struct TarEntry {
  std::string name;  // ustar prefix + "/" + name when the prefix is set
  std::string data;
};

// The regular files of a tar archive held in `bytes`, in archive order: 512-byte ustar
// (POSIX.1-1988) or old-style v7 headers, each followed by its data padded to 512 bytes,
// ended by a zero block or the end of the data. Directories, links and device entries are
// skipped. Header checksums are verified (unsigned byte sum, as POSIX specifies, with the
// signed sum of old tars accepted). Throws tessel::IoError naming `what` and the entry's
// byte offset for a bad checksum, a malformed size field, data running past the end, and
// pax / GNU long-name entries (types x, g, L, K), which this reader does not interpret.
std::vector<TarEntry> read_tar(const std::string& bytes, const std::string& what);

}  // namespace tessel::data
