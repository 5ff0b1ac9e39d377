// Publisher conformance: the same scenarios against EmbeddedQueue (SQLite) and
// JetStreamPublisher (a real nats-server -js), reading messages back through each backend's
// consumer side (EmbeddedQueue::List, JetStreamConsumer).

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fakes/fake_clock.h"
#include "fakes/servers.h"
#include "fakes/temp_dir.h"
#include "queue/embedded_queue.h"
#include "queue/jetstream_queue.h"

namespace vv::queue {
namespace {

using vv::testing::FakeClock;
using vv::testing::NatsServer;
using vv::testing::TempDir;

struct Outcome {
  Status status = Status::Unavailable("callback not called in time");
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

// One backend under test plus its read-back and fault-injection hooks.
class Harness {
 public:
  virtual ~Harness() = default;
  virtual Publisher& publisher() = 0;
  virtual Result<std::vector<StoredMessage>> ReadAll(Kind kind) = 0;
  virtual void Break() = 0;
  virtual void Repair() = 0;
};

class EmbeddedHarness final : public Harness {
 public:
  Status Init(const Clock& clock) {
    EmbeddedQueueOptions o;
    o.clock = &clock;
    o.fail_commit_for_test = [this]() {
      return broken_.load() ? Status::Unavailable("injected commit failure") : Status::Ok();
    };
    auto q = EmbeddedQueue::Open(dir_.File("queue.db"), o);
    if (!q.ok()) return q.status();
    queue_ = std::move(q).value();
    return Status::Ok();
  }
  Publisher& publisher() override { return *queue_; }
  Result<std::vector<StoredMessage>> ReadAll(Kind kind) override {
    return queue_->List(kind, 0, 100000);
  }
  void Break() override { broken_ = true; }
  void Repair() override { broken_ = false; }

 private:
  TempDir dir_;
  std::atomic<bool> broken_{false};
  std::unique_ptr<EmbeddedQueue> queue_;
};

class JetStreamHarness final : public Harness {
 public:
  explicit JetStreamHarness(NatsServer& server) : server_(server) {}
  Status Init() {
    options_.nats.url = server_.url();
    options_.ack_timeout_ms = 1000;
    options_.nats.reconnect_wait_ms = 50;
    options_.duplicate_window_ms = 60'000;
    options_.drain_timeout_ms = 500;
    auto p = JetStreamPublisher::Create(options_);
    if (!p.ok()) return p.status();
    publisher_ = std::move(p).value();
    return Status::Ok();
  }
  Publisher& publisher() override { return *publisher_; }
  Result<std::vector<StoredMessage>> ReadAll(Kind kind) override {
    bool ingest = kind == Kind::kIngest;
    auto consumer = JetStreamConsumer::Create(
        options_, ingest ? options_.ingest_stream : options_.dlq_stream,
        ingest ? options_.ingest_subject : options_.dlq_subject,
        "reader" + std::to_string(++readers_));
    if (!consumer.ok()) return consumer.status();
    std::vector<StoredMessage> all;
    for (;;) {
      auto batch = (*consumer)->Fetch(256, 300);
      if (!batch.ok()) return batch.status();
      if (batch->empty()) break;
      for (auto& m : *batch) {
        Status s = (*consumer)->Ack(m.sequence);
        if (!s.ok()) return s;
        all.push_back(std::move(m));
      }
    }
    return all;
  }
  void Break() override { server_.Stop(/*hard=*/true); }
  void Repair() override { ASSERT_TRUE(server_.Restart().ok()) << server_.Log(); }

 private:
  NatsServer& server_;
  JetStreamOptions options_;
  int readers_ = 0;
  std::unique_ptr<JetStreamPublisher> publisher_;
};

class PublisherConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "embedded") {
      auto h = std::make_unique<EmbeddedHarness>();
      ASSERT_TRUE(h->Init(clock_).ok());
      harness_ = std::move(h);
      return;
    }
    VV_REQUIRE_SERVER(nats_);
    auto h = std::make_unique<JetStreamHarness>(nats_);
    Status s = h->Init();
    ASSERT_TRUE(s.ok()) << s.ToString();
    harness_ = std::move(h);
  }
  void TearDown() override { harness_.reset(); }

  Envelope Ingest(const std::string& event_id, const std::string& tenant = "tenant-a") {
    json::Value payload = json::Value::MakeObject();
    payload.Set("event_id", event_id);
    payload.Set("tenant_id", tenant);
    json::Value trace = json::Value::MakeObject();
    trace.Set("tenant_id", tenant);
    return MakeIngestEnvelope(std::move(payload), std::move(trace), tenant + "/" + event_id,
                              clock_, random_);
  }
  Envelope DeadLetter() {
    json::Value trace = json::Value::MakeObject();
    trace.Set("reason", "json_decode");
    return MakeDeadLetterEnvelope("invalid_json", "Invalid JSON payload", "{not json",
                                  std::move(trace), clock_, random_);
  }
  Publisher& pub() { return harness_->publisher(); }

  FakeClock clock_;
  SystemRandom random_;  // FakeRandom's stream repeats after 16 uuids
  NatsServer nats_;
  std::unique_ptr<Harness> harness_;
};

TEST_P(PublisherConformance, PublishedIngestEnvelopeIsStoredWithItsCanonicalBytes) {
  Envelope e = Ingest("evt-1");
  std::string wire = e.CanonicalBytes();
  Outcome o = PublishSync(pub(), e);
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  EXPECT_EQ(o.outcome, PublishOutcome::kStored);
  auto stored = harness_->ReadAll(Kind::kIngest);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].wire_bytes, wire);
  EXPECT_EQ((*stored)[0].envelope.message_id, e.message_id);
  EXPECT_EQ((*stored)[0].envelope.integrity_hash, e.integrity_hash);
  auto dlq = harness_->ReadAll(Kind::kDeadLetter);
  ASSERT_TRUE(dlq.ok());
  EXPECT_TRUE(dlq->empty());
  EXPECT_TRUE(pub().Health().ok());
}

TEST_P(PublisherConformance, DuplicateDedupeIdIsAcknowledgedAsDuplicateAndStoredOnce) {
  Envelope first = Ingest("evt-dup");
  Envelope retry = Ingest("evt-dup");  // a producer retry: new message_id, same event
  ASSERT_NE(first.message_id, retry.message_id);
  Outcome a = PublishSync(pub(), first);
  Outcome b = PublishSync(pub(), retry);
  ASSERT_TRUE(a.status.ok()) << a.status.ToString();
  ASSERT_TRUE(b.status.ok()) << b.status.ToString();
  EXPECT_EQ(a.outcome, PublishOutcome::kStored);
  EXPECT_EQ(b.outcome, PublishOutcome::kDuplicate);
  // Same event id in another tenant is a different event.
  Outcome c = PublishSync(pub(), Ingest("evt-dup", "tenant-b"));
  ASSERT_TRUE(c.status.ok());
  EXPECT_EQ(c.outcome, PublishOutcome::kStored);
  auto stored = harness_->ReadAll(Kind::kIngest);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  ASSERT_EQ(stored->size(), 2u);
  EXPECT_EQ((*stored)[0].envelope.message_id, first.message_id);
}

TEST_P(PublisherConformance, DeadLettersAreNeverDeduplicated) {
  for (int i = 0; i < 3; ++i) {
    Envelope d = DeadLetter();
    d.dedupe_id = "tenant-a/same";  // even if a caller sets one, DLQ entries are all kept
    Outcome o = PublishSync(pub(), d);
    ASSERT_TRUE(o.status.ok()) << o.status.ToString();
    EXPECT_EQ(o.outcome, PublishOutcome::kStored);
  }
  auto dlq = harness_->ReadAll(Kind::kDeadLetter);
  ASSERT_TRUE(dlq.ok()) << dlq.status().ToString();
  EXPECT_EQ(dlq->size(), 3u);
  for (const auto& m : *dlq) EXPECT_EQ(m.envelope.kind, Kind::kDeadLetter);
  auto ingest = harness_->ReadAll(Kind::kIngest);
  ASSERT_TRUE(ingest.ok());
  EXPECT_TRUE(ingest->empty());
}

TEST_P(PublisherConformance, ManyConcurrentPublishesAllCompleteAndAreStoredOnce) {
  constexpr int kThreads = 4, kEach = 100;
  std::atomic<int> ok{0}, failed{0};
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        pub().Publish(Ingest("evt-" + std::to_string(t) + "-" + std::to_string(i)),
                      [&](Status s, PublishOutcome o) {
                        (s.ok() && o == PublishOutcome::kStored) ? ++ok : ++failed;
                        ++done;
                      });
      }
    });
  }
  for (auto& t : threads) t.join();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (done.load() < kThreads * kEach && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(ok.load(), kThreads * kEach);
  EXPECT_EQ(failed.load(), 0);
  auto stored = harness_->ReadAll(Kind::kIngest);
  ASSERT_TRUE(stored.ok());
  std::set<std::string> ids;
  for (const auto& m : *stored) ids.insert(m.envelope.message_id);
  EXPECT_EQ(stored->size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(ids.size(), stored->size());
}

TEST_P(PublisherConformance, OutageIsUnavailableThenTheSamePublisherRecovers) {
  ASSERT_TRUE(PublishSync(pub(), Ingest("before")).status.ok());
  harness_->Break();
  Envelope during = Ingest("during");
  auto t0 = std::chrono::steady_clock::now();
  Outcome down = PublishSync(pub(), during);
  EXPECT_EQ(down.status.code(), StatusCode::kUnavailable) << down.status.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));
  EXPECT_EQ(pub().Health().code(), StatusCode::kUnavailable);
  harness_->Repair();
  // The producer retries the same event after the outage: stored exactly once.
  Outcome up;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  do {
    up = PublishSync(pub(), Ingest("during"));
    if (up.status.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_TRUE(up.status.ok()) << up.status.ToString();
  EXPECT_TRUE(pub().Health().ok());
  auto stored = harness_->ReadAll(Kind::kIngest);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  int during_count = 0;
  for (const auto& m : *stored)
    if (const json::Value* id = m.envelope.payload.Find("event_id");
        id != nullptr && *id == json::Value("during"))
      ++during_count;
  EXPECT_EQ(during_count, 1);
  EXPECT_EQ(stored->size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Backends, PublisherConformance,
                         ::testing::Values("embedded", "jetstream"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace vv::queue
