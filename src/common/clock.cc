#include "common/clock.h"

#include <chrono>

#include <sodium.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>

#include "common/encoding.h"

namespace vv {

// One page: the count of unused bytes, then the bytes. A forked child sees the whole page
// zeroed (MADV_WIPEONFORK), so remaining == 0 and it refills.
struct SystemRandom::Page {
  static constexpr size_t kSize = 4096;
  uint64_t remaining;
  uint8_t bytes[kSize - sizeof(uint64_t)];
};

SystemRandom::SystemRandom() {
  static_assert(sizeof(Page) == Page::kSize);
  void* p = mmap(nullptr, Page::kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  if (madvise(p, Page::kSize, MADV_WIPEONFORK) != 0) {  // no safe pool: draw directly
    munmap(p, Page::kSize);
    return;
  }
  madvise(p, Page::kSize, MADV_DONTDUMP);  // best effort
  MutexLock l(&mu_);
  page_ = static_cast<Page*>(p);  // zero-filled: remaining == 0
}

SystemRandom::~SystemRandom() {
  MutexLock l(&mu_);
  if (page_ == nullptr) return;
  sodium_memzero(page_, Page::kSize);
  munmap(page_, Page::kSize);
}

void SystemRandom::Fill(uint8_t* out, size_t len) {
  if (len > kPooledMax || page_ == nullptr) {
    randombytes_buf(out, len);
    return;
  }
  MutexLock l(&mu_);
  Page& pg = *page_;
  if (pg.remaining < len || pg.remaining > sizeof pg.bytes) {
    randombytes_buf(pg.bytes, sizeof pg.bytes);
    pg.remaining = sizeof pg.bytes;
  }
  uint8_t* from = pg.bytes + (sizeof pg.bytes - pg.remaining);
  std::memcpy(out, from, len);
  sodium_memzero(from, len);  // a byte handed out is never in memory twice
  pg.remaining -= len;
}

std::string Random::Uuid4() {
  uint8_t b[16];
  Fill(b, sizeof b);
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t o = 0;
  for (size_t i = 0; i < 16; ++i) {
    if (o == 8 || o == 13 || o == 18 || o == 23) ++o;  // the dashes
    out[o++] = kHex[b[i] >> 4];
    out[o++] = kHex[b[i] & 0x0f];
  }
  sodium_memzero(b, sizeof b);
  return out;
}

std::string Random::TokenUrlSafe(size_t nbytes) {
  std::string raw(nbytes, '\0');
  Fill(reinterpret_cast<uint8_t*>(raw.data()), nbytes);
  return Base64UrlEncodeNoPad(raw);
}

namespace {
// gmtime_r + snprintf: the reference form, and the path for years outside 0001-9999.
std::string FormatUtcSlow(int64_t secs, int64_t micros, bool with_micros) {
  time_t t = static_cast<time_t>(secs);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  if (with_micros) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld+00:00", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(micros));
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d+00:00", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  return buf;
}

// Writes `v` as exactly `width` decimal digits ending at `end` (exclusive).
void PutDigits(char* end, int64_t v, int width) {
  for (int i = 0; i < width; ++i) {
    *--end = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

// Every audit record and every queue envelope carries one of these: the civil date from the
// day count (std::chrono's calendar) and the digits written in place - snprintf cost ~4,000
// instructions a call (issue 15).
std::string FormatUtc(int64_t unix_micros, bool always_micros) {
  int64_t secs = unix_micros / 1000000;
  int64_t micros = unix_micros % 1000000;
  if (micros < 0) {
    micros += 1000000;
    secs -= 1;
  }
  const bool with_micros = micros != 0 || always_micros;
  int64_t days = secs / 86400;
  int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    days -= 1;
  }
  if (days < -719162 || days > 2932896)  // outside 0001-01-01 .. 9999-12-31
    return FormatUtcSlow(secs, micros, with_micros);
  const std::chrono::year_month_day ymd{
      std::chrono::sys_days{std::chrono::days{static_cast<int>(days)}}};
  const int year = static_cast<int>(ymd.year());
  // "YYYY-MM-DDTHH:MM:SS" [".ffffff"] "+00:00"
  std::string out(with_micros ? 32 : 25, '\0');
  char* p = out.data();
  PutDigits(p + 4, year, 4);
  p[4] = '-';
  PutDigits(p + 7, static_cast<unsigned>(ymd.month()), 2);
  p[7] = '-';
  PutDigits(p + 10, static_cast<unsigned>(ymd.day()), 2);
  p[10] = 'T';
  PutDigits(p + 13, sod / 3600, 2);
  p[13] = ':';
  PutDigits(p + 16, sod / 60 % 60, 2);
  p[16] = ':';
  PutDigits(p + 19, sod % 60, 2);
  size_t at = 19;
  if (with_micros) {
    p[19] = '.';
    PutDigits(p + 26, micros, 6);
    at = 26;
  }
  std::memcpy(p + at, "+00:00", 6);
  return out;
}
}  // namespace

std::string IsoFormatUtc(int64_t unix_micros) { return FormatUtc(unix_micros, false); }
std::string IsoFormatUtcMicros(int64_t unix_micros) { return FormatUtc(unix_micros, true); }

}  // namespace vv
