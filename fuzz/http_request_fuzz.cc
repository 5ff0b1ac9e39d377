// libFuzzer target: the gateway listener's HTTP/1.1 request reader (vv::http::RequestReader)
// with exactly the limits the server derives from its options (vv::http::ReaderLimitsFor over
// the default ServerOptions: 16 KiB head, 64 fields, 1 MiB body, 16 KiB chunked framing).
// Input: the first byte picks the size of each simulated transport read (1..256 bytes, so
// partial heads, chunk lines and trailers are exercised); the rest is the byte stream of one
// connection (pipelined requests included).
// Invariants: never crashes; the bytes read for one request never exceed RequestBudget(); a
// completed body never exceeds max_body_bytes; a refusal is 400, 413 or 431 with a reason; a
// head is only reported with at most max_header_count fields and acceptable framing (one
// Transfer-Encoding exactly "chunked", never with Content-Length).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "http/request_reader.h"
#include "http/server.h"

namespace {

void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_request_fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = static_cast<size_t>(data[0]) + 1;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const vv::http::ReaderLimits limits = vv::http::ReaderLimitsFor(vv::http::ServerOptions{});
  vv::http::RequestReader reader(limits);
  using Step = vv::http::RequestReader::Step;

  size_t pos = 0;
  for (int requests = 0; requests < 64; ++requests) {
    reader.Begin();
    Step s = reader.HasBuffered() ? reader.Parse() : Step::kNeedMore;
    bool done = false;
    while (!done) {
      switch (s) {
        case Step::kNeedMore: {
          if (pos >= input.size()) return 0;  // the connection ends mid-request
          auto buf = reader.PrepareRead();
          size_t n = std::min({buf.size(), step, input.size() - pos});
          if (n > 0) std::memcpy(buf.data(), input.data() + pos, n);
          pos += n;
          s = reader.Commit(n);
          Require(reader.request_bytes() <= limits.RequestBudget(), "request byte budget");
          break;
        }
        case Step::kHeader: {
          size_t fields = 0, te = 0, cl = 0;
          for (const auto& f : reader.head()) {
            ++fields;
            if (f.name() == boost::beast::http::field::transfer_encoding) ++te;
            if (f.name() == boost::beast::http::field::content_length) ++cl;
          }
          Require(fields <= limits.max_header_count, "header count");
          Require(te <= 1 && !(te == 1 && cl > 0), "framing");
          s = reader.ContinueBody();
          break;
        }
        case Step::kComplete: {
          std::string body = reader.TakeBody();
          Require(body.size() <= limits.max_body_bytes, "body limit");
          done = true;
          break;
        }
        case Step::kFailed: {
          const auto& f = reader.failure();
          Require(f.status == 400 || f.status == 413 || f.status == 431, "refusal status");
          Require(f.reason != nullptr && f.reason[0] != '\0', "refusal reason");
          return 0;  // the server answers and closes the connection
        }
      }
    }
  }
  return 0;
}
