#include "common/clock.h"

#include <sodium.h>

#include <cstdio>
#include <ctime>

#include "common/encoding.h"

namespace vv {

void SystemRandom::Fill(uint8_t* out, size_t len) { randombytes_buf(out, len); }

std::string Random::Uuid4() {
  uint8_t b[16];
  Fill(b, sizeof b);
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  std::string h = HexEncode(std::string_view(reinterpret_cast<const char*>(b), 16));
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

std::string Random::TokenUrlSafe(size_t nbytes) {
  std::string raw(nbytes, '\0');
  Fill(reinterpret_cast<uint8_t*>(raw.data()), nbytes);
  return Base64UrlEncodeNoPad(raw);
}

namespace {
std::string FormatUtc(int64_t unix_micros, bool always_micros) {
  int64_t secs = unix_micros / 1000000;
  int64_t micros = unix_micros % 1000000;
  if (micros < 0) {
    micros += 1000000;
    secs -= 1;
  }
  time_t t = static_cast<time_t>(secs);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  if (micros != 0 || always_micros) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld+00:00", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(micros));
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d+00:00", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  return buf;
}
}  // namespace

std::string IsoFormatUtc(int64_t unix_micros) { return FormatUtc(unix_micros, false); }
std::string IsoFormatUtcMicros(int64_t unix_micros) { return FormatUtc(unix_micros, true); }

}  // namespace vv
