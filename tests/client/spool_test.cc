// Durable outbox: write-first, dedupe per (tenant, event_id), drain semantics, survival across
// a "crash" (closing the spool mid-drain and reopening it).
#include <gtest/gtest.h>

#include "client/producer_test_support.h"
#include "fakes/fake_clock.h"
#include "fakes/temp_dir.h"
#include "spectrastrike/spool.h"

namespace spectrastrike {
namespace {

using namespace spectrastrike::test_support;  // NOLINT

class SpoolTest : public ::testing::Test {
 protected:
  SpoolTest() : signer_(ProducerSigner()) {}
  std::unique_ptr<Spool> Open() {
    auto s = Spool::Open(dir_.File("spool.db"), clock_);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  std::vector<PreparedEvent> Events(int n, int start = 0) {
    std::vector<PreparedEvent> v;
    for (int i = start; i < start + n; ++i)
      v.push_back(*PrepareEvent(A2Payload("evt-" + std::to_string(i)), A2Identity()));
    return v;
  }
  Producer MakeProducer(int attempts = 2) {
    ProducerOptions o;
    o.identity = A2Identity();
    o.retry.max_attempts = attempts;
    return Producer(o, signer_, transport_, clock_, random_, sleeper_);
  }

  vv::testing::TempDir dir_;
  vv::testing::FakeClock clock_{1772107200};
  vv::testing::FakeRandom random_;
  RecordingSleeper sleeper_;
  ScriptedTransport transport_;
  RequestSigner signer_;
};

TEST_F(SpoolTest, EnqueueIsIdempotentPerTenantAndEventId) {
  auto spool = Open();
  auto first = spool->Enqueue(Events(3));
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE((*first)[0].inserted);
  auto again = spool->Enqueue(Events(4));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE((*again)[0].inserted);
  EXPECT_EQ((*again)[0].id, (*first)[0].id);
  EXPECT_TRUE((*again)[3].inserted);
  EXPECT_EQ(spool->Counts()->pending, 4);
}

TEST_F(SpoolTest, DrainDeliversAcceptedAndRecordsRejectionsWithReasons) {
  auto spool = Open();
  ASSERT_TRUE(spool->Enqueue(Events(3)).ok());
  transport_.Push(202);
  transport_.Push(422, R"({"detail":"Canonical telemetry schema validation failed"})");
  transport_.Push(202);
  Producer p = MakeProducer();
  auto stats = DrainSpool(*spool, p);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->accepted, 2);
  EXPECT_EQ(stats->rejected, 1);
  EXPECT_EQ(stats->remaining, 0);
  auto c = spool->Counts();
  EXPECT_EQ(c->delivered, 2);
  EXPECT_EQ(c->rejected, 1);
  auto rej = spool->Rejections(10);
  ASSERT_EQ(rej->size(), 1u);
  EXPECT_EQ((*rej)[0].first, "evt-1");
  EXPECT_EQ((*rej)[0].second, "Canonical telemetry schema validation failed");
  // Nothing left to do: a second drain sends nothing.
  size_t calls = transport_.calls.size();
  ASSERT_TRUE(DrainSpool(*spool, p).ok());
  EXPECT_EQ(transport_.calls.size(), calls);
}

TEST_F(SpoolTest, GatewayDownStopsTheDrainAndKeepsEverythingPending) {
  auto spool = Open();
  ASSERT_TRUE(spool->Enqueue(Events(5)).ok());
  transport_.PushNetworkError();
  Producer p = MakeProducer(3);
  auto stats = DrainSpool(*spool, p);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->failed, 1);
  EXPECT_EQ(stats->remaining, 5);
  EXPECT_EQ(transport_.calls.size(), 3u) << "one event's attempts, then the drain stops";
  // The gateway comes back: everything is delivered, in order.
  ScriptedTransport up;
  transport_ = up;
  transport_.Push(202);
  stats = DrainSpool(*spool, p);
  EXPECT_EQ(stats->accepted, 5);
  EXPECT_EQ(stats->remaining, 0);
  ASSERT_EQ(transport_.calls.size(), 5u);
  EXPECT_NE(transport_.calls[0].body.find("\"evt-0\""), std::string::npos);
  EXPECT_NE(transport_.calls[4].body.find("\"evt-4\""), std::string::npos);
}

TEST_F(SpoolTest, ACrashMidDrainLosesNothingAfterReopen) {
  {
    auto spool = Open();
    ASSERT_TRUE(spool->Enqueue(Events(10)).ok());
    transport_.Push(202);
    Producer p = MakeProducer();
    auto stats = DrainSpool(*spool, p, nullptr, /*max_events=*/4);
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->accepted, 4);
    EXPECT_EQ(stats->remaining, 6);
  }  // "killed"
  auto spool = Open();
  EXPECT_EQ(spool->Counts()->pending, 6);
  transport_.calls.clear();
  Producer p = MakeProducer();
  auto stats = DrainSpool(*spool, p);
  EXPECT_EQ(stats->accepted, 6);
  EXPECT_EQ(transport_.calls.size(), 6u);
  EXPECT_EQ(spool->Counts()->delivered, 10);
}

TEST_F(SpoolTest, UnopenablePathIsACleanError) {
  auto s = Spool::Open(dir_.File("no/such/dir/spool.db"), clock_);
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace spectrastrike
