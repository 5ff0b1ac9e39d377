#pragma once
// RequestReader: the HTTP/1.1 request reader of the gateway listener, transport-free so that the
// server and the fuzz target (fuzz/http_request_fuzz.cc) run exactly the same parser
// configuration and limits. It owns the read buffer and a Beast request parser and counts every
// byte of a request - head, body, chunk-size lines, chunk extensions and trailers - against the
// configured limits, so a peer can never make the connection buffer grow past
// `ReaderLimits::BufferBytes()` nor make one request read more than `RequestBudget()` bytes
// (issue 12 item 3: unbounded chunk extensions and trailers).
//
// It also refuses framing the gateway does not accept (issue 12 item 15): any Transfer-Encoding
// other than exactly one `chunked`, and Transfer-Encoding together with Content-Length.
//
// Usage (one request at a time, bytes from any transport):
//   reader.Begin();                        // keeps bytes of a pipelined next request
//   for (;;) {
//     Step s = reader.HasBuffered() ? reader.Parse() : Step::kNeedMore;
//     while (s == kNeedMore) { auto b = reader.PrepareRead(); /* read into b */ s = reader.Commit(n); }
//     kHeader:   inspect Head(); then s = reader.ContinueBody();
//     kComplete: TakeBody(); kFailed: failure() says status/reason.
//   }
// Thread-safety: none (one connection's strand). Ownership: self-contained.

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace vv::http {

struct ReaderLimits {
  size_t max_header_bytes = 16 * 1024;
  size_t max_header_count = 64;
  size_t max_body_bytes = 1 << 20;
  // Chunked framing overhead of one request: chunk-size lines, chunk extensions, the last
  // chunk and the trailer section together. 0 = max_header_bytes.
  size_t max_chunk_metadata_bytes = 0;

  size_t ChunkMetadataBytes() const {
    return max_chunk_metadata_bytes != 0 ? max_chunk_metadata_bytes : max_header_bytes;
  }
  // Largest the read buffer may grow (unparsed bytes: a head, a chunk-size line or the trailer
  // section, plus one read's worth of a pipelined next request).
  size_t BufferBytes() const;
  // Most bytes one request may make the server read: head + body + chunked framing.
  uint64_t RequestBudget() const;
};

// Why the reader refused a request: the HTTP status, the client-facing body ({"detail":...})
// and a stable snake_case reason code for the audit log and metric labels.
struct ReadFailure {
  int status = 0;
  const char* reason = "";
  const char* body = "";
};

class RequestReader {
 public:
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;
  using Head = boost::beast::http::request_header<>;
  enum class Step { kNeedMore, kHeader, kComplete, kFailed };

  explicit RequestReader(const ReaderLimits& limits);

  // Starts the next request. Bytes already buffered (a pipelined request) count towards it.
  void Begin();
  // True when bytes are buffered that the parser has not seen yet (call Parse()).
  bool HasBuffered() const { return buffer_.size() > 0; }
  // Where to read the next bytes into. Never larger than what the limits still allow; empty
  // only after a failure.
  boost::asio::mutable_buffer PrepareRead();
  // `n` bytes were written into PrepareRead()'s buffer: counts and parses them.
  Step Commit(size_t n);
  // Parses what is buffered (a pipelined request, or the body after kHeader via ContinueBody).
  Step Parse();
  // After kHeader: allows the body (checks Content-Length against the limit) and parses what is
  // already buffered.
  Step ContinueBody();

  const Head& head() const { return parser_->get(); }
  // Valid once the header is parsed; nullopt / false before that (a refusal of a head that
  // never completed: Beast's content_length() asserts a finished header).
  std::optional<uint64_t> content_length() const {
    if (!parser_->is_header_done()) return std::nullopt;
    auto l = parser_->content_length();
    return l ? std::optional<uint64_t>(*l) : std::nullopt;
  }
  bool chunked() const { return parser_->is_header_done() && parser_->chunked(); }
  bool keep_alive() const { return parser_->get().keep_alive(); }
  // The complete body (after kComplete).
  std::string TakeBody() { return std::move(parser_->get().body()); }
  const ReadFailure& failure() const { return failure_; }
  // Bytes read from the transport for the current request so far.
  uint64_t request_bytes() const { return request_bytes_; }
  // The precise parser error of the last 400 (for the audit log), "" otherwise.
  const std::string& parser_error() const { return parser_error_; }

 private:
  Step Fail(int status, const char* reason, const char* body);
  Step FailFromParser(const boost::system::error_code& ec);
  Step CheckHead();
  Step ParseBody();

  const ReaderLimits limits_;
  boost::beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  enum class Phase { kHeader, kHeaderDone, kBody, kComplete, kFailed } phase_ = Phase::kHeader;
  uint64_t request_bytes_ = 0;    // read from the transport for this request
  uint64_t body_phase_bytes_ = 0; // consumed by the parser after the head
  ReadFailure failure_;
  std::string parser_error_;
};

// The client-facing bodies of the reader's refusals.
inline constexpr char kMalformedBody[] = R"({"detail":"Malformed HTTP request"})";
inline constexpr char kHeaderTooLargeBody[] = R"({"detail":"Request header fields too large"})";

}  // namespace vv::http
