// POST /internal/v1/telemetry/batch (issue 15 item 2) with in-process fakes and a FakeClock:
// per-event outcomes of a mixed batch (207), one signature over the whole body, one nonce per
// batch (replay -> 409), dedupe per (tenant, event_id) within and across batches, one audit
// record per event, rate limit counted in events, limits (413), format refusals (415/422),
// and fail-closed whole-batch answers (queue down, audit down).

#include <gtest/gtest.h>

#include "app/gateway_service.h"
#include "app/gateway_fixture.h"

namespace vv::app {
namespace {

using testing::kTenant1;
using testing::kTenant2;

using testkit::kNow;
using testkit::kPin;

class GatewayBatchTest : public ::testing::Test {
 protected:
  void Build(int64_t rate = 1000, size_t max_events = 10) {
    auto cfg = testkit::ProducerConfig(rate);
    cfg->batch_max_events = max_events;
    service_ = std::make_unique<GatewayService>(fakes_.Deps(cfg));
    handler_ = std::make_unique<GatewayHandler>(service_->HandlerDeps());
  }
  void SetUp() override { Build(); }

  // One line: the single endpoint's body for (ts, nonce, event_id).
  static std::string Line(const std::string& nonce, const std::string& event_id,
                          int64_t ts = kNow) {
    return json::Canonical(testing::MakeTelemetryBody(ts, nonce, event_id));
  }
  static std::string Ndjson(const std::vector<std::string>& lines) {
    std::string body;
    for (const auto& l : lines) body += l + "\n";
    return body;
  }
  http::Request Batch(const std::string& body, const std::string& nonce, int64_t ts = kNow,
                      std::string sig = "") {
    if (sig.empty()) sig = testing::SignB64(ts, nonce, body);
    return testkit::SignedProducerPost("/internal/v1/telemetry/batch", "application/x-ndjson", ts,
                                       nonce, sig, body);
  }
  http::Response Send(http::Request r) { return testkit::SendSync(*handler_, std::move(r)); }
  static json::Value Results(const http::Response& r) {
    auto v = json::Parse(r.body);
    EXPECT_TRUE(v.ok() && v->Find("results") != nullptr) << r.body;
    return v.ok() && v->Find("results") ? *v->Find("results") : json::Value::MakeArray();
  }
  static std::string Detail(const http::Response& r) { return testkit::Detail(r); }
  static int64_t Int(const json::Value& obj, const char* key) {
    const json::Value* v = obj.Find(key);
    return v != nullptr && v->is_int() ? v->as_int64().value_or(-1) : -1;
  }
  std::vector<testing::AuditRecord> AuditOf(const std::string& type) {
    std::vector<testing::AuditRecord> out;
    for (auto& a : audit_.records())
      if (a.event_type == type) out.push_back(a);
    return out;
  }

  testkit::GatewayFakes fakes_;
  testing::FakeClock& clock_ = fakes_.clock;
  testing::RecordingPublisher& publisher_ = fakes_.publisher;
  testing::RecordingAuditSink& audit_ = fakes_.audit;
  std::unique_ptr<GatewayService> service_;
  std::unique_ptr<GatewayHandler> handler_;  // the listener's view: routes to service_
};

TEST_F(GatewayBatchTest, MixedBatchGetsOneOutcomePerEventInOrder) {
  const std::string n = "nonce-batch-0001";
  auto wrong_tenant = testing::MakeTelemetryBody(kNow, n, "evt-x");
  wrong_tenant.Set("operator_id", "op-002");  // op-002 maps to tenant 2, body says tenant 1
  auto other_nonce = Line("nonce-other-0001", "evt-y");  // not the signed header's nonce
  auto r = Send(Batch(Ndjson({Line(n, "evt-1"), "{not json", json::Canonical(wrong_tenant),
                              Line(n, "evt-2"), other_nonce, Line(n, "evt-1")}),
                      n));
  ASSERT_EQ(r.status, 207) << r.body;
  auto body = json::Parse(r.body).value();
  EXPECT_EQ(Int(body, "accepted"), 3);
  EXPECT_EQ(Int(body, "rejected"), 3);
  const json::Value all = Results(r);
  const auto& res = all.as_array();
  ASSERT_EQ(res.size(), 6u);
  for (size_t i = 0; i < res.size(); ++i) EXPECT_EQ(Int(res[i], "index"), int64_t(i));
  EXPECT_EQ(Int(res[0], "status"), 202);
  EXPECT_EQ(res[0].Find("event_id")->as_string(), "evt-1");
  EXPECT_EQ(Int(res[1], "status"), 422);
  EXPECT_EQ(res[1].Find("detail")->as_string(), "Invalid JSON payload");
  EXPECT_EQ(Int(res[2], "status"), 401);
  EXPECT_EQ(res[2].Find("detail")->as_string(), "Signed metadata mapping mismatch");
  EXPECT_EQ(Int(res[3], "status"), 202);
  EXPECT_EQ(Int(res[4], "status"), 401);
  EXPECT_EQ(res[4].Find("detail")->as_string(), "Body nonce mismatch with signed header");
  EXPECT_EQ(Int(res[5], "status"), 202);
  EXPECT_TRUE(res[5].Find("duplicate")->as_bool()) << "same (tenant, event_id) earlier";
  // Exactly once in the store; the invalid JSON line is dead-lettered with its raw bytes.
  ASSERT_EQ(publisher_.ingest().size(), 2u);
  EXPECT_EQ(publisher_.ingest()[0].dedupe_id, std::string(kTenant1) + "/evt-1");
  EXPECT_EQ(publisher_.ingest()[1].dedupe_id, std::string(kTenant1) + "/evt-2");
  ASSERT_EQ(publisher_.dlq().size(), 1u);
  EXPECT_EQ(publisher_.dlq()[0].payload.Find("raw_body")->as_string(), "{not json");
  // One audit record per event, each with its own request_id and the batch's id and index.
  auto acc = AuditOf("telemetry.accepted");
  auto rej = AuditOf("telemetry.rejected");
  ASSERT_EQ(acc.size(), 3u);
  ASSERT_EQ(rej.size(), 3u);
  const std::string batch_id = body.Find("batch_id")->as_string();
  EXPECT_EQ(acc[0].details.Find("request_id")->as_string(), res[0].Find("request_id")->as_string());
  EXPECT_EQ(acc[0].details.Find("batch_id")->as_string(), batch_id);
  EXPECT_EQ(acc[0].details.Find("event_id")->as_string(), "evt-1");
  EXPECT_TRUE(acc[2].details.Find("duplicate")->as_bool());
  EXPECT_EQ(rej[0].details.Find("reason")->as_string(), "invalid_json");
  EXPECT_EQ(rej[0].details.Find("dlq")->as_string(), "stored");
  EXPECT_EQ(Int(rej[0].details, "batch_index"), 1);
  EXPECT_EQ(rej[1].details.Find("reason")->as_string(), "signed_metadata_mismatch");
  EXPECT_EQ(rej[2].details.Find("reason")->as_string(), "body_nonce_mismatch");
  EXPECT_NE(acc[0].details.Find("request_id")->as_string(),
            acc[1].details.Find("request_id")->as_string());
}

TEST_F(GatewayBatchTest, EventsAlreadyStoredAreAcceptedAsDuplicatesAcrossBatches) {
  ASSERT_EQ(Send(Batch(Ndjson({Line("nonce-a-000001", "evt-1")}), "nonce-a-000001")).status, 207);
  auto r = Send(Batch(Ndjson({Line("nonce-b-000001", "evt-1"), Line("nonce-b-000001", "evt-2")}),
                      "nonce-b-000001"));
  ASSERT_EQ(r.status, 207);
  const json::Value all = Results(r);
  const auto& res = all.as_array();
  EXPECT_TRUE(res[0].Find("duplicate") != nullptr && res[0].Find("duplicate")->as_bool());
  EXPECT_EQ(res[1].Find("duplicate"), nullptr);
  EXPECT_EQ(publisher_.ingest().size(), 2u);
  EXPECT_EQ(service_->counters().duplicates.load(), 1u);
}

TEST_F(GatewayBatchTest, SignatureCoversTheWholeBody) {
  const std::string n = "nonce-sig-00001";
  std::string body = Ndjson({Line(n, "evt-1"), Line(n, "evt-2")});
  std::string sig = testing::SignB64(kNow, n, body);
  std::string tampered = Ndjson({Line(n, "evt-1")});  // a line dropped after signing
  auto r = Send(Batch(tampered, n, kNow, sig));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Detail(r), "Invalid telemetry signature");
  EXPECT_TRUE(publisher_.ingest().empty());
  EXPECT_EQ(AuditOf("telemetry.rejected").back().details.Find("reason")->as_string(),
            "bad_signature");
  // Unsigned traffic never burns the nonce: the genuine batch still goes through.
  EXPECT_EQ(Send(Batch(body, n, kNow, sig)).status, 207);
}

TEST_F(GatewayBatchTest, ReplayOfTheWholeBatchIs409) {
  const std::string n = "nonce-replay-001";
  auto req = Batch(Ndjson({Line(n, "evt-1"), Line(n, "evt-2")}), n);
  auto again = req;
  ASSERT_EQ(Send(std::move(req)).status, 207);
  auto r = Send(std::move(again));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Detail(r), "Replay detected: nonce already used");
  EXPECT_EQ(publisher_.ingest().size(), 2u);
}

TEST_F(GatewayBatchTest, StaleTimestampIsRefusedForTheWholeBatch) {
  const int64_t old = kNow - 3600;
  auto r = Send(Batch(Ndjson({Line("nonce-old-00001", "evt-1", old)}), "nonce-old-00001", old));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Detail(r), "Telemetry timestamp out of allowed clock skew");
}

TEST_F(GatewayBatchTest, TooManyEventsIs413WithReason) {
  Build(1000, 3);
  const std::string n = "nonce-limit-0001";
  auto r = Send(Batch(Ndjson({Line(n, "e1"), Line(n, "e2"), Line(n, "e3"), Line(n, "e4")}), n));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(Detail(r), "Telemetry batch exceeds event limit");
  EXPECT_EQ(AuditOf("telemetry.rejected").back().details.Find("reason")->as_string(),
            "batch_too_many_events");
  EXPECT_TRUE(publisher_.ingest().empty());
  // Exactly at the limit passes.
  EXPECT_EQ(Send(Batch(Ndjson({Line(n, "e1"), Line(n, "e2"), Line(n, "e3")}), n)).status, 207);
}

TEST_F(GatewayBatchTest, OversizeBodyIs413FromTheListenerHook) {
  http::Request head = Batch("x", "nonce-size-00001");
  head.body.clear();
  auto r = handler_->OnBodyTooLarge(head);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(Detail(r), "Telemetry payload exceeds 1MiB limit");
}

TEST_F(GatewayBatchTest, FormatRefusals) {
  const std::string n = "nonce-format-001";
  auto as_json = Batch(Ndjson({Line(n, "e1")}), n);
  as_json.headers[0].second = "application/json";
  auto r = Send(std::move(as_json));
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(Detail(r), "Telemetry batch endpoint only accepts application/x-ndjson");
  r = Send(Batch("[" + Line(n, "e1") + "]", n));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Detail(r), "Telemetry batch must be NDJSON (one JSON object per line)");
  r = Send(Batch("", n));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Detail(r), "Telemetry payload is required");
  http::Request get = Batch("", n);
  get.method = "GET";
  EXPECT_EQ(Send(std::move(get)).status, 405);
  EXPECT_TRUE(publisher_.ingest().empty());
}

TEST_F(GatewayBatchTest, RateLimitCountsEvents) {
  Build(/*rate=*/3);
  const std::string n = "nonce-rate-00001";
  // Four valid events, one a duplicate (no unit taken): units for e1, e2, e3, then e4 is over.
  auto r = Send(Batch(Ndjson({Line(n, "e1"), Line(n, "e2"), Line(n, "e1"), Line(n, "e3"),
                              Line(n, "e4")}),
                      n));
  ASSERT_EQ(r.status, 207);
  const json::Value all = Results(r);
  const auto& res = all.as_array();
  EXPECT_EQ(Int(res[3], "status"), 202);
  EXPECT_EQ(Int(res[4], "status"), 429);
  EXPECT_EQ(res[4].Find("detail")->as_string(), "Operator burst anomaly detected");
  EXPECT_EQ(publisher_.ingest().size(), 3u);
}

// Counts the limiter calls the batch makes, and fails AcquireMany on demand.
class CountingLimiter final : public state::RateLimiter {
 public:
  explicit CountingLimiter(state::RateLimiter& inner) : inner_(inner) {}
  Status Acquire(std::string_view key, state::RateTicket* t) override {
    ++single;
    return inner_.Acquire(key, t);
  }
  Status AcquireMany(std::string_view key, int64_t n,
                     std::vector<state::RateTicket>* t) override {
    asked.emplace_back(std::string(key), n);
    if (fail) {
      t->clear();
      return Status::Unavailable("injected limiter outage");
    }
    return inner_.AcquireMany(key, n, t);
  }
  Status Refund(const state::RateTicket& t) override { return inner_.Refund(t); }
  Status Health() const override { return inner_.Health(); }

  int single = 0;
  bool fail = false;
  std::vector<std::pair<std::string, int64_t>> asked;

 private:
  state::RateLimiter& inner_;
};

// Issue 15: a batch takes its rate units with one AcquireMany per operator (one Redis round
// trip per batch, not one per event); a limiter that cannot answer makes the batch 503, and
// the same signed batch succeeds once it is back.
TEST_F(GatewayBatchTest, RateUnitsAreTakenOncePerOperatorAndAnOutageIs503) {
  auto cfg = testkit::ProducerConfig(1000);
  cfg->batch_max_events = 10;
  GatewayDeps deps = fakes_.Deps(cfg);
  CountingLimiter counting(*fakes_.limiter);
  deps.limiter = &counting;
  service_ = std::make_unique<GatewayService>(deps);
  handler_ = std::make_unique<GatewayHandler>(service_->HandlerDeps());

  const std::string n = "nonce-many-00001";
  auto r = Send(Batch(Ndjson({Line(n, "e1"), Line(n, "e2"), Line(n, "e1"), "{bad",
                              Line(n, "e3")}),
                      n));
  ASSERT_EQ(r.status, 207) << r.body;
  ASSERT_EQ(counting.asked.size(), 1u);
  EXPECT_EQ(counting.asked[0].second, 3) << "e1, e2, e3: the duplicate and the bad line take none";
  EXPECT_EQ(counting.single, 0);
  EXPECT_EQ(publisher_.ingest().size(), 3u);

  const std::string m = "nonce-many-00002";
  auto req = Batch(Ndjson({Line(m, "e7"), Line(m, "e8")}), m);
  auto retry = req;
  counting.fail = true;
  r = Send(std::move(req));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Detail(r), "Rate limiter unavailable");
  EXPECT_EQ(publisher_.ingest().size(), 3u);
  counting.fail = false;
  r = Send(std::move(retry));
  EXPECT_EQ(r.status, 207) << "nonce released after the 503: " << r.body;
  EXPECT_EQ(publisher_.ingest().size(), 5u);
}

TEST_F(GatewayBatchTest, QueueDownIs503ForTheBatchAndTheRetrySucceeds) {
  const std::string n = "nonce-queue-0001";
  auto req = Batch(Ndjson({Line(n, "e1"), Line(n, "e2")}), n);
  auto retry = req;
  publisher_.SetFail(true);
  auto r = Send(std::move(req));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Detail(r), "Telemetry queue publish failed");
  publisher_.SetFail(false);
  auto ok = Send(std::move(retry));
  EXPECT_EQ(ok.status, 207) << "nonce released and rate units refunded after the 503";
  EXPECT_EQ(publisher_.ingest().size(), 2u);
}

TEST_F(GatewayBatchTest, AuditFailureFailsClosed) {
  const std::string n = "nonce-audit-0001";
  audit_.SetFail(true);
  auto r = Send(Batch(Ndjson({Line(n, "e1")}), n));
  EXPECT_EQ(r.status, 503);
  EXPECT_GE(service_->counters().audit_failures.load(), 1u);
}

TEST_F(GatewayBatchTest, EveryRecordOfTheBatchIsOneAuditAppendInEventOrder) {
  const std::string n = "nonce-order-0001";
  auto r = Send(Batch(Ndjson({Line(n, "e1"), "{bad", Line(n, "e2"), Line(n, "e1")}), n));
  ASSERT_EQ(r.status, 207) << r.body;
  // One AppendBatch holding the four records (not four appends, one per event).
  ASSERT_EQ(audit_.batch_sizes(), std::vector<size_t>{4});
  auto all = audit_.records();
  ASSERT_EQ(all.size(), 4u);
  const char* want[] = {"telemetry.accepted", "telemetry.rejected", "telemetry.accepted",
                        "telemetry.accepted"};
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].event_type, want[i]) << i;
    EXPECT_EQ(Int(all[i].details, "batch_index"), int64_t(i));
  }
  EXPECT_TRUE(all[3].details.Find("duplicate")->as_bool());
}

TEST_F(GatewayBatchTest, AuditFailureMidBatchFailsTheWholeBatchClosedAndTheRetrySucceeds) {
  const std::string n = "nonce-audit-0002";
  auto req = Batch(Ndjson({Line(n, "e1"), "{bad", Line(n, "e2"), Line(n, "e3")}), n);
  auto retry = req;
  audit_.FailAfter(2);  // e1's and the rejected line's records are written, e2's is not
  auto r = Send(std::move(req));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Detail(r), "Tamper audit log unavailable");
  EXPECT_EQ(service_->counters().accepted.load(), 0u) << "no event is reported accepted";
  EXPECT_EQ(service_->counters().audit_failures.load(), 1u);
  // The rejected line was answered (its record is written) whatever the batch's fate.
  EXPECT_EQ(AuditOf("telemetry.rejected").size(), 1u);
  audit_.FailAfter(-1);
  auto ok = Send(std::move(retry));
  ASSERT_EQ(ok.status, 207) << "nonce released after the 503: " << ok.body;
  const json::Value res = Results(ok);
  ASSERT_EQ(res.as_array().size(), 4u);
  // What the failed attempt stored is deduplicated now, and nothing is stored twice.
  EXPECT_TRUE(res.as_array()[0].Find("duplicate")->as_bool());
  EXPECT_EQ(publisher_.ingest().size(), 3u);
  EXPECT_EQ(service_->counters().accepted.load(), 3u);
}

TEST_F(GatewayBatchTest, AFailedRecordOfARejectedEventIsCountedAndTheOthersAreAnswered) {
  const std::string n = "nonce-audit-0003";
  audit_.FailAfter(0);
  auto r = Send(Batch(Ndjson({"{bad"}), n));
  ASSERT_EQ(r.status, 207) << "a rejection's answer does not depend on its record: " << r.body;
  EXPECT_EQ(Int(Results(r).as_array()[0], "status"), 422);
  EXPECT_EQ(service_->counters().audit_failures.load(), 1u);
}

}  // namespace
}  // namespace vv::app
