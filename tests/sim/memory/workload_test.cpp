// Address resolution of memory traces at the top of the 64-bit space: requests that end
// exactly at 2^64 are addressable; one byte more runs past it (no wrap-around to 0).
#include <gtest/gtest.h>

#include <string>

#include "runtime/core/error.h"
#include "sim/memory/workload.h"

namespace tessel::memory {
namespace {

constexpr uint64_t kTop = 0xFFFFFFFFFFF00000ull;  // a 1 MiB tier that ends at 2^64

HierarchySpec top_tier() {
  HierarchySpec h;
  TierSpec low, top;
  low.name = "dram";
  low.capacity = uint64_t{1} << 30;
  top.name = "top";
  top.base = kTop;
  top.capacity = uint64_t{1} << 20;
  h.tiers = {low, top};
  h.placement["x"] = 1;
  return h;
}

MemoryTrace one(uint64_t address, uint32_t bytes, bool object) {
  MemoryTrace t;
  MemoryRequest r;
  r.address = address;
  r.bytes = bytes;
  if (object) {
    t.objects.push_back("x");
    r.object = 0;
  }
  t.requests.push_back(r);
  return t;
}

std::string error_of(const MemoryTrace& t, uint64_t offset = 0) {
  try {
    resolve(t, top_tier(), offset, "t");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(MemoryWorkload, RequestsEndingAtTwoToTheSixtyFourResolve) {
  const HierarchySpec h = top_tier();
  // The last 64 bytes: flat, flat behind a tier offset, and as the end of an object.
  EXPECT_EQ(resolve(one(0xFFFFFFFFFFFFFFC0ull, 64, false), h, 0, "t")[0].address,
            0xFFFFFFFFFFFFFFC0ull);
  EXPECT_EQ(resolve(one(0xFFFFFFFFFFFFEFC0ull, 64, false), h, 0x1000, "t")[0].address,
            0xFFFFFFFFFFFFFFC0ull);
  EXPECT_EQ(resolve(one(0xFFFC0, 64, true), h, 0, "t")[0].address, 0xFFFFFFFFFFFFFFC0ull);
}

TEST(MemoryWorkload, RequestsPastTwoToTheSixtyFourAreNamed) {
  EXPECT_EQ(error_of(one(0xFFFFFFFFFFFFFFC1ull, 64, false)),
            "t: request 1: address 0xffffffffffffffc1 (64 bytes) runs past the end of its tier "
            "(tier 'top' holds 0xfffffffffff00000 to 0xffffffffffffffff, 1 MiB)");
  EXPECT_EQ(error_of(one(0xFFFFFFFFFFFFEFC1ull, 64, false), 0x1000),
            "t: request 1: address 0xffffffffffffffc1 (64 bytes) runs past the end of its tier "
            "(tier 'top' holds 0xfffffffffff00000 to 0xffffffffffffffff, 1 MiB)");
  // An object offset whose last byte is 2^64 - 1 fits 64-bit addresses (it only misses its
  // tier); one byte further does not.
  EXPECT_EQ(error_of(one(0xFFFFFFFFFFFFFFC0ull, 64, true)),
            "t: request 1: object 'x' needs 18446744073709551616 bytes from 0xfffffffffff00000, "
            "past the end of its tier (tier 'top' holds 0xfffffffffff00000 to "
            "0xffffffffffffffff, 1 MiB)");
  EXPECT_EQ(error_of(one(0xFFFFFFFFFFFFFFC1ull, 64, true)),
            "t: request 1: offset 0xffffffffffffffc1 (64 bytes) in object 'x' runs past 64-bit "
            "addresses");
  // An object that ends exactly at the tier's end fits; one byte more does not.
  EXPECT_EQ(error_of(one(0xFFFC0, 64, true)), "");
  EXPECT_NE(error_of(one(0xFFFC1, 64, true)).find("past the end of its tier"), std::string::npos);
}

}  // namespace
}  // namespace tessel::memory
