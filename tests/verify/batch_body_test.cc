// SplitBatchBody: NDJSON line boundaries of the batch endpoint's body. Empty, JSON array and
// too-many-events outcomes; "\r" stays part of a line; one final "\n" is optional.

#include "verify/batch_body.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vv::verify {
namespace {

std::vector<std::string> Lines(const BatchLines& b) {
  return std::vector<std::string>(b.lines.begin(), b.lines.end());
}

TEST(SplitBatchBodyTest, EmptyBody) {
  BatchLines b = SplitBatchBody("", 10);
  EXPECT_EQ(b.result, BatchSplit::kEmpty);
  EXPECT_TRUE(b.lines.empty());
}

TEST(SplitBatchBodyTest, SingleNewlineIsEmpty) {
  EXPECT_EQ(SplitBatchBody("\n", 10).result, BatchSplit::kEmpty);
}

TEST(SplitBatchBodyTest, TwoNewlinesAreTwoEmptyLinesNotEmpty) {
  BatchLines b = SplitBatchBody("\n\n", 10);
  EXPECT_EQ(b.result, BatchSplit::kOk);
  EXPECT_EQ(Lines(b), (std::vector<std::string>{"", ""}));
}

TEST(SplitBatchBodyTest, OneLineWithAndWithoutTheFinalNewline) {
  EXPECT_EQ(Lines(SplitBatchBody("{\"a\":1}", 10)), std::vector<std::string>{"{\"a\":1}"});
  BatchLines b = SplitBatchBody("{\"a\":1}\n", 10);
  EXPECT_EQ(b.result, BatchSplit::kOk);
  EXPECT_EQ(Lines(b), std::vector<std::string>{"{\"a\":1}"});
}

TEST(SplitBatchBodyTest, OnlyOneFinalNewlineIsOptional) {
  // The second final "\n" ends an empty last line (which then fails as JSON, not silently).
  EXPECT_EQ(Lines(SplitBatchBody("{}\n\n", 10)), (std::vector<std::string>{"{}", ""}));
}

TEST(SplitBatchBodyTest, SeveralLinesInOrder) {
  BatchLines b = SplitBatchBody("{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n", 10);
  EXPECT_EQ(b.result, BatchSplit::kOk);
  EXPECT_EQ(Lines(b), (std::vector<std::string>{"{\"n\":1}", "{\"n\":2}", "{\"n\":3}"}));
}

TEST(SplitBatchBodyTest, CarriageReturnStaysPartOfTheLine) {
  EXPECT_EQ(Lines(SplitBatchBody("{}\r\n{}\r\n", 10)), (std::vector<std::string>{"{}\r", "{}\r"}));
}

TEST(SplitBatchBodyTest, BlankLineInTheMiddleIsKept) {
  EXPECT_EQ(Lines(SplitBatchBody("{}\n\n{}", 10)), (std::vector<std::string>{"{}", "", "{}"}));
}

TEST(SplitBatchBodyTest, LinesAreViewsIntoTheBody) {
  std::string body = "{}\n[1]";
  BatchLines b = SplitBatchBody(body, 10);
  ASSERT_EQ(b.lines.size(), 2u);
  EXPECT_EQ(b.lines[0].data(), body.data());
  EXPECT_EQ(b.lines[1].data(), body.data() + 3);
}

TEST(SplitBatchBodyTest, JsonArrayBodyIsRefused) {
  BatchLines b = SplitBatchBody("[{\"a\":1},{\"a\":2}]", 10);
  EXPECT_EQ(b.result, BatchSplit::kJsonArray);
  EXPECT_TRUE(b.lines.empty());
}

TEST(SplitBatchBodyTest, JsonArrayAfterLeadingWhitespaceIsRefused) {
  EXPECT_EQ(SplitBatchBody(" \t\r\n\n[{}]\n", 10).result, BatchSplit::kJsonArray);
}

TEST(SplitBatchBodyTest, ArrayOnASecondLineIsJustALine) {
  BatchLines b = SplitBatchBody("{}\n[1]", 10);
  EXPECT_EQ(b.result, BatchSplit::kOk);
  EXPECT_EQ(Lines(b), (std::vector<std::string>{"{}", "[1]"}));
}

TEST(SplitBatchBodyTest, WhitespaceOnlyBodyIsOneLine) {
  BatchLines b = SplitBatchBody("   ", 10);
  EXPECT_EQ(b.result, BatchSplit::kOk);
  EXPECT_EQ(Lines(b), std::vector<std::string>{"   "});
}

TEST(SplitBatchBodyTest, ExactlyMaxEventsIsAccepted) {
  BatchLines b = SplitBatchBody("{}\n{}\n{}\n", 3);
  EXPECT_EQ(b.result, BatchSplit::kOk);
  EXPECT_EQ(b.lines.size(), 3u);
}

TEST(SplitBatchBodyTest, OneMoreThanMaxEventsIsTooMany) {
  BatchLines b = SplitBatchBody("{}\n{}\n{}\n{}", 3);
  EXPECT_EQ(b.result, BatchSplit::kTooManyEvents);
  EXPECT_TRUE(b.lines.empty());
}

TEST(SplitBatchBodyTest, TrailingEmptyLineCountsAsAnEvent) {
  EXPECT_EQ(SplitBatchBody("{}\n{}\n{}\n\n", 3).result, BatchSplit::kTooManyEvents);
}

TEST(SplitBatchBodyTest, HugeNumberOfLinesStopsAtTheLimit) {
  std::string body;
  for (int i = 0; i < 100000; ++i) body += "{}\n";
  BatchLines b = SplitBatchBody(body, 1000);
  EXPECT_EQ(b.result, BatchSplit::kTooManyEvents);
  EXPECT_TRUE(b.lines.empty());
}

TEST(SplitBatchBodyTest, ZeroMaxEventsRefusesAnyNonEmptyBody) {
  EXPECT_EQ(SplitBatchBody("{}", 0).result, BatchSplit::kTooManyEvents);
  EXPECT_EQ(SplitBatchBody("", 0).result, BatchSplit::kEmpty);
}

}  // namespace
}  // namespace vv::verify
