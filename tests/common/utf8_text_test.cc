#include "common/text.h"

#include <gtest/gtest.h>

#include <string>

namespace vv::text {
namespace {

TEST(TextTest, StrictDecoderAcceptsExactlyPythonsUtf8) {
  // Valid: ASCII, 2/3/4-byte forms at their boundaries.
  for (std::string s : {std::string("abc"), std::string("\xC2\x80"), std::string("\xDF\xBF"),
                        std::string("\xE0\xA0\x80"), std::string("\xED\x9F\xBF"),
                        std::string("\xEE\x80\x80"), std::string("\xEF\xBF\xBF"),
                        std::string("\xF0\x90\x80\x80"), std::string("\xF4\x8F\xBF\xBF")}) {
    EXPECT_TRUE(IsValidUtf8(s)) << s.size();
  }
  // Invalid: overlongs, surrogates, > U+10FFFF, stray continuation, truncated, F5..FF.
  for (std::string s : {std::string("\xC0\x8A"), std::string("\xC1\xBF"),
                        std::string("\xE0\x9F\xBF"), std::string("\xED\xA0\x80"),
                        std::string("\xED\xBF\xBF"), std::string("\xF0\x8F\xBF\xBF"),
                        std::string("\xF4\x90\x80\x80"), std::string("\x80"),
                        std::string("\xE2\x82"), std::string("\xF5\x80\x80\x80"),
                        std::string("\xFF")}) {
    EXPECT_FALSE(IsValidUtf8(s)) << s.size();
  }
}

TEST(TextTest, DecodeGivesCodePointAndLength) {
  uint32_t cp = 0;
  EXPECT_EQ(DecodeUtf8("\xE2\x82\xAC", 0, &cp), 3u);
  EXPECT_EQ(cp, 0x20ACu);
  EXPECT_EQ(DecodeUtf8("\xF0\x9F\x98\x80", 0, &cp), 4u);
  EXPECT_EQ(cp, 0x1F600u);
  EXPECT_EQ(DecodeUtf8("\xC0\x8A", 0, &cp), 0u);
}

TEST(TextTest, ReplaceInvalidUtf8ReplacesEachBadByteOnce) {
  EXPECT_EQ(ReplaceInvalidUtf8("ok"), "ok");
  EXPECT_EQ(ReplaceInvalidUtf8("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(ReplaceInvalidUtf8("x\xC0\x8Ay"), "x\xEF\xBF\xBD\xEF\xBF\xBDy");
  EXPECT_EQ(ReplaceInvalidUtf8("ab\xE2\x82"), "ab\xEF\xBF\xBD\xEF\xBF\xBD");
  // The result is always valid, and replacing again changes nothing.
  std::string once = ReplaceInvalidUtf8("\xFF\xED\xA0\x80z");
  EXPECT_TRUE(IsValidUtf8(once));
  EXPECT_EQ(ReplaceInvalidUtf8(once), once);
}

// The ASCII fast path reads eight bytes at a time: a non-ASCII byte at any position of a word
// stops it there, and the scans built on it agree with a byte-by-byte decode.
TEST(TextTest, SkipAsciiAndTheScansBuiltOnItAtEveryPosition) {
  EXPECT_EQ(SkipAscii(""), 0u);
  EXPECT_EQ(SkipAscii("abc"), 3u);
  const std::string plain(21, 'a');
  for (const std::string& ins : {std::string("\xC3\xA9"), std::string("\xFF"),
                                std::string("\xF0\x9F\x98\x80"), std::string("\xED\xA0\x80")}) {
    const bool valid = ins.size() == 2 || (ins.size() == 4 && ins[1] != '\xA0');
    for (size_t at = 0; at <= plain.size(); ++at) {
      std::string s = plain;
      s.insert(at, ins);
      EXPECT_EQ(SkipAscii(s), at);
      EXPECT_EQ(SkipAscii(s, at + ins.size()), s.size());
      EXPECT_EQ(IsValidUtf8(s), valid) << at;
      size_t expected = plain.size() + (valid ? 1 : ins.size());  // invalid bytes count one each
      EXPECT_EQ(CodePointCount(s), expected) << at;
    }
  }
}

TEST(TextTest, CodePointCount) {
  EXPECT_EQ(CodePointCount(""), 0u);
  EXPECT_EQ(CodePointCount("a\xC3\xA9\xF0\x9F\x98\x80"), 3u);
  EXPECT_EQ(CodePointCount("\xFF\xFE"), 2u);
}

}  // namespace
}  // namespace vv::text
