#include "common/logging.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <sstream>
#include <string>

#include "json/json.h"

namespace vv::logging {
namespace {

// Routes the default logger into a string stream with the project formatter.
class Capture {
 public:
  Capture(Format format) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    prev_ = spdlog::default_logger();
    spdlog::set_default_logger(logger);
    spdlog::set_formatter(MakeFormatter("vv-test", format));
    spdlog::set_level(spdlog::level::info);
  }
  ~Capture() { spdlog::set_default_logger(prev_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> prev_;
};

TEST(LogLevelTest, AcceptsOnlyKnownLevels) {
  EXPECT_EQ(*ParseLevel("debug"), spdlog::level::debug);
  EXPECT_EQ(*ParseLevel("warn"), spdlog::level::warn);
  EXPECT_EQ(*ParseLevel("error"), spdlog::level::err);
  EXPECT_EQ(*ParseLevel("off"), spdlog::level::off);
  // spdlog::level::from_str("verbose") is "off": the defect this refuses.
  auto bad = ParseLevel("verbose");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("trace, debug, info, warn, error"), std::string::npos);
  EXPECT_FALSE(ParseLevel("").ok());
  EXPECT_FALSE(ParseLevel("INFO ").ok());
  auto hostile = ParseLevel(std::string("x\n\x1b[31m", 7));
  ASSERT_FALSE(hostile.ok());
  EXPECT_EQ(hostile.status().message().find('\n'), std::string::npos);
  EXPECT_EQ(hostile.status().message().find('\x1b'), std::string::npos);
}

TEST(LogFormatTest, TextOrJson) {
  EXPECT_EQ(*ParseFormat("json"), Format::kJson);
  EXPECT_EQ(*ParseFormat("text"), Format::kText);
  auto bad = ParseFormat("yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("text, json"), std::string::npos);
}

TEST(LogEscapeTest, JsonEscapesControlQuotesAndInvalidUtf8) {
  std::string out;
  AppendJsonEscaped(std::string("a\"b\\c\nd\x01\xff\xc3\xa9", 11), &out);
  EXPECT_EQ(out, "a\\\"b\\\\c\\nd\\u0001\\ufffd\xc3\xa9");
}

TEST(LogEscapeTest, TextEscapesControlBytes) {
  std::string out;
  AppendTextEscaped(std::string("x\ny\" \x1b[2J\xfe", 10), &out);
  EXPECT_EQ(out, "x\\x0ay\\\" \\x1b[2J\\xfe");
}

TEST(LogEscapeTest, BoundedWithoutSplittingCodePoints) {
  std::string big(kMaxFieldBytes - 1, 'a');
  big += "\xc3\xa9tail";  // the 2-byte e-acute straddles the bound
  std::string out;
  AppendJsonEscaped(big, &out);
  EXPECT_EQ(out, std::string(kMaxFieldBytes - 1, 'a') + "...");
}

TEST(LogFormatterTest, JsonLineCarriesFieldsAndParses) {
  Capture cap(Format::kJson);
  Fields f;
  f.request_id = "7b0e5f7e-0000-4000-8000-000000000001";
  f.identity = "evil\"},\"level\":\"critical\n";
  f.reason = "bad_signature";
  LogWithFields(spdlog::level::info, "telemetry rejected", f);
  spdlog::info("plain {}", 1);
  const std::string out = cap.text();
  const size_t nl = out.find('\n');
  ASSERT_NE(nl, std::string::npos);
  auto v = json::Parse(out.substr(0, nl));
  ASSERT_TRUE(v.ok()) << out;
  EXPECT_EQ(v->Find("level")->as_string(), "info");
  EXPECT_EQ(v->Find("component")->as_string(), "vv-test");
  EXPECT_EQ(v->Find("msg")->as_string(), "telemetry rejected");
  EXPECT_EQ(v->Find("request_id")->as_string(), f.request_id);
  EXPECT_EQ(v->Find("identity")->as_string(), f.identity);
  EXPECT_EQ(v->Find("reason")->as_string(), "bad_signature");
  EXPECT_NE(v->Find("ts")->as_string().find('T'), std::string::npos);
  // The next record has no fields: they do not leak from the previous call.
  auto second = json::Parse(out.substr(nl + 1, out.find('\n', nl + 1) - nl - 1));
  ASSERT_TRUE(second.ok()) << out;
  EXPECT_EQ(second->Find("msg")->as_string(), "plain 1");
  EXPECT_EQ(second->Find("request_id"), nullptr);
  // Exactly two lines: the hostile identity did not break the line.
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2);
}

TEST(LogFormatterTest, TextLineQuotesAndEscapesFields) {
  Capture cap(Format::kText);
  Fields f;
  f.request_id = "r1";
  f.identity = "a\nb";
  f.reason = "schema_invalid";
  LogWithFields(spdlog::level::info, "telemetry rejected", f);
  const std::string out = cap.text();
  EXPECT_NE(out.find(" info vv-test telemetry rejected request_id=\"r1\" identity=\"a\\x0ab\" "
                     "reason=\"schema_invalid\"\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
}

TEST(BackendStateLogTest, LogsTransitionsOnly) {
  Capture cap(Format::kText);
  BackendStateLog b;
  EXPECT_TRUE(b.Observe("redis", Status::Ok()));
  EXPECT_FALSE(b.Observe("redis", Status::Ok()));
  EXPECT_TRUE(b.Observe("redis", Status::Unavailable("connect: Connection refused")));
  EXPECT_FALSE(b.Observe("redis", Status::Unavailable("connect: Connection refused")));
  EXPECT_FALSE(b.Observe("redis", Status::Unavailable("other error")));
  EXPECT_TRUE(b.Observe("redis", Status::Ok()));
  EXPECT_TRUE(b.Observe("nats", Status::Unavailable("no server")));
  const std::string out = cap.text();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 4) << out;
  EXPECT_NE(out.find("warn vv-test backend redis down: UNAVAILABLE: connect: Connection refused"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("info vv-test backend redis up again"), std::string::npos);
  EXPECT_NE(out.find("backend nats down"), std::string::npos);
}

}  // namespace
}  // namespace vv::logging
