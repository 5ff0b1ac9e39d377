// The readiness model (issue 14 item 1): probes, request-path outcomes with their window, the
// first failing component in registration order, the probe cache, and the observed wrappers.

#include "app/readiness.h"

#include <gtest/gtest.h>

#include <atomic>

#include "fakes/fake_backends.h"
#include "fakes/fake_clock.h"

namespace vv::app {
namespace {

struct Flag {
  std::atomic<int> calls{0};
  Status status;
  std::function<Status()> Probe() {
    return [this] {
      ++calls;
      return status;
    };
  }
};

TEST(ReadinessTest, ReadyUntilAProbeFailsAndNamesTheFirstFailingComponent) {
  testing::FakeClock clock;
  Readiness r(clock, {0, 30});
  Flag audit, queue;
  r.AddComponent("audit", AuditReason, audit.Probe());
  r.AddComponent("queue", "queue_unavailable", queue.Probe());
  EXPECT_TRUE(r.Check().ready);
  queue.status = Status::Unavailable("NATS connection is reconnecting");
  ReadinessVerdict v = r.Check();
  EXPECT_FALSE(v.ready);
  EXPECT_EQ(v.component, "queue");
  EXPECT_EQ(v.reason, "queue_unavailable");
  EXPECT_EQ(v.detail, "NATS connection is reconnecting");
  audit.status = Status::DataLoss("audit anchor: fork_detected: ...");
  v = r.Check();
  EXPECT_EQ(v.component, "audit");
  EXPECT_EQ(v.reason, "audit_anchor_forked");
  audit.status = Status::Unavailable("fdatasync failed");
  EXPECT_EQ(r.Check().reason, "audit_unavailable");
  audit.status = Status::Ok();
  queue.status = Status::Ok();
  EXPECT_TRUE(r.Check().ready);
}

TEST(ReadinessTest, AReportedFailureCountsUntilASuccessOrTheWindowEnds) {
  testing::FakeClock clock;
  Readiness r(clock, {0, 30});
  r.AddComponent("audit", AuditReason, nullptr);  // outcomes only
  r.Report("audit", Status::Unavailable("write to audit log failed: No space left on device"));
  EXPECT_EQ(r.Check().reason, "audit_unavailable");
  r.Report("audit", Status::Ok());
  EXPECT_TRUE(r.Check().ready);
  r.Report("audit", Status::Unavailable("disk full"));
  clock.AdvanceSeconds(29);
  EXPECT_FALSE(r.Check().ready);
  clock.AdvanceSeconds(1);  // no request since: a replica out of rotation comes back
  EXPECT_TRUE(r.Check().ready);
  r.Report("unknown-component", Status::Unavailable("ignored"));
  EXPECT_TRUE(r.Check().ready);
}

TEST(ReadinessTest, ProbesAreCachedForTheConfiguredInterval) {
  testing::FakeClock clock;
  Readiness r(clock, {1000, 30});
  Flag queue;
  r.AddComponent("queue", "queue_unavailable", queue.Probe());
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(r.Check().ready);
  EXPECT_EQ(queue.calls.load(), 1);
  queue.status = Status::Unavailable("down");
  EXPECT_TRUE(r.Check().ready);  // cached
  clock.AdvanceMicros(1000 * 1000);
  EXPECT_FALSE(r.Check().ready);
  EXPECT_EQ(queue.calls.load(), 2);
}

TEST(ReadinessTest, ObservedSinksReportEveryOutcome) {
  testing::FakeClock clock;
  Readiness r(clock, {0, 30});
  testing::RecordingAuditSink audit;
  testing::RecordingPublisher publisher;
  r.AddComponent("audit", AuditReason, nullptr);
  r.AddComponent("queue", "queue_unavailable", nullptr);
  ObservedAuditSink observed_audit(audit, r);
  ObservedPublisher observed_queue(publisher, r);
  audit.SetFail(true);
  EXPECT_FALSE(observed_audit.Append("x", "y", json::Value::MakeObject()).ok());
  EXPECT_EQ(r.Check().reason, "audit_unavailable");
  audit.SetFail(false);
  EXPECT_TRUE(observed_audit.Append("x", "y", json::Value::MakeObject()).ok());
  EXPECT_TRUE(r.Check().ready);

  publisher.SetFail(true);
  queue::Envelope dead_letter;
  dead_letter.kind = queue::Kind::kDeadLetter;
  bool called = false;
  observed_queue.Publish(dead_letter, [&](Status s, queue::PublishOutcome) {
    called = true;
    EXPECT_FALSE(s.ok());
  });
  EXPECT_TRUE(called);
  EXPECT_TRUE(r.Check().ready) << "a failed dead letter is answered 422, not 503";
  queue::Envelope ingest;
  ingest.kind = queue::Kind::kIngest;
  observed_queue.Publish(ingest, [](Status, queue::PublishOutcome) {});
  EXPECT_EQ(r.Check().reason, "queue_unavailable");
  publisher.SetFail(false);
  observed_queue.Publish(ingest, [](Status s, queue::PublishOutcome) { EXPECT_TRUE(s.ok()); });
  EXPECT_TRUE(r.Check().ready);
}

}  // namespace
}  // namespace vv::app
