// Reading integer fields of JSON written by Tessel (results records, manifests) safely.
#pragma once

#include <cstdint>
#include <limits>

// Full header, not json_fwd.hpp: json_integer() is a template that reads the value.
#include <nlohmann/json.hpp>

namespace tessel {

// An integer field: nlohmann's get<> converts a floating-point value with a plain cast, which
// is undefined behaviour when it is out of range (found by fuzzing points.jsonl); a hand-edited
// or corrupt record must be a type error the readers report with the file and line instead.
// Throws nlohmann::json::type_error unless `v` is an integer that fits T.
template <typename T>
T json_integer(const nlohmann::json& v) {
  bool fits = false;
  if (v.is_number_unsigned()) {
    fits = v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
  } else if (v.is_number_integer()) {  // negative
    fits = v.get<int64_t>() >= static_cast<int64_t>(std::numeric_limits<T>::min());
  }
  if (!fits)
    throw nlohmann::json::type_error::create(302, "expected an integer in range, got " + v.dump(),
                                             &v);
  return v.get<T>();
}

}  // namespace tessel
