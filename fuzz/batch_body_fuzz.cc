// libFuzzer target: the batch endpoint's body parser (verify::SplitBatchBody) and the strict
// JSON parse each line then gets, on arbitrary bytes. The first byte picks the event limit
// (1..256), the rest is the body.
// Invariants: never crashes; kEmpty exactly for "" and "\n"; kJsonArray exactly when the first
// non-whitespace byte is '['; otherwise kOk with at most `limit` lines that are views into the
// body and, joined with "\n" (plus the optional final "\n"), give the body back byte for byte,
// or kTooManyEvents exactly when the body has more than `limit` lines.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "json/json.h"
#include "verify/batch_body.h"

namespace {
[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "batch_body_fuzz invariant violated: %s\n", what);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace v = vv::verify;
  if (size == 0) return 0;
  const size_t limit = static_cast<size_t>(data[0]) + 1;
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  v::BatchLines out = v::SplitBatchBody(body, limit);

  std::string_view trimmed = body;
  if (!trimmed.empty() && trimmed.back() == '\n') trimmed.remove_suffix(1);
  const bool empty = trimmed.empty();
  size_t first = trimmed.find_first_not_of(" \t\r\n");
  const bool array = !empty && first != std::string_view::npos && trimmed[first] == '[';
  size_t lines = empty ? 0 : 1;
  for (char c : trimmed) lines += c == '\n';

  switch (out.result) {
    case v::BatchSplit::kEmpty:
      if (!empty) Fail("kEmpty for a non-empty body");
      return 0;
    case v::BatchSplit::kJsonArray:
      if (empty || !array) Fail("kJsonArray without a leading '['");
      return 0;
    case v::BatchSplit::kTooManyEvents:
      if (empty || array || lines <= limit) Fail("kTooManyEvents within the limit");
      if (!out.lines.empty()) Fail("kTooManyEvents with lines");
      return 0;
    case v::BatchSplit::kOk:
      break;
  }
  if (empty || array) Fail("kOk for an empty or array body");
  if (out.lines.size() != lines || out.lines.size() > limit) Fail("wrong line count");
  std::string joined;
  for (size_t i = 0; i < out.lines.size(); ++i) {
    std::string_view l = out.lines[i];
    if (l.data() < body.data() || l.data() + l.size() > body.data() + body.size())
      Fail("a line outside the body");
    if (l.find('\n') != std::string_view::npos) Fail("a line with a newline");
    if (i) joined += '\n';
    joined.append(l);
    (void)vv::json::Parse(l);  // each line goes through the strict parser: must not crash
  }
  if (joined != trimmed) Fail("lines do not give the body back");
  return 0;
}
