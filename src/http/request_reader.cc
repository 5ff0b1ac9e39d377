#include "http/request_reader.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <algorithm>
#include <limits>
#include <string_view>

namespace vv::http {

namespace bhttp = boost::beast::http;
using error_code = boost::system::error_code;

namespace {
// One read at most; small enough that a read never pulls much of a pipelined request along.
constexpr size_t kReadChunk = 16 * 1024;
// Room for one read beyond the largest structured element the parser must see whole.
constexpr size_t kReadSlack = 4 * 1024;

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

size_t ReaderLimits::BufferBytes() const {
  return std::max(max_header_bytes, ChunkMetadataBytes()) + kReadSlack;
}

uint64_t ReaderLimits::RequestBudget() const {
  return static_cast<uint64_t>(max_header_bytes) + max_body_bytes + ChunkMetadataBytes();
}

RequestReader::RequestReader(const ReaderLimits& limits)
    : limits_(limits), buffer_(limits.BufferBytes()) {}

void RequestReader::Begin() {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(
      std::min<size_t>(limits_.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  // The Content-Length limit is checked by ContinueBody (after the handler saw the head).
  // (boost::none would mean "0" for a Content-Length body in Beast 1.74's finish_header, hence
  // the explicit maximum.)
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  parser_->eager(false);
  phase_ = Phase::kHeader;
  request_bytes_ = buffer_.size();  // a pipelined request's bytes already read
  body_phase_bytes_ = 0;
  failure_ = ReadFailure();
  parser_error_.clear();
}

boost::asio::mutable_buffer RequestReader::PrepareRead() {
  if (phase_ == Phase::kFailed || phase_ == Phase::kComplete) return {};
  const size_t room = buffer_.max_size() - buffer_.size();
  const uint64_t budget = limits_.RequestBudget();
  const uint64_t left = request_bytes_ < budget ? budget - request_bytes_ : 0;
  size_t n = std::min({kReadChunk, room, static_cast<size_t>(std::min<uint64_t>(left, kReadChunk))});
  // n == 0 only when the buffer is full of one unfinished element or the budget is spent: the
  // caller then calls Commit(0), which fails the request.
  if (n == 0) return {};
  return buffer_.prepare(n);
}

RequestReader::Step RequestReader::Commit(size_t n) {
  if (phase_ == Phase::kFailed) return Step::kFailed;
  buffer_.commit(n);
  request_bytes_ += n;
  if (n == 0) {
    // Nothing fits any more: the element being read is larger than any limit allows.
    if (phase_ == Phase::kHeader)
      return Fail(431, "header_fields_too_large", kHeaderTooLargeBody);
    return Fail(431, "chunk_metadata_too_large", kHeaderTooLargeBody);
  }
  if (request_bytes_ > limits_.RequestBudget() && phase_ != Phase::kComplete) {
    return Fail(413, "request_too_large", "");
  }
  return Parse();
}

RequestReader::Step RequestReader::Fail(int status, const char* reason, const char* body) {
  phase_ = Phase::kFailed;
  failure_ = ReadFailure{status, reason, body};
  return Step::kFailed;
}

RequestReader::Step RequestReader::FailFromParser(const error_code& ec) {
  if (ec == bhttp::error::header_limit)
    return Fail(431, "header_fields_too_large", kHeaderTooLargeBody);
  if (ec == bhttp::error::body_limit) return Fail(413, "body_too_large", "");
  parser_error_ = ec.message();
  const char* reason = "malformed_http";
  if (ec == bhttp::error::bad_transfer_encoding) reason = "bad_transfer_encoding";
  else if (ec == bhttp::error::bad_content_length) reason = "bad_content_length";
  else if (ec == bhttp::error::bad_chunk || ec == bhttp::error::bad_chunk_extension)
    reason = "bad_chunk";
  return Fail(400, reason, kMalformedBody);
}

RequestReader::Step RequestReader::Parse() {
  switch (phase_) {
    case Phase::kHeader: break;
    case Phase::kBody: return ParseBody();
    case Phase::kHeaderDone: return Step::kHeader;
    case Phase::kComplete: return Step::kComplete;
    case Phase::kFailed: return Step::kFailed;
  }
  if (buffer_.size() == 0) return Step::kNeedMore;
  error_code ec;
  size_t used = parser_->put(buffer_.data(), ec);
  buffer_.consume(used);
  if (ec == bhttp::error::need_more) {
    // Beast reports header_limit itself once the unparsed head reaches the limit; the buffer's
    // own bound (BufferBytes) is the backstop.
    return Step::kNeedMore;
  }
  if (ec) return FailFromParser(ec);
  if (!parser_->is_header_done()) return Step::kNeedMore;
  return CheckHead();
}

// Framing the gateway refuses even where Beast is lenient: exactly one Transfer-Encoding field
// whose value is exactly `chunked` (a `gzip, chunked` body would be stored undecoded, and
// `chunked, identity` was read as an empty body), never together with Content-Length (request
// smuggling through a front proxy that prefers the other header).
RequestReader::Step RequestReader::CheckHead() {
  const Head& h = parser_->get();
  size_t count = 0, te_fields = 0, cl_fields = 0;
  bool te_chunked_only = true;
  for (const auto& f : h) {
    ++count;
    if (f.name() == bhttp::field::transfer_encoding) {
      ++te_fields;
      std::string_view v = TrimOws(std::string_view(f.value().data(), f.value().size()));
      if (!boost::beast::iequals(boost::beast::string_view(v.data(), v.size()), "chunked"))
        te_chunked_only = false;
    } else if (f.name() == bhttp::field::content_length) {
      ++cl_fields;
    }
  }
  if (count > limits_.max_header_count)
    return Fail(431, "too_many_header_fields", kHeaderTooLargeBody);
  if (te_fields > 0 && cl_fields > 0)
    return Fail(400, "content_length_with_transfer_encoding", kMalformedBody);
  if (te_fields > 1 || (te_fields == 1 && !te_chunked_only))
    return Fail(400, "transfer_encoding_not_chunked", kMalformedBody);
  phase_ = Phase::kHeaderDone;
  return Step::kHeader;
}

RequestReader::Step RequestReader::ContinueBody() {
  if (phase_ != Phase::kHeaderDone) return Parse();
  auto length = parser_->content_length();
  if (length && *length > limits_.max_body_bytes) return Fail(413, "body_too_large", "");
  parser_->body_limit(static_cast<std::uint64_t>(limits_.max_body_bytes));
  parser_->eager(true);
  phase_ = Phase::kBody;
  return ParseBody();
}

RequestReader::Step RequestReader::ParseBody() {
  while (!parser_->is_done()) {
    if (buffer_.size() == 0) return Step::kNeedMore;
    error_code ec;
    size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    body_phase_bytes_ += used;
    if (ec && ec != bhttp::error::need_more) return FailFromParser(ec);
    // Framing overhead so far: what the parser consumed that is not body, plus what waits in the
    // buffer for the rest of a chunk-size line or of the trailer section (before the message
    // is complete every buffered byte belongs to it).
    const uint64_t body = parser_->get().body().size();
    const uint64_t metadata =
        (body_phase_bytes_ > body ? body_phase_bytes_ - body : 0) +
        (parser_->is_done() ? 0 : buffer_.size());
    if (metadata > limits_.ChunkMetadataBytes())
      return Fail(431, "chunk_metadata_too_large", kHeaderTooLargeBody);
    if (ec == bhttp::error::need_more) return Step::kNeedMore;
    if (used == 0 && !parser_->is_done()) return Step::kNeedMore;
  }
  phase_ = Phase::kComplete;
  return Step::kComplete;
}

}  // namespace vv::http
