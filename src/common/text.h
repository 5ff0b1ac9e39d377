#pragma once
// UTF-8 text rules shared by every component: one strict decoder (the rules of Python's
// bytes.decode("utf-8"): no overlong forms, no surrogates U+D800..U+DFFF, nothing above
// U+10FFFF, no truncated sequences), validation, and the replacement of invalid bytes by
// U+FFFD for text that must be written somewhere (audit log, logs) whatever a client sent.
// Thread-safety: pure functions.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vv::text {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Decodes the UTF-8 sequence starting at s[i] (REQUIRES: i < s.size()). On success stores
// the code point in *cp and returns the sequence length (1..4). On an invalid or truncated
// sequence returns 0 (the caller decides: refuse, or replace the one byte s[i]).
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* cp);

// The index of the first byte >= 0x80 in s at or after `from` (s.size() when none): ASCII is
// skipped eight bytes at a time. The fast path of every scan below.
size_t SkipAscii(std::string_view s, size_t from = 0);

// True when `s` is entirely valid UTF-8.
bool IsValidUtf8(std::string_view s);

// `s` with every byte that does not start a valid sequence replaced by U+FFFD (EF BF BD);
// valid input is returned unchanged. Deterministic: the same input always gives the same
// output, so a record that carries it re-verifies.
std::string ReplaceInvalidUtf8(std::string_view s);

// Walks `s` code point by code point over at most `max_bytes` of input: `emit(cp, bytes,
// valid)` gets each code point with its bytes; an invalid byte comes alone with valid=false.
// Returns true when `s` was cut at `max_bytes` (never inside a sequence). For escapers that
// must bound and sanitise untrusted text (logs, HTML reports).
template <typename Emit>
bool ForEachCodePoint(std::string_view s, size_t max_bytes, Emit emit) {
  size_t i = 0;
  while (i < s.size()) {
    uint32_t cp = 0;
    const size_t n = DecodeUtf8(s, i, &cp);
    const size_t len = n == 0 ? 1 : n;
    if (i + len > max_bytes) return true;
    emit(cp, s.substr(i, len), n != 0);
    i += len;
  }
  return false;
}

// Untrusted bytes for a log line, a metric-free audit field or an error message: printable
// ASCII kept, anything else (and '\\') as \xNN, at most `max_chars` characters of output
// (then "..."). The result is plain ASCII, so it is valid UTF-8 and JSON-safe once quoted.
std::string PrintableAscii(std::string_view s, size_t max_chars = 200);

// Number of code points in valid UTF-8 (invalid bytes count one each).
size_t CodePointCount(std::string_view s);

}  // namespace vv::text
