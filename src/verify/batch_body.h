#pragma once
// The body of POST /internal/v1/telemetry/batch (a deliberate extension of the wire contract,
// docs/producer.md "Batched ingest"): NDJSON, one event per line, each line exactly the JSON
// object the single endpoint takes (its "timestamp" and "nonce" equal to the batch's signed
// headers). Lines end with "\n"; one final "\n" is optional; a "\r" before "\n" is part of the
// line (and fails as JSON only if the parser refuses it: JSON allows it as whitespace).
// A JSON array body is refused (the first non-whitespace byte is '['), so a producer that
// sends the other format gets a clear reason instead of N schema failures.
//
// Splitting only finds the line boundaries; each line is validated by the telemetry chain's
// validation stage like a single request. Pure function, no allocation beyond the result.

#include <cstddef>
#include <string_view>
#include <vector>

namespace vv::verify {

enum class BatchSplit { kOk, kEmpty, kJsonArray, kTooManyEvents };

struct BatchLines {
  BatchSplit result = BatchSplit::kOk;
  std::vector<std::string_view> lines;  // views into the body; kOk only
};

// Splits `body` into at most `max_events` lines (kTooManyEvents beyond, without scanning the
// rest). kEmpty: no byte at all, or only a single "\n".
BatchLines SplitBatchBody(std::string_view body, size_t max_events);

}  // namespace vv::verify
