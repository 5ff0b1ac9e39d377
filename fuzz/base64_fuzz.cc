// libFuzzer target: the byte encodings of src/common/encoding.h.
// Invariants: never crashes; Base64DecodeStrict(Base64Encode(x)) == x; whatever strict
// decoding accepts, lenient decoding accepts with the same result, and strict-accepted text is
// canonical (re-encoding gives the input back); HexDecode(HexEncode(x)) == x and HexDecode
// accepts exactly what it can round-trip (case-insensitive); Base64UrlEncodeNoPad uses only the
// URL-safe alphabet.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/encoding.h"

namespace {
[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "base64_fuzz invariant violated: %s\n", what);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  // Encode -> strict decode round trip on the raw bytes.
  std::string b64 = vv::Base64Encode(in);
  if (b64.size() != (size + 2) / 3 * 4) Fail("Base64Encode length");
  auto rt = vv::Base64DecodeStrict(b64);
  if (!rt || *rt != in) Fail("strict(encode(x)) != x");
  auto rt_len = vv::Base64DecodeLenient(b64);
  if (!rt_len || *rt_len != in) Fail("lenient(encode(x)) != x");

  // The input as base64 text: strict acceptance implies lenient acceptance, same bytes.
  auto strict = vv::Base64DecodeStrict(in);
  auto lenient = vv::Base64DecodeLenient(in);
  if (strict) {
    if (!lenient) Fail("strict accepted, lenient rejected");
    if (*lenient != *strict) Fail("strict and lenient decode differ");
    if (vv::Base64Encode(*strict) != in) Fail("strict accepted non-canonical base64");
  }

  // URL-safe alphabet.
  for (char c : vv::Base64UrlEncodeNoPad(in)) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) Fail("Base64UrlEncodeNoPad produced a character outside the URL-safe alphabet");
  }

  // Hex.
  std::string hex = vv::HexEncode(in);
  if (hex.size() != 2 * size) Fail("HexEncode length");
  auto hrt = vv::HexDecode(hex);
  if (!hrt || *hrt != in) Fail("HexDecode(HexEncode(x)) != x");
  if (!vv::IsHex(hex, hex.size())) Fail("IsHex rejects HexEncode output");
  auto hd = vv::HexDecode(in);
  if (hd) {
    if (vv::HexEncode(*hd) != vv::ToLowerAscii(in)) Fail("HexDecode accepted non-hex text");
    if (!vv::IsHex(in, size)) Fail("HexDecode and IsHex disagree");
  } else if (size % 2 == 0 && vv::IsHex(in, size)) {
    Fail("HexDecode rejected text IsHex accepts");
  }

  // Constant-time comparison agrees with ==.
  std::string_view half = in.substr(0, size / 2), rest = in.substr(size / 2);
  if (vv::ConstantTimeEquals(half, rest) != (half == rest)) Fail("ConstantTimeEquals");
  return 0;
}
