// libFuzzer target: vv::json::Parse on arbitrary bytes.
// Invariants: never crashes; when the input parses to v, Canonical(v) parses again to a value
// equal to v, and Canonical is a fixed point: Canonical(Parse(Canonical(v))) == Canonical(v).
// Canonical output is pure ASCII (ensure_ascii).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "json/json.h"

namespace {
[[noreturn]] void Fail(const char* what, const std::string& a, const std::string& b = "") {
  std::fprintf(stderr, "json_parse_fuzz invariant violated: %s\n  %s\n  %s\n", what, a.c_str(),
               b.c_str());
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  vv::Result<vv::json::Value> v = vv::json::Parse(text);
  if (!v.ok()) return 0;
  std::string canon = vv::json::Canonical(*v);
  for (unsigned char c : canon) {
    if (c >= 0x80) Fail("canonical output is not ASCII", canon);
  }
  vv::Result<vv::json::Value> again = vv::json::Parse(canon);
  if (!again.ok()) Fail("canonical output does not re-parse", canon, again.status().message());
  if (!(*again == *v)) Fail("re-parsed canonical value differs from the original", canon);
  std::string canon2 = vv::json::Canonical(*again);
  if (canon2 != canon) Fail("Canonical is not a fixed point", canon, canon2);
  return 0;
}
