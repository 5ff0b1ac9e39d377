#include "common/encoding.h"

#include <sodium.h>

#include <array>
#include <cstdint>

namespace vv {

namespace {
constexpr char kHex[] = "0123456789abcdef";
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Standard alphabet value of each byte, -1 outside it.
constexpr std::array<int8_t, 256> kB64Values = [] {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kB64[i])] = static_cast<int8_t>(i);
  return t;
}();

int B64Val(char c) { return kB64Values[static_cast<unsigned char>(c)]; }

std::string Encode64(std::string_view in, const char* alpha, bool pad) {
  // Written through a pointer into a string sized once (was one push_back per character: the
  // engine base64-encodes every evidence ciphertext, 2.7 % of its CPU).
  const size_t full = in.size() / 3;
  const size_t rem = in.size() - full * 3;
  const size_t out_len = full * 4 + (rem == 0 ? 0 : (pad ? 4 : rem + 1));
  std::string out(out_len, '\0');
  char* o = out.data();
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  for (size_t k = 0; k < full; ++k, p += 3, o += 4) {
    const uint32_t v = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
    o[0] = alpha[(v >> 18) & 63];
    o[1] = alpha[(v >> 12) & 63];
    o[2] = alpha[(v >> 6) & 63];
    o[3] = alpha[v & 63];
  }
  if (rem == 1) {
    const uint32_t v = uint32_t{p[0]} << 16;
    o[0] = alpha[(v >> 18) & 63];
    o[1] = alpha[(v >> 12) & 63];
    if (pad) o[2] = o[3] = '=';
  } else if (rem == 2) {
    const uint32_t v = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8);
    o[0] = alpha[(v >> 18) & 63];
    o[1] = alpha[(v >> 12) & 63];
    o[2] = alpha[(v >> 6) & 63];
    if (pad) o[3] = '=';
  }
  return out;
}

// Decodes a padded standard base64 string whose characters are all in the alphabet or '='.
// `canonical` also requires the unused bits of the last quantum to be zero.
std::optional<std::string> DecodePadded(std::string_view s, bool canonical) {
  if (s.size() % 4 != 0) return std::nullopt;
  if (s.empty()) return std::string();
  size_t pad = 0;
  if (s.back() == '=') pad = (s.size() >= 2 && s[s.size() - 2] == '=') ? 2 : 1;
  // Sized once and written through a pointer (was one push_back per byte: the engine decodes a
  // Merkle path of ~9 hashes per envelope).
  std::string out(s.size() / 4 * 3 - pad, '\0');
  char* o = out.data();
  const size_t body = s.size() - 4;  // every quantum but the last has no '='
  for (size_t i = 0; i < body; i += 4, o += 3) {
    const int a = B64Val(s[i]), b = B64Val(s[i + 1]), c = B64Val(s[i + 2]), d = B64Val(s[i + 3]);
    if ((a | b | c | d) < 0) return std::nullopt;
    const uint32_t q = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c) << 6) | uint32_t(d);
    o[0] = static_cast<char>((q >> 16) & 0xff);
    o[1] = static_cast<char>((q >> 8) & 0xff);
    o[2] = static_cast<char>(q & 0xff);
  }
  // The last quantum: '=' only in its last `pad` places.
  int v[4];
  for (int j = 0; j < 4; ++j) {
    const char c = s[body + j];
    if (c == '=') {
      if (j < 4 - static_cast<int>(pad)) return std::nullopt;
      v[j] = 0;
    } else {
      v[j] = B64Val(c);
      if (v[j] < 0) return std::nullopt;
    }
  }
  const uint32_t q = (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) |
                     uint32_t(v[3]);
  o[0] = static_cast<char>((q >> 16) & 0xff);
  if (pad < 2) o[1] = static_cast<char>((q >> 8) & 0xff);
  if (pad < 1) o[2] = static_cast<char>(q & 0xff);
  if (canonical) {
    if (pad == 2 && (v[1] & 0x0f) != 0) return std::nullopt;
    if (pad == 1 && (v[2] & 0x03) != 0) return std::nullopt;
  }
  return out;
}
}  // namespace

std::string HexEncode(std::string_view bytes) {
  std::string out(bytes.size() * 2, '\0');  // sized once, written through a pointer
  char* o = out.data();
  for (unsigned char c : bytes) {
    *o++ = kHex[c >> 4];
    *o++ = kHex[c & 15];
  }
  return out;
}

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexVal(hex[2 * i]), lo = HexVal(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

bool IsHex(std::string_view s, size_t required_len) {
  if (s.size() != required_len) return false;
  for (char c : s)
    if (HexVal(c) < 0) return false;
  return true;
}

std::string Base64Encode(std::string_view bytes) { return Encode64(bytes, kB64, true); }
std::string Base64UrlEncodeNoPad(std::string_view bytes) { return Encode64(bytes, kB64Url, false); }

std::optional<std::string> Base64DecodeStrict(std::string_view b64) {
  return DecodePadded(b64, /*canonical=*/true);
}

std::optional<std::string> Base64DecodeLenient(std::string_view b64) {
  // CPython binascii.a2b_base64(strict_mode=False), as reached by base64.b64decode(str):
  // - the str argument must be ASCII (b64decode raises ValueError otherwise);
  // - characters outside the alphabet are skipped, as is '=' before the 3rd char of a quantum;
  // - '=' completing a quantum ("xx==" / "xxx=") ends decoding; anything after is ignored;
  // - input ending inside a quantum is an error ("Incorrect padding");
  // - the unused low bits of the last quantum are ignored (non-canonical input is accepted).
  std::string out;
  out.reserve(b64.size() / 4 * 3 + 3);
  int quad_pos = 0;
  int pads = 0;
  uint32_t left = 0;
  for (char ch : b64) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) return std::nullopt;
    if (c == '=') {
      if (quad_pos >= 2 && quad_pos + ++pads >= 4) return out;
      continue;
    }
    int v = B64Val(ch);
    if (v < 0) continue;
    pads = 0;
    switch (quad_pos) {
      case 0:
        quad_pos = 1;
        left = static_cast<uint32_t>(v);
        break;
      case 1:
        quad_pos = 2;
        out += static_cast<char>(((left << 2) | (static_cast<uint32_t>(v) >> 4)) & 0xff);
        left = static_cast<uint32_t>(v) & 0x0f;
        break;
      case 2:
        quad_pos = 3;
        out += static_cast<char>(((left << 4) | (static_cast<uint32_t>(v) >> 2)) & 0xff);
        left = static_cast<uint32_t>(v) & 0x03;
        break;
      default:
        quad_pos = 0;
        out += static_cast<char>(((left << 6) | static_cast<uint32_t>(v)) & 0xff);
        left = 0;
        break;
    }
  }
  if (quad_pos != 0) return std::nullopt;
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string ToLowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view StripAsciiWhitespace(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace vv
