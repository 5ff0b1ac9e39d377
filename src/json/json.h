#pragma once
// vv::json: a small JSON document model with a strict parser (RapidJSON's SAX reader
// underneath) and the canonical serialiser every hash and signature in the system uses.
//
// Canonical form = Python json.dumps(v, sort_keys=True, separators=(",", ":"),
// ensure_ascii=True): keys sorted by code point, \uXXXX (lowercase hex) for every char < 0x20
// without a short escape, DEL and non-ASCII (astral chars as surrogate pairs), integers as
// exact decimal (arbitrary size, as Python ints), floats as Python repr (shortest round trip,
// "1.0", "1e+20", "1e-05"). See wire-contract 2.4 and vector A.7.
//
// Parsing is strict: valid UTF-8 only, no NaN/Infinity, no duplicate object keys (Python
// would keep the last one silently; a signed body must mean exactly one thing), nesting
// depth at most kMaxDepth. Integers keep their exact decimal text, so a 40-digit integer
// canonicalises exactly as Python prints it.
// Thread-safety: values are plain data; distinct values may be used from distinct threads.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace vv::json {

enum class Type { kNull, kBool, kInt, kDouble, kString, kArray, kObject };

class Value;
using Array = std::vector<Value>;
using Member = std::pair<std::string, Value>;
using Object = std::vector<Member>;  // insertion order kept; keys unique

class Value {
 public:
  Value() = default;  // null
  Value(std::nullptr_t) {}
  Value(bool b) : type_(Type::kBool), b_(b) {}
  Value(int v) : Value(static_cast<int64_t>(v)) {}
  Value(int64_t v);
  Value(double d) : type_(Type::kDouble), d_(d) {}
  Value(const char* s) : type_(Type::kString), s_(s) {}
  Value(std::string s) : type_(Type::kString), s_(std::move(s)) {}
  Value(std::string_view s) : type_(Type::kString), s_(s) {}
  Value(Array a);
  Value(Object o);
  static Value MakeArray() { return Value(Array{}); }
  static Value MakeObject() { return Value(Object{}); }
  // An integer given by its canonical decimal text (e.g. beyond int64 range).
  static Value IntFromDecimal(std::string digits);

  Value(const Value& o);
  Value& operator=(const Value& o);
  Value(Value&&) noexcept = default;
  Value& operator=(Value&&) noexcept = default;
  ~Value() = default;

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_int() const { return type_ == Type::kInt; }
  bool is_double() const { return type_ == Type::kDouble; }
  bool is_number() const { return is_int() || is_double(); }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  bool as_bool() const { return b_; }
  // REQUIRES: is_int(). nullopt when the integer does not fit in int64.
  std::optional<int64_t> as_int64() const;
  const std::string& int_text() const { return s_; }  // REQUIRES: is_int()
  double as_double() const;                           // int or double
  const std::string& as_string() const { return s_; }
  std::string& as_string() { return s_; }
  const Array& as_array() const { return *a_; }
  Array& as_array() { return *a_; }
  const Object& as_object() const { return *o_; }
  Object& as_object() { return *o_; }

  // Object helpers. REQUIRES: is_object().
  const Value* Find(std::string_view key) const;
  Value* Find(std::string_view key);
  // Sets key (replacing an existing member, else appending).
  void Set(std::string key, Value v);
  bool Erase(std::string_view key);
  // Array helper. REQUIRES: is_array().
  void Push(Value v) { a_->push_back(std::move(v)); }

  bool operator==(const Value& o) const;

 private:
  Type type_ = Type::kNull;
  bool b_ = false;
  double d_ = 0;
  std::string s_;  // string value, or an integer's canonical decimal text
  std::unique_ptr<Array> a_;
  std::unique_ptr<Object> o_;
};

inline constexpr int kMaxDepth = 64;

// Parses one JSON text (surrounding whitespace allowed, nothing else). Errors are
// InvalidArgument with a short reason (offset included).
Result<Value> Parse(std::string_view text);

// Canonical serialisation (see above).
std::string Canonical(const Value& v);
void AppendCanonical(const Value& v, std::string* out);
// Appends a JSON string literal with ensure_ascii escaping.
void AppendQuoted(std::string_view utf8, std::string* out);
// Python repr(float).
std::string PythonFloatRepr(double d);

}  // namespace vv::json
