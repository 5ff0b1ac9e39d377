// app/router.h (issue 13): the endpoint table, and the gateway's handler routing through it -
// the telemetry service's rows plus the rows other services register (HandlerDeps), each
// with its own method policy, head media type and rejection event.

#include "app/router.h"

#include <gtest/gtest.h>

#include "app/gateway_fixture.h"

namespace vv::app {
namespace {

Endpoint Row(std::string_view path, bool router_refuses_other_methods, int* calls) {
  return {path, "other.rejected", "application/x-other", "Other endpoint only accepts x-other",
          router_refuses_other_methods, [calls](http::Request, http::Responder r) {
            ++*calls;
            r({200, "{}", "application/json"});
          }};
}

TEST(RouterTest, FindsRowsByExactPath) {
  int calls = 0;
  Router r;
  r.Add(Row("/a", true, &calls));
  r.Add(std::vector<Endpoint>{Row("/b", false, &calls)});
  ASSERT_NE(r.Find("/a"), nullptr);
  EXPECT_EQ(r.Find("/a")->path, "/a");
  EXPECT_FALSE(r.Find("/b")->router_refuses_other_methods);
  EXPECT_EQ(r.Find("/a/"), nullptr);
  EXPECT_EQ(r.Find("/A"), nullptr);
  EXPECT_EQ(r.Find(""), nullptr);
  EXPECT_EQ(r.endpoints().size(), 2u);
}

TEST(RouterDeathTest, APathRegisteredTwiceAborts) {
  int calls = 0;
  Router r;
  r.Add(Row("/a", true, &calls));
  EXPECT_DEATH(r.Add(Row("/a", false, &calls)), "registered twice");
}

class GatewayRoutingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    service_ = std::make_unique<GatewayService>(fakes_.Deps(testkit::ProducerConfig()));
    std::vector<Endpoint> rows;
    rows.push_back(Row("/strict", true, &strict_calls_));
    rows.push_back(Row("/own-methods", false, &own_calls_));
    handler_ = std::make_unique<GatewayHandler>(service_->HandlerDeps(std::move(rows)));
  }
  http::Request Req(const std::string& method, const std::string& path) {
    http::Request r = testkit::ProducerPost(path, "application/x-other");
    r.method = method;
    r.headers.emplace_back("content-length", "2");
    r.content_length = 2;
    r.body = "{}";
    return r;
  }
  http::Response Send(http::Request r) {
    return testkit::SendSync(*handler_, std::move(r));
  }

  testkit::GatewayFakes fakes_;
  testing::RecordingAuditSink& audit_ = fakes_.audit;
  int strict_calls_ = 0, own_calls_ = 0;
  std::unique_ptr<GatewayService> service_;
  std::unique_ptr<GatewayHandler> handler_;  // the listener's view: routes to service_
};

TEST_F(GatewayRoutingTest, RegisteredRowsAreRoutedToTheirHandler) {
  EXPECT_EQ(Send(Req("POST", "/strict")).status, 200);
  EXPECT_EQ(Send(Req("POST", "/own-methods?x=1")).status, 200);  // the query is not the path
  EXPECT_EQ(strict_calls_, 1);
  EXPECT_EQ(own_calls_, 1);
}

TEST_F(GatewayRoutingTest, MethodPolicyIsPerRow) {
  http::Response r = Send(Req("GET", "/strict"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.body, R"({"detail":"Method Not Allowed"})");
  EXPECT_EQ(strict_calls_, 0);
  ASSERT_FALSE(audit_.records().empty());
  EXPECT_EQ(audit_.records().back().event_type, "http.rejected");
  // A row that answers methods itself gets the GET.
  EXPECT_EQ(Send(Req("GET", "/own-methods")).status, 200);
  EXPECT_EQ(own_calls_, 1);
}

TEST_F(GatewayRoutingTest, UnknownPathIs404AndTelemetryRowsAreAlwaysThere) {
  EXPECT_EQ(Send(Req("POST", "/internal/v1/cognitive/execution-graph")).status, 404);
  EXPECT_EQ(Send(Req("GET", "/internal/v1/telemetry")).status, 405);
  EXPECT_EQ(Send(Req("GET", "/internal/v1/telemetry/batch")).status, 405);
}

TEST_F(GatewayRoutingTest, TheHeadIsCheckedAgainstTheRowsMediaTypeAndAuditedUnderItsEvent) {
  http::Request head = Req("POST", "/strict");
  head.body.clear();
  EXPECT_FALSE(handler_->OnHead(head).has_value());  // right type, pinned identity
  head.headers[0].second = "application/json";
  auto early = handler_->OnHead(head);
  ASSERT_TRUE(early.has_value());
  EXPECT_EQ(early->status, 415);
  EXPECT_EQ(early->body, R"({"detail":"Other endpoint only accepts x-other"})");
  ASSERT_FALSE(audit_.records().empty());
  EXPECT_EQ(audit_.records().back().event_type, "other.rejected");
  EXPECT_EQ(audit_.records().back().details.Find("stage")->as_string(), "request_head");
  // A path without a row is left to Handle (404 there).
  EXPECT_FALSE(handler_->OnHead(Req("POST", "/nowhere")).has_value());
}

}  // namespace
}  // namespace vv::app
