#include "schema/text.h"

#include <vector>

#include "common/text.h"

namespace vv::schema {
namespace {

// Decodes one code point at s[i]; *len gets its byte length (>= 1). Invalid -> U+FFFD, len 1.
char32_t DecodeAt(std::string_view s, size_t i, size_t* len) {
  uint32_t cp = 0;
  const size_t n = text::DecodeUtf8(s, i, &cp);
  *len = n == 0 ? 1 : n;
  return n == 0 ? char32_t{0xFFFD} : static_cast<char32_t>(cp);
}

std::vector<char32_t> Decode(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    size_t len;
    out.push_back(DecodeAt(s, i, &len));
    i += len;
  }
  return out;
}

// Approximation of Python's Unicode \w (see header).
bool IsWordCp(char32_t c) {
  if (c < 0x80) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
  }
  if (c <= 0x9F) return false;  // C1 controls
  if (c <= 0xBF) {
    // Latin-1 punctuation/symbols; the alphanumeric ones are ª ² ³ µ ¹ º ¼ ½ ¾.
    return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA ||
           c == 0xBC || c == 0xBD || c == 0xBE;
  }
  if (c == 0xD7 || c == 0xF7) return false;
  if (IsPyWhitespace(c)) return false;
  if (c >= 0x2000 && c <= 0x206F) return false;  // general punctuation
  if (c >= 0x20A0 && c <= 0x20CF) return false;  // currency
  if (c >= 0x2190 && c <= 0x2BFF) return false;  // arrows, math, technical, box, shapes
  if (c >= 0x3000 && c <= 0x303F) return c >= 0x3005 && c <= 0x3007;  // CJK punctuation
  if (c >= 0xE000 && c <= 0xF8FF) return false;  // private use
  if (c >= 0xFE30 && c <= 0xFE4F) return false;
  if ((c >= 0xFF00 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) ||
      (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65)) {
    return false;
  }
  if (c >= 0x1F000 && c <= 0x1FAFF) return false;  // emoji and pictographs
  if (c == 0xFFFD) return false;
  return true;
}

// Case fold for matching an ASCII lowercase keyword letter (Python IGNORECASE).
char32_t FoldCp(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + ('a' - 'A');
  if (c == 0x130 || c == 0x131) return 'i';
  if (c == 0x17F) return 's';
  if (c == 0x212A) return 'k';
  return c;
}

// An all-ASCII string seen as its code points (no decoding, no copy).
struct AsciiCodePoints {
  std::string_view s;
  size_t size() const { return s.size(); }
  char32_t operator[](size_t i) const { return static_cast<unsigned char>(s[i]); }
};

// Seq: std::vector<char32_t> (decoded text) or AsciiCodePoints.
template <class Seq>
class Matcher {
 public:
  explicit Matcher(const Seq& cp) : cp_(cp) {}

  bool Boundary(size_t p) const {
    bool before = p > 0 && IsWordCp(cp_[p - 1]);
    bool after = p < cp_.size() && IsWordCp(cp_[p]);
    return before != after;
  }
  // Matches the lowercase ASCII keyword at *p (advancing it).
  bool Keyword(size_t* p, std::string_view kw) const {
    if (*p + kw.size() > cp_.size()) return false;
    for (size_t k = 0; k < kw.size(); ++k) {
      if (FoldCp(cp_[*p + k]) != static_cast<char32_t>(kw[k])) return false;
    }
    *p += kw.size();
    return true;
  }
  bool Literal(size_t* p, char32_t c) const {
    if (*p >= cp_.size() || cp_[*p] != c) return false;
    ++*p;
    return true;
  }
  // \s* (min 0) or \s+ (min 1), greedy. Greedy is exact here because what follows never
  // starts with whitespace.
  bool Spaces(size_t* p, size_t min) const {
    size_t n = 0;
    while (*p < cp_.size() && IsPyWhitespace(cp_[*p])) {
      ++*p;
      ++n;
    }
    return n >= min;
  }
  // \w+ greedy (exact: it must be followed by \s).
  bool Word(size_t* p) const {
    size_t n = 0;
    while (*p < cp_.size() && IsWordCp(cp_[*p])) {
      ++*p;
      ++n;
    }
    return n >= 1;
  }

  bool TwoWords(size_t p, std::string_view a, std::string_view b) const {
    return Keyword(&p, a) && Spaces(&p, 1) && Keyword(&p, b) && Boundary(p);
  }

  bool MatchAt(size_t p) const {
    const char32_t first = FoldCp(cp_[p]);
    if (first != 'u' && first != 'd' && first != 'i' && first != 'o') return false;
    if (!Boundary(p)) return false;
    switch (first) {
      case 'u': {
        if (TwoWords(p, "union", "select")) return true;
        size_t q = p;
        return Keyword(&q, "update") && Spaces(&q, 1) && Word(&q) && Spaces(&q, 1) &&
               Keyword(&q, "set") && Boundary(q);
      }
      case 'd':
        return TwoWords(p, "drop", "table") || TwoWords(p, "delete", "from");
      case 'i':
        return TwoWords(p, "insert", "into");
      case 'o': {
        size_t q = p;
        return Keyword(&q, "or") && Spaces(&q, 1) && Literal(&q, '1') && Spaces(&q, 0) &&
               Literal(&q, '=') && Spaces(&q, 0) && Literal(&q, '1') && Boundary(q);
      }
      default:
        return false;
    }
  }

 private:
  const Seq& cp_;
};

template <class Seq>
bool MatchesAnywhere(const Seq& cp) {
  Matcher<Seq> m(cp);
  for (size_t p = 0; p < cp.size(); ++p) {
    if (m.MatchAt(p)) return true;
  }
  return false;
}

// Fast pre-filter: every pattern contains one of these letters at a word start.
bool MayContainKeyword(std::string_view s) {
  for (char c : s) {
    char l = static_cast<char>(c | 0x20);
    if (l == 'u' || l == 'd' || l == 'i' || l == 'o') return true;
    if (static_cast<unsigned char>(c) >= 0x80) return true;  // possible folded letter
  }
  return false;
}

}  // namespace

bool IsPyWhitespace(char32_t c) {
  if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string_view PyStrip(std::string_view s) {
  size_t begin = 0;
  while (begin < s.size()) {
    size_t len;
    char32_t c = DecodeAt(s, begin, &len);
    if (!IsPyWhitespace(c)) break;
    begin += len;
  }
  size_t end = s.size();
  while (end > begin) {
    size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 &&
           end - start < 4) {
      --start;
    }
    size_t len;
    char32_t c = DecodeAt(s, start, &len);
    if (start + len != end || !IsPyWhitespace(c)) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

size_t CodePointCount(std::string_view s) { return text::CodePointCount(s); }

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#x27;"; break;
      default: out += c;
    }
  }
  return out;
}

bool ContainsControlChar(std::string_view s, bool allow_line_breaks) {
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20) {
      if (allow_line_breaks && (c == '\t' || c == '\n' || c == '\r')) continue;
      return true;
    }
    if (c == 0x7F) return true;
    // U+0080-U+009F is C2 80 - C2 9F in UTF-8.
    if (c == 0xC2 && i + 1 < s.size()) {
      unsigned char n = static_cast<unsigned char>(s[i + 1]);
      if (n >= 0x80 && n <= 0x9F) return true;
    }
  }
  return false;
}

std::string SanitizeText(std::string_view s) { return HtmlEscape(PyStrip(s)); }

bool ContainsInjectionPattern(std::string_view utf8) {
  if (utf8.size() < 6 || !MayContainKeyword(utf8)) return false;  // shortest match: "or 1=1"
  // ASCII text (the common case) is matched in place; other text decoded first.
  if (text::SkipAscii(utf8) == utf8.size()) return MatchesAnywhere(AsciiCodePoints{utf8});
  return MatchesAnywhere(Decode(utf8));
}

}  // namespace vv::schema
