// Unit tests of the listener's request reader: byte budget (head, body, chunked framing),
// Transfer-Encoding policy, pipelining, partial reads.
#include "http/request_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "http/server.h"

namespace vv::http {
namespace {

using Step = RequestReader::Step;

ReaderLimits Small() {
  ReaderLimits l;
  l.max_header_bytes = 1024;
  l.max_header_count = 8;
  l.max_body_bytes = 4096;
  l.max_chunk_metadata_bytes = 512;
  return l;
}

// Feeds `bytes` in reads of at most `step` bytes until the reader leaves kNeedMore (continuing
// past the head). Returns the final step; *fed = bytes consumed from `bytes`.
Step Feed(RequestReader& r, const std::string& bytes, size_t step = 7, size_t* fed = nullptr) {
  size_t pos = 0;
  Step s = r.HasBuffered() ? r.Parse() : Step::kNeedMore;
  for (;;) {
    if (s == Step::kHeader) {
      s = r.ContinueBody();
      continue;
    }
    if (s != Step::kNeedMore || pos >= bytes.size()) break;
    auto buf = r.PrepareRead();
    size_t n = std::min({buf.size(), step, bytes.size() - pos});
    std::memcpy(buf.data(), bytes.data() + pos, n);
    pos += n;
    s = r.Commit(n);
  }
  if (fed) *fed = pos;
  return s;
}

TEST(RequestReaderTest, ContentLengthBodyAndPipelinedNextRequest) {
  RequestReader r(Small());
  r.Begin();
  const std::string two =
      "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(Feed(r, two, 1000), Step::kComplete);
  EXPECT_EQ(r.TakeBody(), "hello");
  r.Begin();
  ASSERT_TRUE(r.HasBuffered());
  EXPECT_EQ(Feed(r, ""), Step::kComplete);
  EXPECT_EQ(std::string(r.head().target()), "/b");
}

TEST(RequestReaderTest, ChunkedBodyWithSmallExtensionsAndTrailerAssembled) {
  RequestReader r(Small());
  r.Begin();
  EXPECT_EQ(Feed(r, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n"
                    "1\r\n!\r\n0\r\nX-T: 1\r\n\r\n"),
            Step::kComplete);
  EXPECT_EQ(r.TakeBody(), "hello!");
}

TEST(RequestReaderTest, HugeChunkExtensionIs431AndReadsLittle) {
  RequestReader r(Small());
  r.Begin();
  size_t fed = 0;
  const std::string req = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;" +
                          std::string(1 << 20, 'e');
  EXPECT_EQ(Feed(r, req, 4096, &fed), Step::kFailed);
  EXPECT_EQ(r.failure().status, 431);
  EXPECT_STREQ(r.failure().reason, "chunk_metadata_too_large");
  EXPECT_LT(fed, 8192u);  // stopped reading: 512 B of framing allowed, plus one read
}

TEST(RequestReaderTest, HugeTrailerSectionIs431) {
  RequestReader r(Small());
  r.Begin();
  std::string req = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n";
  for (int i = 0; i < 200; ++i) req += "X-Pad: aaaaaaaaaa\r\n";
  EXPECT_EQ(Feed(r, req), Step::kFailed);
  EXPECT_EQ(r.failure().status, 431);
  EXPECT_STREQ(r.failure().reason, "chunk_metadata_too_large");
}

TEST(RequestReaderTest, ManySmallChunksCountTheirFramingTogether) {
  RequestReader r(Small());
  r.Begin();
  std::string req = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 100; ++i) req += "1;x=yyyyyyyy\r\nz\r\n";  // 16 B framing per 1 B body
  req += "0\r\n\r\n";
  EXPECT_EQ(Feed(r, req), Step::kFailed);
  EXPECT_STREQ(r.failure().reason, "chunk_metadata_too_large");
}

TEST(RequestReaderTest, BodyLimitsAre413) {
  RequestReader a(Small());
  a.Begin();
  EXPECT_EQ(Feed(a, "POST / HTTP/1.1\r\nContent-Length: 4097\r\n\r\n"), Step::kFailed);
  EXPECT_EQ(a.failure().status, 413);
  RequestReader b(Small());
  b.Begin();
  EXPECT_EQ(Feed(b, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1001\r\n" +
                        std::string(4097, 'x')),
            Step::kFailed);
  EXPECT_EQ(b.failure().status, 413);
}

TEST(RequestReaderTest, OversizedHeadAndTooManyFieldsAre431) {
  RequestReader a(Small());
  a.Begin();
  EXPECT_EQ(Feed(a, "GET / HTTP/1.1\r\nX: " + std::string(4000, 'a') + "\r\n\r\n", 512),
            Step::kFailed);
  EXPECT_EQ(a.failure().status, 431);
  RequestReader b(Small());
  b.Begin();
  std::string req = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 9; ++i) req += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(Feed(b, req + "\r\n"), Step::kFailed);
  EXPECT_STREQ(b.failure().reason, "too_many_header_fields");
}

TEST(RequestReaderTest, TransferEncodingOtherThanChunkedIsRefused) {
  const char* kBad[] = {
      "Transfer-Encoding: gzip, chunked\r\n",
      "Transfer-Encoding: chunked, identity\r\n",
      "Transfer-Encoding: identity\r\n",
      "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
      "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
      "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
      "Content-Length: 5\r\nTransfer-Encoding: identity\r\n",
  };
  for (const char* te : kBad) {
    RequestReader r(Small());
    r.Begin();
    EXPECT_EQ(Feed(r, std::string("POST / HTTP/1.1\r\n") + te + "\r\n5\r\nhello\r\n0\r\n\r\n"),
              Step::kFailed)
        << te;
    EXPECT_EQ(r.failure().status, 400) << te;
    EXPECT_STREQ(r.failure().body, kMalformedBody) << te;
  }
  RequestReader ok(Small());
  ok.Begin();
  EXPECT_EQ(Feed(ok, "POST / HTTP/1.1\r\nTransfer-Encoding:  Chunked \r\n\r\n0\r\n\r\n"),
            Step::kComplete);
}

TEST(RequestReaderTest, BudgetAndBufferFollowTheServerOptions) {
  ServerOptions o;
  o.max_header_bytes = 2000;
  o.max_body_bytes = 10000;
  ReaderLimits l = ReaderLimitsFor(o);
  EXPECT_EQ(l.ChunkMetadataBytes(), 2000u);
  EXPECT_EQ(l.RequestBudget(), 2000u + 10000u + 2000u);
  EXPECT_LT(l.BufferBytes(), 2000u + 8192u);
}

}  // namespace
}  // namespace vv::http
