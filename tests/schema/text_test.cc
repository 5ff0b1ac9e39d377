#include "schema/text.h"

#include <gtest/gtest.h>

namespace vv::schema {
namespace {

TEST(InjectionDenyListTest, CatchesEachReferencePattern) {
  EXPECT_TRUE(ContainsInjectionPattern("1 UNION SELECT password FROM users"));
  EXPECT_TRUE(ContainsInjectionPattern("x; drop\ttable users"));
  EXPECT_TRUE(ContainsInjectionPattern("DELETE FROM t"));
  EXPECT_TRUE(ContainsInjectionPattern("insert   into t values (1)"));
  EXPECT_TRUE(ContainsInjectionPattern("update users set admin=1"));
  EXPECT_TRUE(ContainsInjectionPattern("' or 1=1 --"));
  EXPECT_TRUE(ContainsInjectionPattern("' OR 1 = 1"));
  EXPECT_TRUE(ContainsInjectionPattern("a OR\n1\n=\n1"));
}

TEST(InjectionDenyListTest, RespectsWordBoundaries) {
  EXPECT_FALSE(ContainsInjectionPattern("reunion selection"));
  EXPECT_FALSE(ContainsInjectionPattern("unionselect"));
  EXPECT_FALSE(ContainsInjectionPattern("for 1=1"));
  EXPECT_FALSE(ContainsInjectionPattern("or 1=12"));
  EXPECT_FALSE(ContainsInjectionPattern("backdrop table"));
  EXPECT_FALSE(ContainsInjectionPattern("update set"));  // \w+ between is required
  EXPECT_TRUE(ContainsInjectionPattern("(union select)"));
  EXPECT_TRUE(ContainsInjectionPattern("x.or 1=1."));
  // Python \w is Unicode: an accented letter glued to the keyword is no boundary.
  EXPECT_FALSE(ContainsInjectionPattern("\xc3\xa9union select"));
  // A curly quote is not a word character: boundary, caught.
  EXPECT_TRUE(ContainsInjectionPattern("\xe2\x80\x9cunion select\xe2\x80\x9d"));
}

// ASCII text is matched in place, other text decoded first: both give the same answers, at
// the start, the middle and the end of the text.
TEST(InjectionDenyListTest, AsciiAndDecodedTextAgree) {
  for (const char* pattern : {"union select", "DROP TABLE", "or 1=1", "insert into",
                              "update t set", "delete  from"}) {
    const std::string p = pattern;
    for (const std::string& text : {p, "x " + p, p + " x", "(" + p + ")"}) {
      EXPECT_TRUE(ContainsInjectionPattern(text)) << text;
      EXPECT_TRUE(ContainsInjectionPattern(text + " \xc3\xa9")) << text;  // not ASCII
      EXPECT_TRUE(ContainsInjectionPattern("\xe2\x80\x9c" + text)) << text;
    }
    EXPECT_FALSE(ContainsInjectionPattern("x" + p)) << p;
    EXPECT_FALSE(ContainsInjectionPattern("x" + p + " \xc3\xa9")) << p;
  }
}

TEST(InjectionDenyListTest, UnicodeWhitespaceAndCaseFoldingLikePython) {
  EXPECT_TRUE(ContainsInjectionPattern("union\xc2\xa0select"));   // NBSP is \s in Python
  EXPECT_TRUE(ContainsInjectionPattern("un\xc4\xb1on select"));   // dotless i folds to i
  EXPECT_TRUE(ContainsInjectionPattern("union \xc5\xbf" "elect"));  // long s folds to s
}

// Documented bypass (wire-contract 13 item 11): the deny-list is a tripwire, not a parser.
TEST(InjectionDenyListTest, CommentBypassIsNotCaughtDocumented) {
  EXPECT_FALSE(ContainsInjectionPattern("1 union/**/select password"));
  EXPECT_FALSE(ContainsInjectionPattern("1 union all select password"));
}

// Documented false positive: prose matching a pattern is rejected.
TEST(InjectionDenyListTest, ProseFalsePositiveDocumented) {
  EXPECT_TRUE(ContainsInjectionPattern("please update firewall set to block"));
}

TEST(SanitizeTextTest, EscapesLikePythonHtmlEscape) {
  EXPECT_EQ(SanitizeText("<script>alert('x')</script>"),
            "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;");
  EXPECT_EQ(SanitizeText("<img src=x onerror=alert(1)>"), "&lt;img src=x onerror=alert(1)&gt;");
  EXPECT_EQ(SanitizeText("  a & \"b\"  "), "a &amp; &quot;b&quot;");
  EXPECT_EQ(SanitizeText("\xe3\x80\x80x\xc2\xa0"), "x");  // Unicode whitespace stripped
  EXPECT_EQ(SanitizeText("   "), "");
}

TEST(TextTest, CodePointCountAndStripAreUtf8Aware) {
  EXPECT_EQ(CodePointCount("h\xc3\xa9llo\xf0\x9f\x98\x80"), 6u);
  EXPECT_EQ(PyStrip("\t x y \n"), "x y");
  EXPECT_EQ(PyStrip(""), "");
  // Invalid UTF-8 does not crash.
  EXPECT_EQ(CodePointCount("\xff\xfe"), 2u);
  EXPECT_FALSE(ContainsInjectionPattern("\xff union\xff select"));
}

}  // namespace
}  // namespace vv::schema
