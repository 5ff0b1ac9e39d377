// Strict parsing of the cognitive request bodies: extra/missing keys, types, lengths, limits.

#include "schema/cognitive_requests.h"

#include <gtest/gtest.h>

namespace vv::schema {
namespace {

json::Value GraphBody() {
  return json::Parse(
             "{\"operator_id\":\"op-001\",\"tenant_id\":\"10000000-0000-0000-0000-000000000001\","
             "\"execution_fingerprint\":\"" + std::string(64, 'A') + "\",\"timestamp\":1772107200,"
             "\"nonce\":\"nonce-graph-1\",\"schema_version\":\"execution.graph.v1\","
             "\"attestation_measurement_hash\":\"" + std::string(64, 'b') + "\","
             "\"graph\":{\"target_urn\":\"urn:target:ip:10.0.0.5\",\"nodes\":[1,2,3]}}")
      .value();
}

TEST(CognitiveRequestsTest, ValidGraphIsParsedAndNormalised) {
  auto r = ParseExecutionGraphRequest(GraphBody());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->execution_fingerprint, std::string(64, 'a'));
  EXPECT_EQ(r->target_urn, "urn:target:ip:10.0.0.5");
  EXPECT_EQ(r->node_count, 3);
}

TEST(CognitiveRequestsTest, GraphRejectsExtraMissingAndBadFields) {
  auto with = [](const char* key, json::Value v) {
    json::Value b = GraphBody();
    b.Set(key, std::move(v));
    return ParseExecutionGraphRequest(b);
  };
  EXPECT_FALSE(with("extra", json::Value(1)).ok());
  EXPECT_FALSE(with("timestamp", json::Value("1772107200")).ok());
  EXPECT_FALSE(with("nonce", json::Value("short")).ok());
  EXPECT_FALSE(with("tenant_id", json::Value("not-a-tenant")).ok());
  EXPECT_FALSE(with("execution_fingerprint", json::Value(std::string(64, 'z'))).ok());
  EXPECT_FALSE(with("graph", json::Value("x")).ok());
  EXPECT_FALSE(with("schema_version", json::Value(std::string(33, 'v'))).ok());
  json::Value missing = GraphBody();
  missing.Erase("graph");
  EXPECT_FALSE(ParseExecutionGraphRequest(missing).ok());
  EXPECT_FALSE(ParseExecutionGraphRequest(json::Value(json::Array{})).ok());
}

TEST(CognitiveRequestsTest, GraphSizeLimitsAreResourceExhausted) {
  json::Value b = GraphBody();
  json::Value nodes = json::Value::MakeArray();
  for (size_t i = 0; i <= kMaxGraphNodes; ++i) nodes.Push(json::Value(1));
  json::Value g = json::Value::MakeObject();
  g.Set("nodes", std::move(nodes));
  b.Set("graph", std::move(g));
  auto r = ParseExecutionGraphRequest(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
}

TEST(CognitiveRequestsTest, MissingTargetUrnIsUnknown) {
  json::Value b = GraphBody();
  b.Set("graph", json::Value::MakeObject());
  auto r = ParseExecutionGraphRequest(b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->target_urn, "urn:target:unknown");
  EXPECT_EQ(r->node_count, -1);
}

TEST(CognitiveRequestsTest, FeedbackQueryDefaultsAndLimits) {
  auto q = ParseFeedbackQuery(json::Parse("{\"operator_id\":\"op-001\",\"tenant_id\":"
                                          "\"10000000-0000-0000-0000-000000000001\","
                                          "\"timestamp\":5,\"nonce\":\"nonce-q-001\"}")
                                  .value());
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->limit, 100);
  for (const char* bad : {"0", "1001", "\"5\""}) {
    auto b = json::Parse(std::string("{\"operator_id\":\"op-001\",\"tenant_id\":"
                                     "\"10000000-0000-0000-0000-000000000001\","
                                     "\"timestamp\":5,\"nonce\":\"nonce-q-001\",\"limit\":") +
                         bad + "}");
    EXPECT_FALSE(ParseFeedbackQuery(*b).ok()) << bad;
  }
}

}  // namespace
}  // namespace vv::schema
