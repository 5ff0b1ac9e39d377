#pragma once
// Byte encodings: hex, base64 (strict, URL-safe, and the reference's lenient form), and
// constant-time comparison. Pure functions, thread-safe.

#include <optional>
#include <string>
#include <string_view>

namespace vv {

std::string HexEncode(std::string_view bytes);  // lowercase
// Accepts upper or lower case; nullopt on odd length or a non-hex character.
std::optional<std::string> HexDecode(std::string_view hex);
bool IsHex(std::string_view s, size_t required_len);  // exactly required_len hex chars

std::string Base64Encode(std::string_view bytes);  // standard alphabet, padded
std::string Base64UrlEncodeNoPad(std::string_view bytes);
// Strict standard base64: alphabet A-Za-z0-9+/, length a multiple of 4, correct padding,
// and canonical (unused trailing bits must be zero). nullopt otherwise.
std::optional<std::string> Base64DecodeStrict(std::string_view b64);
// Python base64.b64decode(validate=False): characters outside the alphabet are dropped,
// then the remainder must be correctly padded. nullopt when padding is wrong.
std::optional<std::string> Base64DecodeLenient(std::string_view b64);

// Constant-time equality of two byte strings (length is not secret).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

std::string ToLowerAscii(std::string_view s);
// a == b with ASCII letters compared case-insensitively (no allocation; bytes >= 0x80 exact).
bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b);
std::string_view StripAsciiWhitespace(std::string_view s);

}  // namespace vv
