#include "json/json.h"

#include <array>

#include "common/text.h"

// RapidJSON's SSE2 string scan (16 bytes a step, aligned loads) for a StringStream: the only
// translation unit that includes RapidJSON, so every instantiation sees the same setting.
#if defined(__SSE2__)
#define RAPIDJSON_SSE2
#endif
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <unordered_set>
#include <utility>

namespace vv::json {

// ---- Value ----------------------------------------------------------------------------------

Value::Value(int64_t v) : type_(Type::kInt), s_(std::to_string(v)) {}
Value::Value(Array a) : type_(Type::kArray), a_(std::make_unique<Array>(std::move(a))) {}
Value::Value(Object o) : type_(Type::kObject), o_(std::make_unique<Object>(std::move(o))) {}

Value Value::IntFromDecimal(std::string digits) {
  Value v;
  v.type_ = Type::kInt;
  v.s_ = std::move(digits);
  return v;
}

Value::Value(const Value& o) : type_(o.type_), b_(o.b_), d_(o.d_), s_(o.s_) {
  if (o.a_) a_ = std::make_unique<Array>(*o.a_);
  if (o.o_) o_ = std::make_unique<Object>(*o.o_);
}

Value& Value::operator=(const Value& o) {
  if (this != &o) {
    Value tmp(o);
    *this = std::move(tmp);
  }
  return *this;
}

std::optional<int64_t> Value::as_int64() const {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s_.data(), s_.data() + s_.size(), v);
  if (ec != std::errc() || p != s_.data() + s_.size()) return std::nullopt;
  return v;
}

double Value::as_double() const {
  if (type_ == Type::kInt) return std::strtod(s_.c_str(), nullptr);
  return d_;
}

const Value* Value::Find(std::string_view key) const {
  for (const auto& m : *o_)
    if (m.first == key) return &m.second;
  return nullptr;
}

Value* Value::Find(std::string_view key) {
  for (auto& m : *o_)
    if (m.first == key) return &m.second;
  return nullptr;
}

void Value::Set(std::string key, Value v) {
  if (Value* existing = Find(key)) {
    *existing = std::move(v);
    return;
  }
  o_->emplace_back(std::move(key), std::move(v));
}

bool Value::Erase(std::string_view key) {
  auto it = std::find_if(o_->begin(), o_->end(), [&](const Member& m) { return m.first == key; });
  if (it == o_->end()) return false;
  o_->erase(it);
  return true;
}

bool Value::operator==(const Value& o) const {
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::kNull: return true;
    case Type::kBool: return b_ == o.b_;
    case Type::kInt: return s_ == o.s_;
    case Type::kDouble: return d_ == o.d_;
    case Type::kString: return s_ == o.s_;
    case Type::kArray: return *a_ == *o.a_;
    case Type::kObject: {
      if (o_->size() != o.o_->size()) return false;
      for (const auto& m : *o_) {
        const Value* other = o.Find(m.first);
        if (!other || !(*other == m.second)) return false;
      }
      return true;
    }
  }
  return false;
}

// ---- Parser ---------------------------------------------------------------------------------

namespace {

// RapidJSON 1.1.0 validates raw input bytes but turns a lone low-surrogate escape ("\udc00")
// into the invalid three-byte sequence ED B0 80, so decoded strings and keys are checked again
// with the strict decoder (common/text.h).
using text::IsValidUtf8;

// Builds a Value tree from RapidJSON SAX events. Numbers arrive as raw text
// (kParseNumbersAsStringsFlag) so integers keep their exact digits.
class Builder {
 public:
  bool Null() { return Add(Value()); }
  bool Bool(bool b) { return Add(Value(b)); }
  bool Int(int i) { return Add(Value(i)); }
  bool Uint(unsigned u) { return Add(Value(static_cast<int64_t>(u))); }
  bool Int64(int64_t i) { return Add(Value(i)); }
  bool Uint64(uint64_t u) { return Add(Value::IntFromDecimal(std::to_string(u))); }
  bool Double(double d) { return Add(Value(d)); }
  bool RawNumber(const char* str, rapidjson::SizeType len, bool) {
    std::string_view t(str, len);
    if (t.find_first_of(".eE") == std::string_view::npos) {
      // Integer literal: JSON grammar already excludes leading zeros. Python prints -0 as 0.
      std::string digits(t);
      if (digits == "-0") digits = "0";
      return Add(Value::IntFromDecimal(std::move(digits)));
    }
    std::string s(t);
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (std::isinf(d)) {
      error_ = "number out of range";
      return false;  // Python would produce inf, which cannot be re-serialised as JSON
    }
    return Add(Value(d));
  }
  bool String(const char* str, rapidjson::SizeType len, bool) {
    if (!IsValidUtf8(std::string_view(str, len))) {
      error_ = "Invalid encoding in string (invalid UTF-8 or lone surrogate)";
      return false;
    }
    return Add(Value(std::string(str, len)));
  }
  bool StartObject() { return Open(); }
  bool Key(const char* str, rapidjson::SizeType len, bool) {
    if (!IsValidUtf8(std::string_view(str, len))) {
      error_ = "Invalid encoding in object key (invalid UTF-8 or lone surrogate)";
      return false;
    }
    std::string k(str, len);
    if (IsDuplicateKey(k)) {
      error_ = "duplicate object key";
      return false;
    }
    pending_key_ = std::move(k);
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    Object members;
    members.reserve(open_members_.size() - frames_.back().first);
    for (size_t i = frames_.back().first; i < open_members_.size(); ++i)
      members.push_back(std::move(open_members_[i]));
    Close();
    return Add(Value(std::move(members)));
  }
  bool StartArray() { return Open(); }
  bool EndArray(rapidjson::SizeType) {
    Array items;
    items.reserve(open_members_.size() - frames_.back().first);
    for (size_t i = frames_.back().first; i < open_members_.size(); ++i)
      items.push_back(std::move(open_members_[i].second));
    Close();
    return Add(Value(std::move(items)));
  }

  Value TakeRoot() { return std::move(root_); }
  const std::string& error() const { return error_; }

 private:
  // A container's children wait in open_members_ (in document order, with their keys; an
  // array's keys are empty) until it ends, and are then moved into a vector of exactly their
  // number: no vector grows member by member (issue 15: growing them cost ~4 % of the batch
  // path in reallocations and moves).
  struct Frame {
    size_t first;     // its first child's index in open_members_
    std::string key;  // its key in its parent object (empty in an array or at the root)
    // The keys of a large object (kScanLimit or more), else null.
    std::unique_ptr<std::unordered_set<std::string>> keys;
  };

  bool Add(Value v) {
    if (frames_.empty()) root_ = std::move(v);
    else open_members_.emplace_back(std::exchange(pending_key_, std::string()), std::move(v));
    return true;
  }
  bool Open() {
    if (static_cast<int>(frames_.size()) >= kMaxDepth) {
      error_ = "nesting too deep";
      return false;
    }
    frames_.push_back(Frame{open_members_.size(), std::exchange(pending_key_, std::string()),
                            nullptr});
    return true;
  }
  // Ends the innermost container; its own key (when its parent is an object) is pending again.
  void Close() {
    open_members_.resize(frames_.back().first);
    pending_key_ = std::move(frames_.back().key);
    frames_.pop_back();
  }
  // Duplicate-key detection in linear time: a small object is scanned (cheaper than hashing);
  // once an object has kScanLimit keys, its keys move into a hash set. A scan of every earlier
  // key made an 878 KiB object of short keys cost seconds of CPU (issue 12, item 5).
  bool IsDuplicateKey(const std::string& k) {
    static constexpr size_t kScanLimit = 16;
    Frame& frame = frames_.back();
    if (!frame.keys) {
      for (size_t i = frame.first; i < open_members_.size(); ++i)
        if (open_members_[i].first == k) return true;
      if (open_members_.size() - frame.first + 1 < kScanLimit) return false;
      frame.keys = std::make_unique<std::unordered_set<std::string>>();
      frame.keys->reserve(2 * kScanLimit);
      for (size_t i = frame.first; i < open_members_.size(); ++i)
        frame.keys->insert(open_members_[i].first);
      frame.keys->insert(k);
      return false;
    }
    return !frame.keys->insert(k).second;
  }

  Value root_;
  std::vector<Frame> frames_;  // the open containers, innermost last
  std::vector<Member> open_members_;
  std::string pending_key_;
  std::string error_;
};

}  // namespace

Result<Value> Parse(std::string_view text) {
  Builder builder;
  // A NUL-terminated copy with 16 bytes of padding: RapidJSON's SIMD string scan reads aligned
  // 16-byte blocks, which may run past the terminator (never past the padding), and a
  // StringStream ends at the first NUL (a NUL in `text` is then trailing data or an unfinished
  // value: an error either way, as before). The copy costs one memcpy; the scan saves ~15
  // instructions a byte of string (issue 15).
  std::string padded;
  padded.reserve(text.size() + 16);
  padded.append(text);
  padded.append(16, '\0');
  rapidjson::StringStream is(padded.c_str());
  rapidjson::Reader reader;
  // No kParseValidateEncodingFlag: every string and key is checked once, by the Builder
  // (IsValidUtf8, which also refuses the lone surrogates an escape can produce); bytes >= 0x80
  // outside a string are a syntax error either way (issue 15: the two checks cost ~2.5 % of the
  // batch path).
  constexpr unsigned kFlags = rapidjson::kParseNumbersAsStringsFlag |
                              rapidjson::kParseIterativeFlag | rapidjson::kParseStopWhenDoneFlag;
  rapidjson::ParseResult r = reader.Parse<kFlags>(is, builder);
  if (!r) {
    std::string why = !builder.error().empty() ? builder.error()
                                               : rapidjson::GetParseError_En(r.Code());
    return Status::InvalidArgument("invalid JSON at offset " + std::to_string(r.Offset()) + ": " +
                                   why);
  }
  // Only whitespace may follow the value.
  for (size_t i = is.Tell(); i < text.size(); ++i) {
    // (Tell() <= text.size(): the stream never reads past the first NUL.)
    char c = text[i];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      return Status::InvalidArgument("invalid JSON at offset " + std::to_string(i) +
                                     ": trailing data");
  }
  return builder.TakeRoot();
}

// ---- Canonical serialiser ------------------------------------------------------------------

std::string PythonFloatRepr(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));  // e.g. -1.2345e+20
  bool neg = sci.front() == '-';
  if (neg) sci.remove_prefix(1);
  size_t epos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, epos))
    if (c != '.') digits += c;
  int exp10 = std::atoi(std::string(sci.substr(epos + 1)).c_str());
  int decpt = exp10 + 1;  // value = 0.DIGITS * 10^decpt
  std::string out = neg ? "-" : "";
  if (decpt <= -4 || decpt > 16) {
    out += digits[0];
    if (digits.size() > 1) {
      out += '.';
      out += digits.substr(1);
    }
    char e[16];
    std::snprintf(e, sizeof e, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    out += e;
  } else if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-decpt), '0');
    out += digits;
  } else if (static_cast<size_t>(decpt) >= digits.size()) {
    out += digits;
    out.append(static_cast<size_t>(decpt) - digits.size(), '0');
    out += ".0";
  } else {
    out += digits.substr(0, static_cast<size_t>(decpt));
    out += '.';
    out += digits.substr(static_cast<size_t>(decpt));
  }
  return out;
}

namespace {
// Bytes a JSON string holds as they are (printable ASCII but '"' and '\\'): one table load per
// byte in AppendQuoted's common case instead of five comparisons.
constexpr std::array<bool, 256> kPlainByte = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7f; ++c) t[static_cast<size_t>(c)] = c != '"' && c != '\\';
  return t;
}();

// The end of the run of plain bytes (kPlainByte) that starts at p[i]: eight bytes at a time
// while no byte of a word is special (< 0x20, '"', '\\', DEL or >= 0x80; SWAR tests, exact as
// booleans), then byte by byte.
size_t PlainRunEnd(const unsigned char* p, size_t i, size_t n) {
  constexpr uint64_t k01 = 0x0101010101010101ULL, k80 = 0x8080808080808080ULL;
  const auto has_zero_byte = [](uint64_t v) { return (v - k01) & ~v & k80; };
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    const uint64_t special = ((w - k01 * 0x20) & ~w & k80) | (w & k80) |
                             has_zero_byte(w ^ (k01 * '"')) | has_zero_byte(w ^ (k01 * '\\')) |
                             has_zero_byte(w ^ (k01 * 0x7f));
    if (special != 0) break;
  }
  while (i < n && kPlainByte[p[i]]) ++i;
  return i;
}
}  // namespace

void AppendQuoted(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto u16 = [&](uint32_t cu) {
    char b[6] = {'\\', 'u', kHex[(cu >> 12) & 15], kHex[(cu >> 8) & 15], kHex[(cu >> 4) & 15],
                 kHex[cu & 15]};
    out->append(b, 6);
  };
  out->push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  for (size_t i = 0; i < n;) {
    // The common case: a run of printable ASCII that needs no escape, appended at once.
    const size_t run = PlainRunEnd(p, i, n);
    if (run != i) {
      out->append(s.data() + i, run - i);
      i = run;
      continue;
    }
    unsigned char c = p[i];
    if (c < 0x80) {
      switch (c) {
        case '"': out->append("\\\""); break;
        case '\\': out->append("\\\\"); break;
        case '\n': out->append("\\n"); break;
        case '\r': out->append("\\r"); break;
        case '\t': out->append("\\t"); break;
        case '\b': out->append("\\b"); break;
        case '\f': out->append("\\f"); break;
        default:
          if (c < 0x20 || c == 0x7f) u16(c);
          else out->push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    // Strict decoding: an invalid or truncated sequence (overlong, surrogate, stray
    // continuation byte...) is written as U+FFFD for its first byte, never decoded leniently.
    // A lenient decoder turned the overlong C0 8A into "\u000a", which parses back as "\n"
    // and re-serialises differently, so a record holding it could not re-verify.
    uint32_t cp = 0;
    size_t len = text::DecodeUtf8(s, i, &cp);
    if (len == 0) {
      cp = text::kReplacementChar;
      len = 1;
    }
    if (cp >= 0x10000) {
      uint32_t v = cp - 0x10000;
      u16(0xD800 + (v >> 10));
      u16(0xDC00 + (v & 0x3FF));
    } else {
      u16(cp);
    }
    i += len;
  }
  out->push_back('"');
}

void AppendCanonical(const Value& v, std::string* out) {
  switch (v.type()) {
    case Type::kNull: out->append("null"); return;
    case Type::kBool: out->append(v.as_bool() ? "true" : "false"); return;
    case Type::kInt: out->append(v.int_text()); return;
    case Type::kDouble: out->append(PythonFloatRepr(v.as_double())); return;
    case Type::kString: AppendQuoted(v.as_string(), out); return;
    case Type::kArray: {
      out->push_back('[');
      bool first = true;
      for (const auto& e : v.as_array()) {
        if (!first) out->push_back(',');
        first = false;
        AppendCanonical(e, out);
      }
      out->push_back(']');
      return;
    }
    case Type::kObject: {
      // UTF-8 byte order equals code point order, which is Python's str order. Members are
      // written in key order; an object already in that order (built so, or parsed from
      // canonical bytes - the common case) is written as it is, and a small one is sorted in
      // a buffer on the stack: no allocation per object.
      const auto& object = v.as_object();
      auto append_member = [out](const Member& m, bool first) {
        if (!first) out->push_back(',');
        AppendQuoted(m.first, out);
        out->push_back(':');
        AppendCanonical(m.second, out);
      };
      out->push_back('{');
      const auto by_key = [](const Member& a, const Member& b) { return a.first < b.first; };
      if (std::is_sorted(object.begin(), object.end(), by_key)) {
        bool first = true;
        for (const Member& m : object) {
          append_member(m, first);
          first = false;
        }
      } else {
        constexpr size_t kOnStack = 32;
        std::array<const Member*, kOnStack> small;
        std::vector<const Member*> large;
        const Member** begin = small.data();
        if (object.size() > kOnStack) {
          large.resize(object.size());
          begin = large.data();
        }
        const Member** end = begin;
        for (const Member& m : object) *end++ = &m;
        std::sort(begin, end, [](const Member* a, const Member* b) { return a->first < b->first; });
        for (const Member** m = begin; m != end; ++m) append_member(**m, m == begin);
      }
      out->push_back('}');
      return;
    }
  }
}

std::string Canonical(const Value& v) {
  std::string out;
  AppendCanonical(v, &out);
  return out;
}

}  // namespace vv::json
