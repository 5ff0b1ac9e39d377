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

#include <nats/nats.h>

#include <set>

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

// Issue 14: stream limits from config, applied at creation and reconciled on an existing
// stream; a full stream with discard "new" refuses new publishes (503 at the gateway), it
// never drops what was acknowledged.
TEST_F(JetStreamTest, StreamLimitsAreAppliedReconciledAndDiscardNewRefusesWhenFull) {
  options_.max_age_ms = 3600'000;
  options_.max_bytes = 1 << 20;
  options_.discard_new = true;
  auto stream_config = [&](std::string* out) {
    natsConnection* nc = nullptr;
    ASSERT_EQ(natsConnection_ConnectTo(&nc, options_.nats.url.c_str()), NATS_OK);
    jsCtx* js = nullptr;
    ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
    jsStreamInfo* si = nullptr;
    ASSERT_EQ(js_GetStreamInfo(&si, js, options_.ingest_stream.c_str(), nullptr, nullptr),
              NATS_OK);
    *out = std::to_string(si->Config->MaxAge / 1'000'000'000) + "s/" +
           std::to_string(si->Config->MaxBytes) + "/" +
           (si->Config->Discard == js_DiscardNew ? "new" : "old");
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  };
  std::string cfg;
  {
    auto p = JetStreamPublisher::Create(options_);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    ASSERT_TRUE(PublishSync(**p, Ingest("first")).status.ok());
  }
  stream_config(&cfg);
  EXPECT_EQ(cfg, "3600s/1048576/new");
  // A publisher that does not reconcile (the engine) leaves the gateway's limits alone.
  JetStreamOptions engine_side = options_;
  engine_side.max_age_ms = 0;
  engine_side.max_bytes = 0;
  engine_side.discard_new = false;
  engine_side.reconcile_existing = false;
  ASSERT_TRUE(JetStreamPublisher::Create(engine_side).ok());
  stream_config(&cfg);
  EXPECT_EQ(cfg, "3600s/1048576/new");
  // Changed limits are applied to the existing stream (messages kept).
  options_.max_age_ms = 7200'000;
  options_.max_bytes = 2048;
  auto p = JetStreamPublisher::Create(options_);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  stream_config(&cfg);
  EXPECT_EQ(cfg, "7200s/2048/new");
  EXPECT_EQ(*(*p)->StoredCount(Kind::kIngest), 1u);
  // Fill the 2 KiB stream: publishes are refused, nothing stored is dropped.
  int refused = 0;
  for (int i = 0; i < 40 && refused == 0; ++i) {
    Outcome o = PublishSync(**p, Ingest("fill-" + std::to_string(i)));
    if (!o.status.ok()) {
      EXPECT_EQ(o.status.code(), StatusCode::kUnavailable) << o.status.ToString();
      ++refused;
    }
  }
  EXPECT_EQ(refused, 1);
  auto c = JetStreamConsumer::Create(options_, options_.ingest_stream, options_.ingest_subject,
                                     "limits");
  ASSERT_TRUE(c.ok());
  auto first = (*c)->Fetch(1, 1000);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].envelope.payload.Find("event_id")->as_string(), "first");
}

TEST(JetStreamOptionsCheck, NegativeLimitsAreInvalid) {
  JetStreamOptions o;
  o.max_bytes = -1;
  EXPECT_EQ(JetStreamPublisher::Create(o).status().code(), StatusCode::kInvalidArgument);
}

// Issue 14 (engines scale out): two consumers on ONE durable share its messages; the
// consumer state counts pending and in-flight across both; a consumer closed with messages
// in hand NAKs them, so the other gets them at once instead of after the ack wait.
TEST_F(JetStreamTest, ConsumersSharingADurableSplitTheWorkAndACloseHandsBackWhatItHeld) {
  auto p = JetStreamPublisher::Create(options_);
  ASSERT_TRUE(p.ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(PublishSync(**p, Ingest("s" + std::to_string(i))).status.ok());
  auto a = JetStreamConsumer::Create(options_, options_.ingest_stream, options_.ingest_subject,
                                     "shared", /*ack_wait_ms=*/60'000);
  auto b = JetStreamConsumer::Create(options_, options_.ingest_stream, options_.ingest_subject,
                                     "shared", 60'000);
  ASSERT_TRUE(a.ok() && b.ok());
  auto st = (*a)->State();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->pending, 10u);
  EXPECT_EQ(st->ack_pending, 0);
  auto got_a = (*a)->Fetch(4, 1000);
  ASSERT_TRUE(got_a.ok());
  ASSERT_EQ(got_a->size(), 4u);
  EXPECT_EQ((*got_a)[0].delivery_count, 1);
  std::set<int64_t> seen;
  for (const auto& m : *got_a) seen.insert(m.sequence);
  auto got_b = (*b)->Fetch(6, 1000);
  ASSERT_TRUE(got_b.ok());
  ASSERT_EQ(got_b->size(), 6u);
  for (const auto& m : *got_b) {
    EXPECT_EQ(seen.count(m.sequence), 0u) << "each message goes to one consumer at a time";
    ASSERT_TRUE((*b)->Ack(m.sequence).ok());
  }
  // Acks are asynchronous: poll until the server has counted them.
  auto wait_state = [&](JetStreamConsumer& c, int64_t ack_pending) {
    Result<ConsumerState> s = Status::Unavailable("not asked");
    for (int i = 0; i < 500; ++i) {
      s = c.State();
      if (s.ok() && s->pending == 0 && s->ack_pending == ack_pending) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return s;
  };
  st = wait_state(**b, 4);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->pending, 0u);
  EXPECT_EQ(st->ack_pending, 4);  // a's, unacked
  a->reset();                      // closes with 4 in hand: NAKed
  // Redelivered well inside the 60 s ack wait.
  std::vector<StoredMessage> again;
  for (int i = 0; i < 20 && again.size() < 4; ++i) {
    auto more = (*b)->Fetch(4, 500);
    ASSERT_TRUE(more.ok());
    again.insert(again.end(), more->begin(), more->end());
  }
  ASSERT_EQ(again.size(), 4u);
  for (const auto& m : again) {
    EXPECT_EQ(seen.count(m.sequence), 1u);
    EXPECT_EQ(m.delivery_count, 2);  // the server's count, across consumers
    ASSERT_TRUE((*b)->Ack(m.sequence).ok());
  }
  st = wait_state(**b, 0);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->ack_pending, 0);
}

TEST_F(JetStreamTest, AnExistingDurableGetsTheConfiguredAckWait) {
  auto p = JetStreamPublisher::Create(options_);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(JetStreamConsumer::Create(options_, options_.ingest_stream, options_.ingest_subject,
                                        "aw").ok());  // server default
  ASSERT_TRUE(PublishSync(**p, Ingest("aw")).status.ok());
  {
    auto c = JetStreamConsumer::Create(options_, options_.ingest_stream, options_.ingest_subject,
                                       "aw", /*ack_wait_ms=*/1000);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    auto got = (*c)->Fetch(1, 1000);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 1u);
    // Held without an ack (as by a crashed engine): back after ~1 s, not 30 s.
    std::vector<StoredMessage> again;
    for (int i = 0; i < 20 && again.empty(); ++i) {
      auto more = (*c)->Fetch(1, 500);
      ASSERT_TRUE(more.ok());
      again = *more;
    }
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].sequence, (*got)[0].sequence);
    ASSERT_TRUE((*c)->Ack(again[0].sequence).ok());
  }
}

}  // namespace
}  // namespace vv::queue
