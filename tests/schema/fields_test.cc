// The request-body field kit (schema/fields.h) shared by the cognitive requests and the
// federation bundle: one behaviour, one set of messages, at any nesting path.
#include "schema/fields.h"

#include <gtest/gtest.h>

#include "json/json.h"

namespace vv::schema::fields {
namespace {

json::Value Obj(const char* text) { return json::Parse(text).value(); }

std::string Why(const Status& s) { return s.ok() ? "<ok>" : s.message(); }
template <typename T>
std::string Why(const Result<T>& r) {
  return r.ok() ? "<ok>" : r.status().message();
}

TEST(FieldsTest, OnlyKeysNamesTheExtraKeyWithItsPathAndBoundsIt) {
  EXPECT_TRUE(OnlyKeys(Obj(R"({"a":1,"b":2})"), {"a", "b", "c"}).ok());
  EXPECT_EQ(Why(OnlyKeys(Obj(R"({"a":1,"x":2})"), {"a"})), "extra field not permitted: x");
  EXPECT_EQ(Why(OnlyKeys(Obj(R"({"x":2})"), {"a"}, "bundle.")),
            "extra field not permitted: bundle.x");
  const std::string long_key(300, 'k');
  json::Value o = json::Value::MakeObject();
  o.Set(long_key, 1);
  EXPECT_EQ(Why(OnlyKeys(o, {"a"})), "extra field not permitted: " + std::string(64, 'k') + "...");
  EXPECT_EQ(Why(OnlyKeys(Obj("[1]"), {"a"})), "body must be a JSON object");
  EXPECT_EQ(Why(OnlyKeys(Obj("\"s\""), {"a"}, "bundle.")), "bundle: must be an object");
}

TEST(FieldsTest, StrChecksPresenceTypeCodePointLengthAndForbiddenCharacters) {
  json::Value o = Obj(R"({"s":"abc","n":1,"e":"\u00e9\u00e9","p":"a|b","c":"a\u0085b"})");
  EXPECT_EQ(*Str(o, "s", 1, 3), "abc");
  EXPECT_EQ(Why(Str(o, "missing", 1, 3, "bundle.")), "bundle.missing: field required");
  EXPECT_EQ(Why(Str(o, "n", 1, 3)), "n: must be a string");
  EXPECT_EQ(Why(Str(o, "s", 4, 8)), "s: length must be 4..8");
  EXPECT_EQ(*Str(o, "e", 2, 2), "\xc3\xa9\xc3\xa9") << "two code points, four bytes";
  EXPECT_EQ(*Str(o, "p", 1, 8), "a|b") << "'|' only where the fields are pipe-joined";
  EXPECT_EQ(Why(Str(o, "p", 1, 8, "bundle.", /*forbid_pipe=*/true)),
            "bundle.p: contains a forbidden character");
  EXPECT_EQ(Why(Str(o, "c", 1, 8)), "c: contains a forbidden character") << "C1 control";
  json::Value nul = json::Value::MakeObject();
  nul.Set("k", std::string("a\0b", 3));
  EXPECT_EQ(Why(Str(nul, "k", 1, 8)), "k: contains a forbidden character");
}

TEST(FieldsTest, IntAcceptsOnlyJsonIntegersInRange) {
  json::Value o = Obj(R"({"i":42,"s":"42","d":42.0,"b":true,"big":99999999999999999999})");
  EXPECT_EQ(*Int(o, "i"), 42);
  EXPECT_EQ(Why(Int(o, "s", "bundle.")), "bundle.s: must be an integer");
  EXPECT_EQ(Why(Int(o, "d")), "d: must be an integer");
  EXPECT_EQ(Why(Int(o, "b")), "b: must be an integer");
  EXPECT_EQ(Why(Int(o, "big")), "big: integer out of range");
  EXPECT_EQ(Why(Int(o, "none")), "none: field required");
}

TEST(FieldsTest, Hex64LowerLowercasesAndRefusesNonHex) {
  json::Value o = json::Value::MakeObject();
  o.Set("h", std::string(64, 'A'));
  o.Set("g", std::string(63, 'a') + "g");
  EXPECT_EQ(*Hex64Lower(o, "h"), std::string(64, 'a'));
  EXPECT_EQ(Why(Hex64Lower(o, "g")), "g: must be 64 hex chars");
}

}  // namespace
}  // namespace vv::schema::fields
