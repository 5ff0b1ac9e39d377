#include "verify/batch_body.h"

namespace vv::verify {

BatchLines SplitBatchBody(std::string_view body, size_t max_events) {
  BatchLines out;
  if (!body.empty() && body.back() == '\n') body.remove_suffix(1);  // the optional final LF
  if (body.empty()) {
    out.result = BatchSplit::kEmpty;
    return out;
  }
  size_t first = body.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && body[first] == '[') {
    out.result = BatchSplit::kJsonArray;
    return out;
  }
  size_t start = 0;
  for (;;) {
    if (out.lines.size() == max_events) {
      out.lines.clear();
      out.result = BatchSplit::kTooManyEvents;
      return out;
    }
    size_t nl = body.find('\n', start);
    if (nl == std::string_view::npos) {
      out.lines.push_back(body.substr(start));
      return out;
    }
    out.lines.push_back(body.substr(start, nl - start));
    start = nl + 1;
  }
}

}  // namespace vv::verify
