// Fuzz target: tar archives (the mail corpora ship as tar) and mail text extraction.
#include <cstdint>
#include <string>

#include "models/data/archive.h"
#include "models/data/mail.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessel;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean("a.tar", [&] {
    for (const auto& e : data::read_tar(bytes, "a.tar"))
      data::mail_lm_text(data::mail_text(e.data));
  });
  try {
    data::mail_lm_text(data::mail_text(bytes));
  } catch (const Error&) {
  } catch (const std::exception& e) {
    fuzz::finding(std::string("mail: non-tessel exception: ") + e.what());
  }
  return 0;
}
