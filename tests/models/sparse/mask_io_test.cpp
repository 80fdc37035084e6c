// Mask files: save/load round trip and the exact line-numbered error messages.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "models/sparse/mask_io.h"
#include "runtime/core/error.h"

namespace tessel::sparse {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse_mask(text, "mask.txt");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(MaskIo, SavesAndLoadsTheSameMask) {
  MatrixF w = random_float(6, 16, 9);
  Mask m = project_mask(w, {2, 8});
  const std::string path = std::string(TESSEL_BINARY_DIR) + "/sparse_mask_io_test.txt";
  save_mask(path, m, {2, 8});
  MaskFile back = load_mask(path);
  EXPECT_TRUE(back.mask == m);
  EXPECT_EQ(back.pattern, (Pattern{2, 8}));
  std::remove(path.c_str());
}

TEST(MaskIo, FormatIsTheDocumentedText) {
  Mask m(2, 4);
  m(0, 0) = m(0, 3) = m(1, 1) = m(1, 2) = 1;
  EXPECT_EQ(format_mask(m, {2, 4}),
            "# N:M mask written by tessel (models/sparse/mask_io.h)\n"
            "nm_mask rows=2 cols=4 pattern=2:4\n1 0 0 1\n0 1 1 0\n");
}

TEST(MaskIo, ReportsLineNumberedErrors) {
  const std::string header = "# a comment\nnm_mask rows=2 cols=4 pattern=2:4\n";
  EXPECT_EQ(error_of(header + "1 1 0 0\n\n1 0 0\n"), "mask.txt:5: expected 4 values, got 3");
  EXPECT_EQ(error_of(header + "1 1 0 2\n"), "mask.txt:3: value 4 is \"2\", expected 0 or 1");
  EXPECT_EQ(error_of(header + "1 1 0 0\n1 1 1 0\n"),
            "mask.txt:4: row 1 group 0 (columns 0-3) keeps 3 of 4, 2:4 allows 2");
  EXPECT_EQ(error_of(header + "1 1 0 0\n"), "mask.txt:3: expected 2 rows, got 1");
  EXPECT_EQ(error_of(header + "1 1 0 0\n0 0 1 1\n0 0 1 1\n"),
            "mask.txt:5: expected 2 rows, found more");
  EXPECT_EQ(error_of("nm_mask rows=2 cols=6 pattern=2:4\n"),
            "mask.txt:1: header: cols=6 is not a multiple of M=4");
  EXPECT_EQ(error_of("nm_mask rows=x cols=4 pattern=2:4\n"),
            "mask.txt:1: header: rows must be a positive integer, got \"x\"");
  EXPECT_EQ(error_of("1 0 0 1\n"),
            "mask.txt:1: expected the header \"nm_mask rows=<R> cols=<C> pattern=<N:M>\", got "
            "\"1 0 0 1\"");
  EXPECT_EQ(error_of("# only a comment\n"),
            "mask.txt:1: empty mask file: no \"nm_mask ...\" header");
}

TEST(MaskIo, MissingFileIsAnIoError) {
  EXPECT_THROW(load_mask("/nonexistent/mask.txt"), IoError);
}

TEST(MaskIo, RefusesToSaveAViolatingMask) {
  Mask m(1, 4);
  m(0, 0) = m(0, 1) = m(0, 2) = 1;
  EXPECT_THROW(format_mask(m, {2, 4}), ConfigError);
}

}  // namespace
}  // namespace tessel::sparse
