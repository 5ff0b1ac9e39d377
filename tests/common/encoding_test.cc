#include "common/encoding.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <vector>

#include <string>

#include "common/clock.h"

namespace vv {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s += static_cast<char>(c);
  return s;
}

// ---- Hex ----------------------------------------------------------------------------------------

TEST(HexTest, EncodeIsLowercase) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(Bytes({0x00, 0x01, 0xab, 0xff, 0x7f})), "0001abff7f");
}

TEST(HexTest, DecodeAcceptsBothCasesAndRoundTrips) {
  EXPECT_EQ(HexDecode("0001abFF7f"), Bytes({0x00, 0x01, 0xab, 0xff, 0x7f}));
  EXPECT_EQ(HexDecode(""), std::string());
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(HexDecode(HexEncode(all)), all);
}

TEST(HexTest, DecodeRejectsOddLengthAndNonHex) {
  EXPECT_FALSE(HexDecode("abc").has_value());
  EXPECT_FALSE(HexDecode("zz").has_value());
  EXPECT_FALSE(HexDecode("0g").has_value());
  EXPECT_FALSE(HexDecode("a ").has_value());
  EXPECT_FALSE(HexDecode("0x00").has_value());
}

TEST(HexTest, IsHexRequiresExactLength) {
  std::string h64(64, 'a');
  EXPECT_TRUE(IsHex(h64, 64));
  EXPECT_TRUE(IsHex("ABCDEF0123", 10));
  EXPECT_FALSE(IsHex(h64, 63));
  EXPECT_FALSE(IsHex(h64 + "a", 64));
  EXPECT_FALSE(IsHex(std::string(63, 'a') + "g", 64));
  EXPECT_TRUE(IsHex("", 0));
}

// ---- Base64 encode --------------------------------------------------------------------------

TEST(Base64Test, EncodeRfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode(Bytes({0xfb, 0xff})), "+/8=");
}

TEST(Base64Test, UrlSafeNoPad) {
  EXPECT_EQ(Base64UrlEncodeNoPad(Bytes({0xfb, 0xff})), "-_8");
  EXPECT_EQ(Base64UrlEncodeNoPad("f"), "Zg");
  EXPECT_EQ(Base64UrlEncodeNoPad(std::string(18, '\xff')), std::string(24, '_'));
}

// Every length 0..200 (each remainder of 3, 201 different bytes): the standard encoding decodes
// back strictly, and the URL-safe one is the same text with -_ for +/ and no padding.
TEST(Base64Test, EveryLengthRoundTripsAndBothAlphabetsAgree) {
  std::string in;
  for (size_t n = 0; n <= 200; ++n) {
    const std::string std64 = Base64Encode(in);
    ASSERT_EQ(std64.size(), (n + 2) / 3 * 4) << n;
    EXPECT_EQ(Base64DecodeStrict(std64), in) << n;
    std::string url = std64;
    while (!url.empty() && url.back() == '=') url.pop_back();
    for (char& c : url) c = c == '+' ? '-' : c == '/' ? '_' : c;
    EXPECT_EQ(Base64UrlEncodeNoPad(in), url) << n;
    in.push_back(static_cast<char>((n * 97 + 31) & 0xff));
  }
}

// ---- Strict base64 ----------------------------------------------------------------------------

TEST(Base64StrictTest, DecodesCanonicalInput) {
  EXPECT_EQ(Base64DecodeStrict(""), std::string());
  EXPECT_EQ(Base64DecodeStrict("Zg=="), "f");
  EXPECT_EQ(Base64DecodeStrict("Zm8="), "fo");
  EXPECT_EQ(Base64DecodeStrict("Zm9vYmFy"), "foobar");
  EXPECT_EQ(Base64DecodeStrict("+/8="), Bytes({0xfb, 0xff}));
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n <= all.size(); n += 7)
    EXPECT_EQ(Base64DecodeStrict(Base64Encode(all.substr(0, n))), all.substr(0, n));
}

TEST(Base64StrictTest, RejectsNonCanonicalTrailingBits) {
  EXPECT_FALSE(Base64DecodeStrict("Zh==").has_value());  // 'f' with a stray low bit
  EXPECT_FALSE(Base64DecodeStrict("QR==").has_value());
  EXPECT_FALSE(Base64DecodeStrict("Zm9=").has_value());  // 'fo' with stray bits
  // An Ed25519 signature (64 bytes -> "==" padding) with a flipped unused bit.
  std::string sig = Base64Encode(std::string(64, '\x01'));
  ASSERT_EQ(sig.substr(84), "AQ==");
  EXPECT_TRUE(Base64DecodeStrict(sig).has_value());
  EXPECT_FALSE(Base64DecodeStrict(sig.substr(0, 84) + "AR==").has_value());
}

TEST(Base64StrictTest, RejectsBadPadding) {
  EXPECT_FALSE(Base64DecodeStrict("Zg").has_value());
  EXPECT_FALSE(Base64DecodeStrict("Zg=").has_value());
  EXPECT_FALSE(Base64DecodeStrict("Zg===").has_value());
  EXPECT_FALSE(Base64DecodeStrict("Z===").has_value());
  EXPECT_FALSE(Base64DecodeStrict("====").has_value());
  EXPECT_FALSE(Base64DecodeStrict("Zg==Zg==").has_value());  // padding in the middle
  EXPECT_FALSE(Base64DecodeStrict("Z=g=").has_value());
  EXPECT_FALSE(Base64DecodeStrict("Zm9vY").has_value());
}

TEST(Base64StrictTest, RejectsUrlSafeWhitespaceAndJunk) {
  EXPECT_FALSE(Base64DecodeStrict("-_8=").has_value());
  EXPECT_FALSE(Base64DecodeStrict("+/8").has_value());
  EXPECT_FALSE(Base64DecodeStrict("Zm9v\n").has_value());
  EXPECT_FALSE(Base64DecodeStrict(" Zm9v").has_value());
  EXPECT_FALSE(Base64DecodeStrict("Zm9v YmFy").has_value());
  EXPECT_FALSE(Base64DecodeStrict("Zm9!").has_value());
  EXPECT_FALSE(Base64DecodeStrict(std::string("Zm9v\0", 5)).has_value());
}

// ---- Lenient base64 (Python base64.b64decode(s), validate=False) -----------------------------
// Expected values produced with CPython 3.11 base64.b64decode.

TEST(Base64LenientTest, MatchesPythonOnWellFormedInput) {
  EXPECT_EQ(Base64DecodeLenient("QUJD"), "ABC");
  EXPECT_EQ(Base64DecodeLenient("QQ=="), "A");
  EXPECT_EQ(Base64DecodeLenient("QUI="), "AB");
  EXPECT_EQ(Base64DecodeLenient(""), std::string());
}

TEST(Base64LenientTest, DropsJunkCharacters) {
  EXPECT_EQ(Base64DecodeLenient("QU JD\n"), "ABC");
  EXPECT_EQ(Base64DecodeLenient("Q!U@J#D"), "ABC");
  EXPECT_EQ(Base64DecodeLenient("QUJD-_"), "ABC");  // URL-safe chars are junk here
  EXPECT_EQ(Base64DecodeLenient("\tQ\rU\nJ D"), "ABC");
}

TEST(Base64LenientTest, AcceptsNonCanonicalTrailingBits) {
  EXPECT_EQ(Base64DecodeLenient("QR=="), "A");
  EXPECT_EQ(Base64DecodeLenient("QUJ="), "AB");
}

TEST(Base64LenientTest, PaddingEndsDecoding) {
  EXPECT_EQ(Base64DecodeLenient("QQ==garbage"), "A");
  EXPECT_EQ(Base64DecodeLenient("QUJDQQ==QUJD"), "ABCA");
  EXPECT_EQ(Base64DecodeLenient("QUJD="), "ABC");  // stray '=' at a quantum boundary
  EXPECT_EQ(Base64DecodeLenient("=QUJD"), "ABC");
  EXPECT_EQ(Base64DecodeLenient("===="), std::string());
  EXPECT_EQ(Base64DecodeLenient("ab=c="), Bytes({0x69, 0xb7}));
  EXPECT_EQ(Base64DecodeLenient("Q=QQ="), Bytes({0x41, 0x04}));
}

TEST(Base64LenientTest, RejectsPaddingErrors) {
  EXPECT_FALSE(Base64DecodeLenient("QQ=").has_value());
  EXPECT_FALSE(Base64DecodeLenient("QQ").has_value());
  EXPECT_FALSE(Base64DecodeLenient("QUJ").has_value());
  EXPECT_FALSE(Base64DecodeLenient("Q").has_value());
  EXPECT_FALSE(Base64DecodeLenient("Q===").has_value());
  EXPECT_FALSE(Base64DecodeLenient("QUJDQ").has_value());
}

TEST(Base64LenientTest, RejectsNonAscii) {
  // b64decode(str) raises ValueError for non-ASCII text.
  EXPECT_FALSE(Base64DecodeLenient("QUJD\xC3\xA9").has_value());
}

TEST(Base64LenientTest, AcceptsEverythingStrictAccepts) {
  std::string data;
  for (int i = 0; i < 100; ++i) {
    data += static_cast<char>(i * 37);
    std::string enc = Base64Encode(data);
    EXPECT_EQ(Base64DecodeLenient(enc), data);
    EXPECT_EQ(Base64DecodeStrict(enc), data);
  }
}

// ---- Comparison and text helpers ---------------------------------------------------------

TEST(ConstantTimeEqualsTest, Compares) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
  std::string a(64, 'x'), b(64, 'x');
  b[63] = 'y';
  EXPECT_FALSE(ConstantTimeEquals(a, b));
  b[63] = 'x';
  EXPECT_TRUE(ConstantTimeEquals(a, b));
}

TEST(TextTest, ToLowerAndStrip) {
  EXPECT_EQ(ToLowerAscii("AbC-Z\xC3\x89"), "abc-z\xC3\x89");  // non-ASCII untouched
  EXPECT_EQ(StripAsciiWhitespace(" \t\r\n\f\vx y\n "), "x y");
  EXPECT_EQ(StripAsciiWhitespace("   "), "");
  EXPECT_EQ(StripAsciiWhitespace(""), "");
}

TEST(TextTest, EqualsIgnoreAsciiCase) {
  EXPECT_TRUE(EqualsIgnoreAsciiCase("ABCDEF00-0000-0000-0000-00000000000A",
                                    "abcdef00-0000-0000-0000-00000000000a"));
  EXPECT_TRUE(EqualsIgnoreAsciiCase("", ""));
  EXPECT_FALSE(EqualsIgnoreAsciiCase("abc", "abcd"));
  EXPECT_FALSE(EqualsIgnoreAsciiCase("abc", "abd"));
  // Only A-Z fold: '@' (0x40) and '`' (0x60) differ by 0x20 but are not letters; bytes >= 0x80
  // compare exactly.
  EXPECT_FALSE(EqualsIgnoreAsciiCase("@", "`"));
  EXPECT_FALSE(EqualsIgnoreAsciiCase("[", "{"));
  EXPECT_FALSE(EqualsIgnoreAsciiCase("\xC3\x89", "\xC3\xA9"));
}

// ---- Time formatting ---------------------------------------------------------------------

// The formatter writes the digits itself (no snprintf): it agrees with gmtime_r + snprintf
// over the years 0001-9999, around every day and second boundary, before 1970 too.
TEST(IsoFormatUtcTest, AgreesWithGmtimeEverywhere) {
  auto reference = [](int64_t us, bool always_micros) {
    int64_t secs = us / 1000000, micros = us % 1000000;
    if (micros < 0) {
      micros += 1000000;
      secs -= 1;
    }
    time_t t = static_cast<time_t>(secs);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[64];
    if (micros != 0 || always_micros)
      std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld+00:00",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                    tm.tm_sec, static_cast<long long>(micros));
    else
      std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d+00:00", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return std::string(buf);
  };
  const int64_t first = -62135596800LL;  // 0001-01-01T00:00:00
  const int64_t last = 253402300799LL;   // 9999-12-31T23:59:59
  std::vector<int64_t> secs = {first, first + 1, -1, 0, 1, 951782400, 1772323199, last - 1, last};
  uint64_t x = 88172645463325252ULL;  // xorshift: a fixed sweep of the whole range
  for (int i = 0; i < 20000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    secs.push_back(first + static_cast<int64_t>(x % static_cast<uint64_t>(last - first)));
  }
  for (int64_t s : secs) {
    for (int64_t us : {int64_t{0}, int64_t{1}, int64_t{999999}, int64_t{500000}}) {
      const int64_t t = s * 1000000 + us;
      ASSERT_EQ(IsoFormatUtc(t), reference(t, false)) << t;
      ASSERT_EQ(IsoFormatUtcMicros(t), reference(t, true)) << t;
    }
  }
  // Outside 0001-9999: the reference form.
  EXPECT_EQ(IsoFormatUtc((last + 1) * 1000000), reference((last + 1) * 1000000, false));
  EXPECT_EQ(IsoFormatUtc((first - 1) * 1000000), reference((first - 1) * 1000000, false));
}

TEST(IsoFormatUtcTest, MicrosOmittedWhenZero) {
  EXPECT_EQ(IsoFormatUtc(1772323200LL * 1000000), "2026-03-01T00:00:00+00:00");
  EXPECT_EQ(IsoFormatUtc(1772323201LL * 1000000), "2026-03-01T00:00:01+00:00");
  EXPECT_EQ(IsoFormatUtc(0), "1970-01-01T00:00:00+00:00");
}

TEST(IsoFormatUtcTest, MicrosPrintedWhenNonZero) {
  EXPECT_EQ(IsoFormatUtc(1772323200LL * 1000000 + 123456), "2026-03-01T00:00:00.123456+00:00");
  EXPECT_EQ(IsoFormatUtc(1772323200LL * 1000000 + 1), "2026-03-01T00:00:00.000001+00:00");
  EXPECT_EQ(IsoFormatUtc(1772323200LL * 1000000 + 100000), "2026-03-01T00:00:00.100000+00:00");
  // Before the epoch: floor semantics, as Python datetime.
  EXPECT_EQ(IsoFormatUtc(-1), "1969-12-31T23:59:59.999999+00:00");
}

TEST(IsoFormatUtcTest, MicrosVariantAlwaysHasMicros) {
  EXPECT_EQ(IsoFormatUtcMicros(1772323200LL * 1000000), "2026-03-01T00:00:00.000000+00:00");
  EXPECT_EQ(IsoFormatUtcMicros(1772107200LL * 1000000 + 5), "2026-02-26T12:00:00.000005+00:00");
}

}  // namespace
}  // namespace vv
