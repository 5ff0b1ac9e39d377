#pragma once
// vv::schema text helpers used by telemetry validation: Python-compatible str.strip(), length in
// code points (what pydantic min_length/max_length count), HTML escaping (Python
// html.escape(quote=True)) and the SQL-injection deny-list of wire-contract 7.
//
// Inputs are UTF-8 (the JSON parser guarantees it); an invalid byte is treated as one code
// point U+FFFD and never crashes. Pure functions, thread-safe, no allocation except where a
// std::string is returned.
//
// The deny-list is matched by hand-written scanners (no std::regex): each pattern of the
// reference (Python `re`, IGNORECASE, Unicode str semantics) is a fixed keyword sequence, so the
// greedy scan below is exact for ASCII and needs no backtracking:
//   \bunion\s+select\b   \bdrop\s+table\b   \bdelete\s+from\b   \binsert\s+into\b
//   \bupdate\s+\w+\s+set\b   \bor\s+1\s*=\s*1\b
// Python details reproduced: \s is str.isspace() (Unicode whitespace), IGNORECASE also folds
// U+0130/U+0131 to 'i' and U+017F to 's' (so "unıon select" is caught, as in Python).
// Approximation: Python's \w is Unicode alphanumeric; here a non-ASCII code point counts as a
// word character unless it is whitespace or in the common punctuation/symbol blocks (Latin-1
// punctuation, General Punctuation, arrows/math/box drawing, CJK punctuation, emoji, private
// use). This only affects \b next to exotic symbols.
//
// Known limits (wire-contract 13 item 11; kept for wire compatibility, documented, tested):
//   - trivially bypassed: "union/**/select", "union all select", "1 or 2=2", "drop  /**/table";
//   - false positives on prose: "update firewall set to block", "insert into the report",
//     "delete from the queue", "drop table tennis".
// It is a tripwire, not a security boundary: nothing downstream builds SQL from telemetry text.

#include <string>
#include <string_view>

namespace vv::schema {

// Python str.isspace() for one code point.
bool IsPyWhitespace(char32_t c);
// Python str.strip() with no arguments (Unicode whitespace).
std::string_view PyStrip(std::string_view utf8);
// Number of code points (Python len()).
size_t CodePointCount(std::string_view utf8);
// True when valid UTF-8 `utf8` holds a control character: C0 (U+0000-U+001F), DEL (U+007F) or
// C1 (U+0080-U+009F). With `allow_line_breaks`, TAB, LF and CR are allowed (free text).
// Issue 12 item 15: a NUL or an escape sequence in an identifier or a value would reach logs,
// files and the engine verbatim.
bool ContainsControlChar(std::string_view utf8, bool allow_line_breaks);
// html.escape(s, quote=True): & < > " ' -> &amp; &lt; &gt; &quot; &#x27;
std::string HtmlEscape(std::string_view s);
// The reference's _sanitize_text: HtmlEscape(PyStrip(s)).
std::string SanitizeText(std::string_view s);
// True when any deny-list pattern matches anywhere in s (Python re.search semantics).
bool ContainsInjectionPattern(std::string_view utf8);

}  // namespace vv::schema
