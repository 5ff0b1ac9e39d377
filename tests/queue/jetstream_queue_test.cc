// JetStream backend specifics (the shared Publisher behaviour is in tests/conformance):
// stream creation/verification, Nats-Msg-Id derivation, ack timeout on a frozen server,
// bounded in-flight, consumer redelivery.

#include "queue/jetstream_queue.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <thread>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "crypto/crypto.h"
#include "fakes/fake_clock.h"
#include "fakes/servers.h"

namespace vv::queue {
namespace {

// SIGSTOP is asynchronous: wait until the kernel reports the server stopped ('T'), so nothing
// published afterwards can still be acknowledged (seen under TSan, where the client is slow).
void FreezeProcess(int pid) {
  kill(pid, SIGSTOP);
  for (int i = 0; i < 200; ++i) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), {});
    size_t rp = stat.rfind(')');
    if (rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] == 'T') return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

using vv::testing::FakeClock;
using vv::testing::NatsServer;

struct Outcome {
  Status status = Status::Unavailable("no callback");
  PublishOutcome outcome = PublishOutcome::kStored;
};

Outcome PublishSync(Publisher& pub, Envelope e) {
  auto promise = std::make_shared<std::promise<Outcome>>();
  auto future = promise->get_future();
  pub.Publish(std::move(e), [promise](Status s, PublishOutcome o) {
    promise->set_value(Outcome{std::move(s), o});
  });
  if (future.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return Outcome{};
  return future.get();
}

class JetStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VV_REQUIRE_SERVER(nats_);
    options_.nats.url = nats_.url();
    options_.ack_timeout_ms = 500;
    options_.nats.reconnect_wait_ms = 50;
    options_.drain_timeout_ms = 200;
  }
  Envelope Ingest(const std::string& event_id) {
    json::Value payload = json::Value::MakeObject();
    payload.Set("event_id", event_id);
    return MakeIngestEnvelope(std::move(payload), json::Value::MakeObject(), "t/" + event_id,
                              clock_, random_);
  }
  NatsServer nats_;
  JetStreamOptions options_;
  FakeClock clock_;
  SystemRandom random_;
};

TEST(JetStreamMessageId, IsSha256OfTheDedupeIdForIngestElseTheMessageId) {
  Envelope e;
  e.kind = Kind::kIngest;
  e.message_id = "m-1";
  e.dedupe_id = "tenant/evt";
  EXPECT_EQ(JetStreamPublisher::MessageIdFor(e), crypto::Sha256Hex("tenant/evt"));
  e.dedupe_id.clear();
  EXPECT_EQ(JetStreamPublisher::MessageIdFor(e), "m-1");
  e.kind = Kind::kDeadLetter;
  e.dedupe_id = "tenant/evt";
  EXPECT_EQ(JetStreamPublisher::MessageIdFor(e), "m-1");
}

TEST(JetStreamOptionsCheck, BadOptionsAreInvalidArgumentAndNoServerIsUnavailable) {
  JetStreamOptions o;
  o.dlq_subject = o.ingest_subject;
  EXPECT_EQ(JetStreamPublisher::Create(o).status().code(), StatusCode::kInvalidArgument);
  JetStreamOptions down;
  down.nats.url = "nats://127.0.0.1:" + std::to_string(vv::testing::FreeLoopbackPort());
  down.nats.connect_timeout_ms = 500;
  EXPECT_EQ(JetStreamPublisher::Create(down).status().code(), StatusCode::kUnavailable);
}

TEST_F(JetStreamTest, StreamsAreCreatedThenVerifiedAndUpdatedOnRestart) {
  {
    auto p = JetStreamPublisher::Create(options_);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    ASSERT_TRUE(PublishSync(**p, Ingest("a")).status.ok());
  }
  options_.duplicate_window_ms = 120'000;  // a changed window is applied to the existing stream
  auto p = JetStreamPublisher::Create(options_);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto n = (*p)->StoredCount(Kind::kIngest);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);  // verified, not recreated
  // Retrying the same event after a publisher restart is still deduplicated.
  Outcome again = PublishSync(**p, Ingest("a"));
  ASSERT_TRUE(again.status.ok());
  EXPECT_EQ(again.outcome, PublishOutcome::kDuplicate);
}

TEST_F(JetStreamTest, FrozenServerGivesUnavailableAfterTheAckTimeoutThenRecovers) {
  auto p = JetStreamPublisher::Create(options_);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE(PublishSync(**p, Ingest("warm")).status.ok());
  FreezeProcess(nats_.pid());  // connection stays up, nothing is acked
  auto t0 = std::chrono::steady_clock::now();
  Outcome o = PublishSync(**p, Ingest("frozen"));
  auto took = std::chrono::steady_clock::now() - t0;
  kill(nats_.pid(), SIGCONT);
  EXPECT_EQ(o.status.code(), StatusCode::kUnavailable) << o.status.ToString();
  EXPECT_GE(took, std::chrono::milliseconds(450));
  EXPECT_LT(took, std::chrono::milliseconds(1500));
  EXPECT_EQ((*p)->in_flight(), 0u);
  // Retry after the server thaws: stored once (or acknowledged as duplicate if the frozen
  // publish was in fact stored), never twice.
  Outcome retry = PublishSync(**p, Ingest("frozen"));
  ASSERT_TRUE(retry.status.ok()) << retry.status.ToString();
  auto n = (*p)->StoredCount(Kind::kIngest);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
}

TEST_F(JetStreamTest, InFlightBoundFailsFastInsteadOfBlocking) {
  options_.max_in_flight = 4;
  auto p = JetStreamPublisher::Create(options_);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  FreezeProcess(nats_.pid());
  std::atomic<int> unavailable{0}, done{0};
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) {
    (*p)->Publish(Ingest("b" + std::to_string(i)), [&](Status s, PublishOutcome) {
      if (s.code() == StatusCode::kUnavailable) ++unavailable;
      ++done;
    });
  }
  auto publish_time = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(unavailable.load(), 6);  // over the bound: rejected inline
  EXPECT_LT(publish_time, std::chrono::milliseconds(100));
  kill(nats_.pid(), SIGCONT);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (done.load() < 10 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(done.load(), 10);
}

TEST_F(JetStreamTest, UnackedMessagesAreRedeliveredToTheDurableConsumer) {
  auto p = JetStreamPublisher::Create(options_);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(PublishSync(**p, Ingest("x")).status.ok());
  {
    auto c = JetStreamConsumer::Create(options_, options_.ingest_stream, options_.ingest_subject,
                                       "engine");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    auto got = (*c)->Fetch(10, 500);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 1u);
    EXPECT_EQ((*c)->Ack(9999).code(), StatusCode::kNotFound);
    ASSERT_TRUE((*c)->Ack((*got)[0].sequence).ok());
    auto none = (*c)->Fetch(10, 200);
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty());
  }
  // A second durable consumer sees the stream from the start, independently.
  auto c2 = JetStreamConsumer::Create(options_, options_.ingest_stream, options_.ingest_subject,
                                      "audit");
  ASSERT_TRUE(c2.ok());
  auto got = (*c2)->Fetch(10, 500);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 1u);
}

}  // namespace
}  // namespace vv::queue
