#pragma once
// vv::schema::PyDateTime: the pydantic v2 `datetime` field as the reference gateway sees it
// (wire-contract 1.3, observed_at and the contract-v2 started_at/completed_at).
//
// Accepted JSON inputs (pydantic lax mode, speedate):
//   - "YYYY-MM-DD[T|t| |_]HH:MM[:SS[(.|,)f{1,6}]][Z|z|(+|-)HH[:]MM]"   (naive without offset)
//   - "YYYY-MM-DD" (midnight, naive)
//   - a number (int or float) or a numeric string: Unix time in seconds, or in milliseconds
//     when |value| > 2e10 (pydantic's watershed); the result is UTC.
// Rejected: invalid dates/times (Feb 30, hour 24, second 60), years outside 1..9999, more
// than 6 fractional digits, offsets of 24h or more, trailing garbage, booleans, null.
// Float epochs are rounded to the nearest microsecond (pydantic: "unexpected extra characters"
// for sub-microsecond parts in some versions; we round instead, documented).
//
// Serialisation (ToJson) is pydantic's JSON form: YYYY-MM-DDTHH:MM:SS, then .ffffff only when
// the microseconds are non-zero, then "Z" for a zero offset, "+HH:MM"/"-HH:MM" otherwise, and
// nothing for a naive value.
// Thread-safety: plain value type.

#include <cstdint>
#include <optional>
#include <string>

#include "json/json.h"

namespace vv::schema {

struct PyDateTime {
  int year = 1970;
  int month = 1;
  int day = 1;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int microsecond = 0;
  bool has_offset = false;  // false = naive
  int offset_seconds = 0;   // east of UTC

  std::string ToJson() const;
  // Microseconds since the epoch of the wall-clock value minus the offset (a naive value is
  // taken as-is; callers must not compare naive with aware values).
  int64_t ToUtcMicros() const;
};

// Parses a JSON value as pydantic would for a `datetime` field. On failure returns nullopt and
// sets *error to a short reason (e.g. "invalid date", "input is not a datetime").
std::optional<PyDateTime> ParsePyDateTime(const json::Value& v, std::string* error);
std::optional<PyDateTime> ParsePyDateTimeString(std::string_view s, std::string* error);
// Unix time (seconds, or milliseconds beyond the watershed) to UTC.
std::optional<PyDateTime> PyDateTimeFromEpoch(double value, std::string* error);
std::optional<PyDateTime> PyDateTimeFromEpochInt(int64_t value, std::string* error);

}  // namespace vv::schema
