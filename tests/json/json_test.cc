#include "json/json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace vv::json {
namespace {

using ::testing::HasSubstr;

// é, U+2028, U+1F600, DEL as UTF-8.
const std::string kEdgeString = "\xC3\xA9\xE2\x80\xA8\xF0\x9F\x98\x80\x7F";
constexpr char kA7Canonical[] =
    R"({"a":1.0,"b":1e+20,"c":0.30000000000000004,"k":"\u00e9\u2028\ud83d\ude00\u007f"})";

std::string CanonicalOf(std::string_view text) {
  auto v = Parse(text);
  EXPECT_TRUE(v.ok()) << text << ": " << v.status().message();
  return v.ok() ? Canonical(*v) : "<error>";
}

void ExpectRejected(std::string_view text, const std::string& why_substr = "") {
  auto v = Parse(text);
  EXPECT_FALSE(v.ok()) << "accepted: " << text;
  if (!v.ok()) {
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
    if (!why_substr.empty()) {
      EXPECT_THAT(v.status().message(), HasSubstr(why_substr));
    }
  }
}

// ---- Vector A.7 -----------------------------------------------------------------------------

TEST(JsonCanonicalTest, VectorA7ViaParse) {
  // Non-ASCII given raw, via \u escapes (surrogate pair for U+1F600) and mixed; keys unsorted.
  EXPECT_EQ(CanonicalOf("{\"k\": \"" + kEdgeString +
                        "\", \"c\": 0.30000000000000004, "
                        "\"b\": 1e20, \"a\": 1.0}"),
            kA7Canonical);
  EXPECT_EQ(CanonicalOf(R"({"c":0.30000000000000004,"k":"\u00E9\u2028\uD83D\uDE00\u007F",)"
                        R"("a":1.0,"b":100000000000000000000.0})"),
            kA7Canonical);
}

TEST(JsonCanonicalTest, VectorA7ViaValueApi) {
  Value v = Value::MakeObject();
  v.Set("k", Value(kEdgeString));
  v.Set("a", Value(1.0));
  v.Set("b", Value(1e20));
  v.Set("c", Value(0.1 + 0.2));
  EXPECT_EQ(Canonical(v), kA7Canonical);
  // Round trip: the canonical text parses back to an equal value and re-canonicalises.
  auto back = Parse(Canonical(v));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(*back == v);
  EXPECT_EQ(Canonical(*back), kA7Canonical);
}

// ---- Numbers ----------------------------------------------------------------------------------

TEST(JsonCanonicalTest, FloatReprMatchesPython) {
  struct Case {
    double d;
    const char* repr;
  } cases[] = {
      {1e16, "1e+16"},
      {1e15, "1000000000000000.0"},
      {0.0001, "0.0001"},
      {1e-05, "1e-05"},
      {-0.0, "-0.0"},
      {0.0, "0.0"},
      {123.456, "123.456"},
      {5e-324, "5e-324"},
      {1.7976931348623157e+308, "1.7976931348623157e+308"},
      {1.0, "1.0"},
      {-2.5, "-2.5"},
      {1e22, "1e+22"},
      {1.5e-7, "1.5e-07"},
      {1e100, "1e+100"},
      {9999999999999998.0, "9999999999999998.0"},
      {0.1 + 0.2, "0.30000000000000004"},
      {0.55, "0.55"},
      {0.82, "0.82"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(PythonFloatRepr(c.d), c.repr);
    EXPECT_EQ(Canonical(Value(c.d)), c.repr);
  }
}

TEST(JsonCanonicalTest, FloatTextsParseAndReprint) {
  EXPECT_EQ(CanonicalOf("1e16"), "1e+16");
  EXPECT_EQ(CanonicalOf("1E15"), "1000000000000000.0");
  EXPECT_EQ(CanonicalOf("0.00010"), "0.0001");
  EXPECT_EQ(CanonicalOf("0.00001"), "1e-05");
  EXPECT_EQ(CanonicalOf("-0.0"), "-0.0");
  EXPECT_EQ(CanonicalOf("4.9406564584124654e-324"), "5e-324");
  EXPECT_EQ(CanonicalOf("[1.0, 2.50]"), "[1.0,2.5]");
}

TEST(JsonCanonicalTest, BigIntegersKeptExactly) {
  EXPECT_EQ(CanonicalOf("12345678901234567890123"), "12345678901234567890123");
  EXPECT_EQ(CanonicalOf("-12345678901234567890123"), "-12345678901234567890123");
  EXPECT_EQ(CanonicalOf("18446744073709551616"), "18446744073709551616");
  auto v = Parse("12345678901234567890123");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->is_int());
  EXPECT_FALSE(v->as_int64().has_value());
  auto small = Parse("9223372036854775807");
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->as_int64(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Canonical(Value::IntFromDecimal("340282366920938463463374607431768211456")),
            "340282366920938463463374607431768211456");
  EXPECT_EQ(Canonical(Value(int64_t{-42})), "-42");
}

TEST(JsonCanonicalTest, NegativeZeroIntegerIsZero) {
  EXPECT_EQ(CanonicalOf("-0"), "0");
  EXPECT_EQ(CanonicalOf("[-0, 0]"), "[0,0]");
}

TEST(JsonParseTest, NumberOutOfRangeRejected) {
  ExpectRejected("1e400");
  ExpectRejected("-1e400");
  ExpectRejected("[1.8e308]");
}

TEST(JsonParseTest, NanAndInfinityRejected) {
  ExpectRejected("NaN");
  ExpectRejected("[Infinity]");
  ExpectRejected("-Infinity");
  ExpectRejected("{\"a\": nan}");
}

TEST(JsonParseTest, MalformedNumbersRejected) {
  ExpectRejected("01");
  ExpectRejected("1.");
  ExpectRejected(".5");
  ExpectRejected("+1");
  ExpectRejected("0x10");
}

// ---- Strings ----------------------------------------------------------------------------------

TEST(JsonCanonicalTest, StringEscapes) {
  EXPECT_EQ(Canonical(Value(std::string("a\nb"))), R"("a\nb")");
  EXPECT_EQ(Canonical(Value(std::string("\r\t\b\f"))), R"("\r\t\b\f")");
  EXPECT_EQ(Canonical(Value(std::string("nul\0x", 5))), R"("nul\u0000x")");
  EXPECT_EQ(Canonical(Value(std::string("\x01\x1f"))), R"("\u0001\u001f")");
  EXPECT_EQ(Canonical(Value(std::string("say \"hi\""))), R"("say \"hi\"")");
  EXPECT_EQ(Canonical(Value(std::string("back\\slash"))), R"("back\\slash")");
  EXPECT_EQ(Canonical(Value(std::string("a/b</script>"))), R"("a/b</script>")");
  EXPECT_EQ(Canonical(Value(std::string("\xEF\xBF\xBF"))), R"("\uffff")");
  EXPECT_EQ(Canonical(Value(std::string("\xF4\x8F\xBF\xBF"))), R"("\udbff\udfff")");
}

// Runs of plain ASCII are copied in bulk: the bytes around each run boundary must still be
// escaped exactly as Python does (space and '~' plain; DEL, quotes, backslashes, non-ASCII not).
TEST(JsonCanonicalTest, EscapesAtRunBoundaries) {
  EXPECT_EQ(Canonical(Value(std::string(" ~"))), R"(" ~")");
  EXPECT_EQ(Canonical(Value(std::string("ab\x7f" "cd"))), R"("ab\u007fcd")");
  EXPECT_EQ(Canonical(Value(std::string("\"x\"\\"))), R"("\"x\"\\")");
  EXPECT_EQ(Canonical(Value(std::string("caf\xC3\xA9s caf\xC3\xA9"))), R"("caf\u00e9s caf\u00e9")");
  EXPECT_EQ(Canonical(Value(std::string("x\ny\x1fz"))), R"("x\ny\u001fz")");
  EXPECT_EQ(Canonical(Value(std::string())), R"("")");
}

// Plain runs are found eight bytes at a time (SWAR): every byte value, at every position of
// a word and across word boundaries, is written as it is when written alone.
TEST(JsonCanonicalTest, EveryByteAtEveryWordPositionEscapesAsAlone) {
  const std::string plain = "abcdefghijklmnopqrstuvwx";  // three words
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    std::string alone;
    AppendQuoted(one, &alone);
    const std::string escaped = alone.substr(1, alone.size() - 2);
    for (size_t at = 0; at <= plain.size(); ++at) {
      std::string s = plain;
      s.insert(at, one);
      std::string got;
      AppendQuoted(s, &got);
      EXPECT_EQ(got, "\"" + plain.substr(0, at) + escaped + plain.substr(at) + "\"")
          << "byte " << b << " at " << at;
    }
  }
}

TEST(JsonCanonicalTest, ParsedEscapesRoundTrip) {
  EXPECT_EQ(CanonicalOf(R"("\u0000\/\"\\\n")"), R"("\u0000/\"\\\n")");
  auto v = Parse(R"("a\u0000b")");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->as_string(), std::string("a\0b", 3));
}

TEST(JsonParseTest, InvalidUtf8Rejected) {
  ExpectRejected("\"\xFF\"");
  ExpectRejected("\"\xC3\"");              // truncated sequence
  ExpectRejected("\"\xC0\xAF\"");          // overlong '/'
  ExpectRejected("\"\xED\xA0\x80\"");      // raw UTF-16 surrogate
  ExpectRejected("\"\xF4\x90\x80\x80\"");  // above U+10FFFF
  ExpectRejected("{\"\xFF\": 1}");         // in a key
}

TEST(JsonParseTest, LoneSurrogateEscapeRejected) {
  ExpectRejected(R"("\ud800")");
  ExpectRejected(R"("\ud800x")");
  ExpectRejected(R"("\udc00")");
  ExpectRejected(R"("\ude00\ud83d")");
  ExpectRejected(R"({"\udfff": 1})");
  EXPECT_EQ(CanonicalOf(R"("\ud83d\ude00")"), R"("\ud83d\ude00")");
}

TEST(JsonParseTest, ControlCharacterInStringRejected) { ExpectRejected("\"a\nb\""); }

// ---- Objects ----------------------------------------------------------------------------------

TEST(JsonCanonicalTest, KeysSortedByCodePoint) {
  // Python: sorted(["b", "a", "B", "é", "z", "😀", "\u2028", "aa", ""]).
  EXPECT_EQ(CanonicalOf("{\"b\":1,\"a\":2,\"B\":3,\"\xC3\xA9\":4,\"z\":5,\"\xF0\x9F\x98\x80\":6,"
                        "\"\xE2\x80\xA8\":7,\"aa\":8,\"\":9}"),
            R"({"":9,"B":3,"a":2,"aa":8,"b":1,"z":5,"\u00e9":4,"\u2028":7,"\ud83d\ude00":6})");
  // U+FFFF sorts before U+10000 (code point order, not UTF-16 order).
  EXPECT_EQ(CanonicalOf("{\"\xF0\x90\x80\x80\":1,\"\xEF\xBF\xBF\":2}"),
            R"({"\uffff":2,"\ud800\udc00":1})");
  // Nested objects sorted too; arrays keep order.
  EXPECT_EQ(CanonicalOf(R"({"z":{"y":1,"x":[3,1,2]},"a":null,"m":true,"n":false})"),
            R"({"a":null,"m":true,"n":false,"z":{"x":[3,1,2],"y":1}})");
}

// The writer takes an object already in key order as it is, sorts a small one on the stack
// and a large one (more than 32 members) in a heap buffer: every path gives key order.
TEST(JsonCanonicalTest, KeysSortedWhateverTheObjectsSizeAndOrder) {
  auto key_of = [](int i) {  // k000 .. k999
    const std::string digits = std::to_string(i);
    return "k" + std::string(3 - digits.size(), '0') + digits;
  };
  for (int n : {0, 1, 2, 31, 32, 33, 100}) {
    std::string expected = "{";
    for (int i = 0; i < n; ++i) {
      expected += std::string(i == 0 ? "" : ",") + "\"" + key_of(i) + "\":" + std::to_string(i);
    }
    expected += "}";
    for (bool reversed : {false, true}) {
      Value obj = Value::MakeObject();
      for (int j = 0; j < n; ++j) {
        const int i = reversed ? n - 1 - j : j;
        obj.Set(key_of(i), static_cast<int64_t>(i));
      }
      EXPECT_EQ(Canonical(obj), expected) << "n=" << n << " reversed=" << reversed;
    }
  }
  // Only the first pair out of order.
  EXPECT_EQ(CanonicalOf(R"({"b":1,"a":2,"c":3,"d":4})"), R"({"a":2,"b":1,"c":3,"d":4})");
  // ... only the last.
  EXPECT_EQ(CanonicalOf(R"({"a":1,"b":2,"d":3,"c":4})"), R"({"a":1,"b":2,"c":4,"d":3})");
}

TEST(JsonParseTest, DuplicateKeysRejected) {
  ExpectRejected(R"({"a":1,"a":2})", "duplicate");
  ExpectRejected(R"({"x":{"a":1,"b":2,"a":3}})", "duplicate");
  // Same key in different objects is fine.
  EXPECT_TRUE(Parse(R"({"a":{"a":1},"b":{"a":2}})").ok());
  // Keys that differ only after an escape are distinct.
  EXPECT_TRUE(Parse(R"({"a":1,"\u0061b":2})").ok());
  ExpectRejected(R"({"a":1,"\u0061":2})", "duplicate");
}

// Issue 12, item 5: duplicate keys are found in linear time, also past the scan limit where
// the keys move into a hash set, at every nesting level.
TEST(JsonParseTest, DuplicateKeysInLargeObjectsAreFound) {
  for (int n : {15, 16, 17, 40, 5000}) {
    std::string big = "{";
    for (int i = 0; i < n; ++i) big += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
    std::string ok = big + "\"last\":0}";
    EXPECT_TRUE(Parse(ok).ok()) << n;
    for (int dup : {0, n / 2, n - 1}) {
      std::string bad = big + "\"k" + std::to_string(dup) + "\":1}";
      auto r = Parse(bad);
      ASSERT_FALSE(r.ok()) << n << " " << dup;
      EXPECT_NE(r.status().message().find("duplicate"), std::string::npos);
    }
    // The same keys in sibling objects are not duplicates; a nested large object has its own set.
    std::string nested = "{\"a\":" + ok + ",\"b\":" + ok + ",\"c\":[" + ok + "," + ok + "]}";
    EXPECT_TRUE(Parse(nested).ok()) << n;
  }
}

// Containers are built when they end (their children wait on one stack): every key stays with
// its value whatever the nesting, and an object's key survives the keys of its children.
TEST(JsonParseTest, NestedContainersKeepTheirKeysAndOrder) {
  const std::string text =
      R"({"z":{"b":[1,{"c":{"d":[]},"a":{}}],"a":"x"},"y":[[],[[{"k":null}]],{}],"x":{"e":{}}})";
  auto v = Parse(text);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  // Insertion order kept (Canonical would sort; the member order is what was sent).
  ASSERT_EQ(v.value().as_object().size(), 3u);
  EXPECT_EQ(v.value().as_object()[0].first, "z");
  EXPECT_EQ(v.value().as_object()[1].first, "y");
  EXPECT_EQ(v.value().as_object()[2].first, "x");
  const Value& z = *v.value().Find("z");
  EXPECT_EQ(z.as_object()[0].first, "b");
  EXPECT_EQ(z.as_object()[1].first, "a");
  EXPECT_EQ(z.Find("a")->as_string(), "x");
  const Value& inner = z.Find("b")->as_array()[1];
  EXPECT_EQ(inner.as_object()[0].first, "c");
  EXPECT_TRUE(inner.Find("c")->Find("d")->is_array());
  EXPECT_TRUE(inner.Find("a")->is_object());
  EXPECT_TRUE(v.value().Find("y")->as_array()[1].as_array()[0].as_array()[0].Find("k")->is_null());
  EXPECT_EQ(Canonical(v.value()),
            R"({"x":{"e":{}},"y":[[],[[{"k":null}]],{}],"z":{"a":"x","b":[1,{"a":{},"c":{"d":[]}}]}})");
  // A key used by a child object is no duplicate of its parent's, before or after it.
  EXPECT_TRUE(Parse(R"({"a":{"a":{"a":1}},"b":{"a":2,"b":{"b":3}}})").ok());
  ExpectRejected(R"({"a":{"b":1},"c":[{"a":1}],"a":2})", "duplicate");
}

// Strings are scanned 16 bytes at a time (RapidJSON's SSE2 path over a padded copy): every
// length and every position of an escape or a multi-byte character across the blocks reads
// back exactly, and a NUL anywhere is refused as before.
TEST(JsonParseTest, StringsOfEveryLengthAndAlignmentReadBack) {
  for (size_t len = 0; len <= 40; ++len) {
    for (size_t at = 0; at <= len; ++at) {
      for (const char* special : {"\\\"", "\\n", "\xC3\xA9", "\\u00e9"}) {
        std::string body(len, 'x');
        body.insert(at, special);
        const std::string text = "{\"k" + std::to_string(len) + "\":\"" + body + "\"}";
        auto v = Parse(text);
        ASSERT_TRUE(v.ok()) << text << ": " << v.status().ToString();
        std::string expected(len, 'x');
        const std::string decoded = std::string(special) == "\\\"" ? "\""
                                    : std::string(special) == "\\n"  ? "\n"
                                                                       : "\xC3\xA9";
        expected.insert(at, decoded);
        EXPECT_EQ(v.value().Find("k" + std::to_string(len))->as_string(), expected) << text;
      }
    }
  }
  ExpectRejected(std::string("{}\0", 3));
  ExpectRejected(std::string("{}\0{}", 5));
  ExpectRejected(std::string("\"a\0b\"", 5));
  ExpectRejected(std::string("{\"a\":1\0}", 8));
  ExpectRejected(std::string("\0", 1));
}

// A megabyte of one-character keys parses (the old scan was quadratic: seconds of CPU).
TEST(JsonParseTest, MegabyteObjectOfShortKeysParses) {
  std::string body = "{";
  int i = 0;
  while (body.size() < (1u << 20) - 32) body += "\"" + std::to_string(i++) + "\":0,";
  body += "\"end\":0}";
  auto r = Parse(body);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->as_object().size(), static_cast<size_t>(i) + 1);
}

// Issue 12, item 1: the writer never decodes invalid UTF-8 leniently: whatever the bytes,
// the output parses back and re-serialises to the same text.
TEST(JsonCanonicalTest, InvalidUtf8IsWrittenAsReplacementAndRoundTrips) {
  for (std::string s : {std::string("x\xC0\x8Ay"), std::string("\xED\xA0\x80"),
                        std::string("\xE0\x80\xAF"), std::string("a\xE2\x82"),
                        std::string("\xF0\x80\x80\x80"), std::string("\xC3"),
                        std::string("\xF4\x90\x80\x80"), std::string("\x80z")}) {
    std::string out;
    AppendQuoted(s, &out);
    auto back = Parse(out);
    ASSERT_TRUE(back.ok()) << out;
    std::string again;
    AppendQuoted(back->as_string(), &again);
    EXPECT_EQ(out, again) << "not stable for input of " << s.size() << " bytes";
    EXPECT_NE(out.find("\\ufffd"), std::string::npos) << out;
  }
  std::string out;
  AppendQuoted("x\xC0\x8Ay", &out);
  EXPECT_EQ(out, "\"x\\ufffd\\ufffdy\"");  // never "x\u000ay"
}

TEST(JsonParseTest, DepthLimit) {
  auto nested = [](int depth) {
    return std::string(static_cast<size_t>(depth), '[') +
           std::string(static_cast<size_t>(depth), ']');
  };
  EXPECT_TRUE(Parse(nested(kMaxDepth)).ok());
  ExpectRejected(nested(kMaxDepth + 1), "deep");
  ExpectRejected(nested(100000), "deep");
  std::string objs;
  for (int i = 0; i < kMaxDepth + 1; ++i) objs += "{\"a\":";
  objs += "1";
  objs += std::string(kMaxDepth + 1, '}');
  ExpectRejected(objs, "deep");
}

TEST(JsonParseTest, TrailingGarbageRejected) {
  ExpectRejected("{} x", "trailing");
  ExpectRejected("{}{}");
  ExpectRejected("1 2");
  ExpectRejected("[1],");
  EXPECT_TRUE(Parse(" \n\t{}\r\n ").ok());
}

TEST(JsonParseTest, EmptyAndTruncatedRejected) {
  ExpectRejected("");
  ExpectRejected("   ");
  ExpectRejected("{");
  ExpectRejected("{\"a\":");
  ExpectRejected("[1,]");
  ExpectRejected("{\"a\":1,}");
  ExpectRejected("'a'");
  ExpectRejected("{a:1}");
  ExpectRejected(std::string_view("[1]\0", 4));
}

TEST(JsonParseTest, ScalarsAtTopLevel) {
  EXPECT_EQ(CanonicalOf("true"), "true");
  EXPECT_EQ(CanonicalOf("null"), "null");
  EXPECT_EQ(CanonicalOf("\"x\""), "\"x\"");
}

// ---- Values -------------------------------------------------------------------------------------

TEST(JsonValueTest, ObjectHelpers) {
  Value v = Value::MakeObject();
  v.Set("a", 1);
  v.Set("b", "x");
  v.Set("a", 2);  // replaces
  ASSERT_EQ(v.as_object().size(), 2u);
  EXPECT_EQ(v.Find("a")->as_int64(), 2);
  EXPECT_EQ(v.Find("b")->as_string(), "x");
  EXPECT_EQ(v.Find("c"), nullptr);
  EXPECT_TRUE(v.Erase("a"));
  EXPECT_FALSE(v.Erase("a"));
  Value copy = v;
  copy.Set("b", "y");
  EXPECT_EQ(v.Find("b")->as_string(), "x");  // deep copy
  EXPECT_FALSE(copy == v);
  Value arr = Value::MakeArray();
  arr.Push(Value(true));
  arr.Push(Value());
  EXPECT_EQ(Canonical(arr), "[true,null]");
}

TEST(JsonValueTest, EqualityIgnoresMemberOrder) {
  auto a = Parse(R"({"x":1,"y":[1,2]})");
  auto b = Parse(R"({"y":[1,2],"x":1})");
  auto c = Parse(R"({"y":[2,1],"x":1})");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_TRUE(*a == *b);
  EXPECT_FALSE(*a == *c);
  // 1 and 1.0 are different values (Python prints them differently).
  EXPECT_FALSE(*Parse("1") == *Parse("1.0"));
}

// ---- Vectors A.6 and A.2 ------------------------------------------------------------------

TEST(JsonCanonicalTest, VectorA6Entry1) {
  Value details = Value::MakeObject();
  details.Set("request_id", "r1");
  Value e = Value::MakeObject();
  e.Set("index", 1);
  e.Set("timestamp", "2026-03-01T00:00:00+00:00");
  e.Set("event_type", "telemetry.accepted");
  e.Set("actor", "telemetry_gateway");
  e.Set("details", details);
  e.Set("previous_hash", "");
  EXPECT_EQ(Canonical(e), R"({"actor":"telemetry_gateway","details":{"request_id":"r1"},)"
                          R"("event_type":"telemetry.accepted","index":1,"previous_hash":"",)"
                          R"("timestamp":"2026-03-01T00:00:00+00:00"})");
}

constexpr char kA2Body[] =
    R"({"campaign_id":"cmp-001","execution_hash":"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff","nonce":"nonce-vector-0001","operator_id":"op-001","payload":{"attributes":{"asset_ref":"host-nyc-01","attestation_measurement_hash":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","schema_version":"1.0"},"description":"Observed suspicious process chain","event_id":"evt-vector-0001","event_type":"PROCESS_ANOMALY","mitre_tactics":["TA0002"],"mitre_techniques":["T1059.001"],"observed_at":"2026-02-26T12:00:00Z","severity":"high","source_system":"spectrastrike-sensor"},"signed_metadata":{"campaign_id":"cmp-001","operator_id":"op-001","tenant_id":"10000000-0000-0000-0000-000000000001"},"tenant_id":"10000000-0000-0000-0000-000000000001","timestamp":1772107200})";

TEST(JsonCanonicalTest, VectorA2BodyIsItsOwnCanonicalForm) {
  ASSERT_EQ(std::string(kA2Body).size(), 790u);
  EXPECT_EQ(CanonicalOf(kA2Body), kA2Body);
}

TEST(JsonCanonicalTest, VectorA2InsertionOrderCanonicalisesToSortedBody) {
  const char* insertion_order =
      R"({"operator_id":"op-001","campaign_id":"cmp-001","tenant_id":"10000000-0000-0000-0000-000000000001",)"
      R"("execution_hash":"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff","timestamp":1772107200,)"
      R"("nonce":"nonce-vector-0001","signed_metadata":{"tenant_id":"10000000-0000-0000-0000-000000000001",)"
      R"("operator_id":"op-001","campaign_id":"cmp-001"},"payload":{"event_id":"evt-vector-0001",)"
      R"("event_type":"PROCESS_ANOMALY","source_system":"spectrastrike-sensor","severity":"high",)"
      R"("observed_at":"2026-02-26T12:00:00Z","mitre_techniques":["T1059.001"],"mitre_tactics":["TA0002"],)"
      R"("description":"Observed suspicious process chain","attributes":{"asset_ref":"host-nyc-01",)"
      R"("schema_version":"1.0","attestation_measurement_hash":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}}})";
  EXPECT_EQ(CanonicalOf(insertion_order), kA2Body);
}

}  // namespace
}  // namespace vv::json
