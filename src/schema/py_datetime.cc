#include "schema/py_datetime.h"

#include <cmath>
#include <cstdio>

namespace vv::schema {
namespace {

constexpr int64_t kMsWatershed = 20000000000LL;        // pydantic/speedate
constexpr int64_t kMinEpoch = -62135596800LL;          // 0001-01-01T00:00:00Z
constexpr int64_t kMaxEpoch = 253402300799LL;          // 9999-12-31T23:59:59Z

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Howard Hinnant's days_from_civil / civil_from_days.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = static_cast<int>(yy + (*m <= 2));
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

std::optional<PyDateTime> FromUtcSeconds(int64_t secs, int micro, std::string* error) {
  if (secs < kMinEpoch || secs > kMaxEpoch) {
    *error = "timestamp out of range";
    return std::nullopt;
  }
  PyDateTime dt;
  int64_t days = FloorDiv(secs, 86400);
  int64_t rem = secs - days * 86400;
  CivilFromDays(days, &dt.year, &dt.month, &dt.day);
  dt.hour = static_cast<int>(rem / 3600);
  dt.minute = static_cast<int>((rem % 3600) / 60);
  dt.second = static_cast<int>(rem % 60);
  dt.microsecond = micro;
  dt.has_offset = true;
  dt.offset_seconds = 0;
  return dt;
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool IsNumericString(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (digits == 0) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t frac = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++frac;
    if (frac == 0) return false;
  }
  return i == s.size();
}

}  // namespace

std::string PyDateTime::ToJson() const {
  char buf[64];
  int n = std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day, hour,
                        minute, second);
  std::string out(buf, static_cast<size_t>(n));
  if (microsecond != 0) {
    n = std::snprintf(buf, sizeof(buf), ".%06d", microsecond);
    out.append(buf, static_cast<size_t>(n));
  }
  if (has_offset) {
    if (offset_seconds == 0) {
      out += 'Z';
    } else {
      int off = offset_seconds < 0 ? -offset_seconds : offset_seconds;
      n = std::snprintf(buf, sizeof(buf), "%c%02d:%02d", offset_seconds < 0 ? '-' : '+',
                        off / 3600, (off % 3600) / 60);
      out.append(buf, static_cast<size_t>(n));
    }
  }
  return out;
}

int64_t PyDateTime::ToUtcMicros() const {
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
  return secs * 1000000 + microsecond;
}

std::optional<PyDateTime> PyDateTimeFromEpochInt(int64_t value, std::string* error) {
  if (value > kMsWatershed || value < -kMsWatershed) {
    int64_t secs = FloorDiv(value, 1000);
    int micro = static_cast<int>((value - secs * 1000) * 1000);
    return FromUtcSeconds(secs, micro, error);
  }
  return FromUtcSeconds(value, 0, error);
}

std::optional<PyDateTime> PyDateTimeFromEpoch(double value, std::string* error) {
  if (!std::isfinite(value)) {
    *error = "timestamp is not finite";
    return std::nullopt;
  }
  if (value > static_cast<double>(kMsWatershed) || value < -static_cast<double>(kMsWatershed)) {
    value /= 1000.0;
  }
  if (value < static_cast<double>(kMinEpoch) || value > static_cast<double>(kMaxEpoch) + 1) {
    *error = "timestamp out of range";
    return std::nullopt;
  }
  double secs_f = std::floor(value);
  int64_t secs = static_cast<int64_t>(secs_f);
  int64_t micro = std::llround((value - secs_f) * 1e6);
  if (micro >= 1000000) {
    secs += 1;
    micro -= 1000000;
  }
  return FromUtcSeconds(secs, static_cast<int>(micro), error);
}

std::optional<PyDateTime> ParsePyDateTimeString(std::string_view s, std::string* error) {
  if (IsNumericString(s)) {
    if (s.find('.') == std::string_view::npos && s.size() <= 18) {
      return PyDateTimeFromEpochInt(std::stoll(std::string(s)), error);
    }
    return PyDateTimeFromEpoch(std::strtod(std::string(s).c_str(), nullptr), error);
  }
  PyDateTime dt;
  if (s.size() < 10 || !Digits(s, 0, 4, &dt.year) || s[4] != '-' || !Digits(s, 5, 2, &dt.month) ||
      s[7] != '-' || !Digits(s, 8, 2, &dt.day)) {
    *error = "invalid date format (expected YYYY-MM-DD)";
    return std::nullopt;
  }
  if (dt.year < 1 || dt.month < 1 || dt.month > 12 || dt.day < 1 ||
      dt.day > DaysInMonth(dt.year, dt.month)) {
    *error = "invalid date";
    return std::nullopt;
  }
  if (s.size() == 10) return dt;  // date only: naive midnight (lax mode)
  char sep = s[10];
  if (sep != 'T' && sep != 't' && sep != ' ' && sep != '_') {
    *error = "invalid date/time separator";
    return std::nullopt;
  }
  size_t p = 11;
  if (!Digits(s, p, 2, &dt.hour) || p + 2 >= s.size() || s[p + 2] != ':' ||
      !Digits(s, p + 3, 2, &dt.minute)) {
    *error = "invalid time format (expected HH:MM)";
    return std::nullopt;
  }
  p += 5;
  if (p < s.size() && s[p] == ':') {
    if (!Digits(s, p + 1, 2, &dt.second)) {
      *error = "invalid seconds";
      return std::nullopt;
    }
    p += 3;
    if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
      ++p;
      size_t start = p;
      int micro = 0;
      while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
        if (p - start >= 6) {
          *error = "second fraction too long (max 6 digits)";
          return std::nullopt;
        }
        micro = micro * 10 + (s[p] - '0');
        ++p;
      }
      if (p == start) {
        *error = "second fraction missing";
        return std::nullopt;
      }
      for (size_t k = p - start; k < 6; ++k) micro *= 10;
      dt.microsecond = micro;
    }
  }
  if (dt.hour > 23 || dt.minute > 59 || dt.second > 59) {
    *error = "invalid time";
    return std::nullopt;
  }
  if (p == s.size()) return dt;  // naive
  if (s[p] == 'Z' || s[p] == 'z') {
    ++p;
    dt.has_offset = true;
    dt.offset_seconds = 0;
  } else if (s[p] == '+' || s[p] == '-') {
    int sign = s[p] == '-' ? -1 : 1;
    int oh = 0;
    int om = 0;
    ++p;
    if (!Digits(s, p, 2, &oh)) {
      *error = "invalid timezone offset";
      return std::nullopt;
    }
    p += 2;
    if (p < s.size() && s[p] == ':') ++p;
    if (!Digits(s, p, 2, &om)) {
      *error = "invalid timezone offset";
      return std::nullopt;
    }
    p += 2;
    if (oh > 23 || om > 59) {
      *error = "timezone offset out of range";
      return std::nullopt;
    }
    dt.has_offset = true;
    dt.offset_seconds = sign * (oh * 3600 + om * 60);
  } else {
    *error = "unexpected characters after the time";
    return std::nullopt;
  }
  if (p != s.size()) {
    *error = "unexpected extra characters at the end of the input";
    return std::nullopt;
  }
  return dt;
}

std::optional<PyDateTime> ParsePyDateTime(const json::Value& v, std::string* error) {
  switch (v.type()) {
    case json::Type::kString:
      return ParsePyDateTimeString(v.as_string(), error);
    case json::Type::kInt: {
      std::optional<int64_t> i = v.as_int64();
      if (!i) {
        *error = "timestamp out of range";
        return std::nullopt;
      }
      return PyDateTimeFromEpochInt(*i, error);
    }
    case json::Type::kDouble:
      return PyDateTimeFromEpoch(v.as_double(), error);
    default:
      *error = "input is not a datetime string or number";
      return std::nullopt;
  }
}

}  // namespace vv::schema
