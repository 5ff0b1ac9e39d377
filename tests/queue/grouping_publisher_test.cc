// GroupingPublisher (issue 15): concurrent publishes share one signature, completions that
// wait together run in one CompletionBatch, nothing is lost or completed twice on shutdown,
// and the bounds refuse with Unavailable.

#include "queue/grouping_publisher.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "common/completion_batch.h"
#include "fakes/fake_clock.h"
#include "queue/envelope_codec.h"

namespace vv::queue {
namespace {

using vv::testing::FakeClock;
using vv::testing::FakeRandom;
using namespace std::chrono_literals;

crypto::Ed25519PrivateKey Key(char c) {
  return crypto::Ed25519PrivateKey::FromSeed(std::string(32, c)).value();
}

const EnvelopeVerifyKeys& Keys() {
  static const EnvelopeVerifyKeys keys = {{"k1", Key('a').PublicKey()}};
  return keys;
}

std::shared_ptr<const EnvelopeSigner> Signer() {
  return std::make_shared<EnvelopeSigner>("k1", Key('a'));
}

Envelope Ingest(FakeClock& clock, FakeRandom& random, int i) {
  json::Value payload = json::Value::MakeObject();
  payload.Set("tenant_id", "10000000-0000-0000-0000-000000000001");
  payload.Set("event", int64_t{i});
  return MakeIngestEnvelopeForPublish(payload, json::Value::MakeObject(),
                                      "t/e" + std::to_string(i), clock, random);
}

// The inner publisher: keeps what reaches it, thread-safe. With the gate closed, Publish
// blocks (the grouper is then busy and publishes pile up behind it). With `hold` set, the
// callbacks are kept for the test to run (JetStream's acks arriving later, on another
// thread); the destructor fails the held ones as JetStreamPublisher's does.
class Capture final : public Publisher {
 public:
  explicit Capture(bool hold = false) : hold_(hold) {}
  ~Capture() override {
    for (auto& cb : held_) cb(Status::Unavailable("capture destroyed"), PublishOutcome::kStored);
  }
  void Publish(Envelope e, PublishCallback done) override {
    std::unique_lock<std::mutex> l(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(l, [&] { return open_; });
    got_.push_back(std::move(e));
    if (hold_) {
      held_.push_back(std::move(done));
      cv_.notify_all();
      return;
    }
    l.unlock();
    done(Status::Ok(), PublishOutcome::kStored);
  }
  Status Health() const override { return health_; }

  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = false;
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Waits until `n` Publish calls have started (or `n` callbacks are held, with hold).
  void AwaitEntered(int n) {
    std::unique_lock<std::mutex> l(mu_);
    ASSERT_TRUE(cv_.wait_for(l, 10s, [&] { return entered_ >= n; }));
  }
  void AwaitHeld(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    ASSERT_TRUE(cv_.wait_for(l, 10s, [&] { return held_.size() >= n; }));
  }
  std::vector<PublishCallback> TakeHeld() {
    std::lock_guard<std::mutex> l(mu_);
    return std::move(held_);
  }
  std::vector<Envelope> got() {
    std::lock_guard<std::mutex> l(mu_);
    return got_;
  }
  Status health_ = Status::Ok();

 private:
  const bool hold_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int entered_ = 0;
  std::vector<Envelope> got_;
  std::vector<PublishCallback> held_;
};

// Counts callbacks and remembers each one's status and the CompletionBatch it ran in.
// What on_group was told (the gateway's queue_group_size), from any thread.
struct GroupSizes {
  std::mutex mu;
  std::vector<size_t> sizes;
  std::function<void(size_t)> Hook() {
    return [this](size_t n) {
      std::lock_guard<std::mutex> l(mu);
      sizes.push_back(n);
    };
  }
  std::vector<size_t> Get() {
    std::lock_guard<std::mutex> l(mu);
    return sizes;
  }
};

struct Results {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Status> statuses;
  std::vector<const CompletionBatch*> batches;
  std::vector<std::thread::id> threads;

  PublishCallback Callback() {
    return [this](Status s, PublishOutcome) {
      std::lock_guard<std::mutex> l(mu);
      statuses.push_back(std::move(s));
      batches.push_back(CompletionBatch::Current());
      threads.push_back(std::this_thread::get_id());
      cv.notify_all();
    };
  }
  void Await(size_t n) {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, 10s, [&] { return statuses.size() >= n; })) << statuses.size();
  }
};

TEST(GroupingPublisherTest, SignsEveryEnvelopeAndCompletesOffThePublishingThread) {
  auto capture = std::make_unique<Capture>();
  Capture* raw = capture.get();
  Results results;
  {
    GroupingPublisher p(std::move(capture), Signer());
    FakeClock clock;
    FakeRandom random;
    p.Publish(Ingest(clock, random, 1), results.Callback());
    results.Await(1);
    p.Publish(MakeDeadLetterEnvelope("invalid_json", "x", "{", json::Value::MakeObject(), clock,
                                     random),
              results.Callback());
    results.Await(2);
    const std::vector<Envelope> got = raw->got();
    ASSERT_EQ(got.size(), 2u);
    // The signature travels in the wire bytes (what the queue stores); the DOM was freed on
    // the publishing thread, the scalar members the queue needs are kept.
    for (const Envelope& e : got) {
      EXPECT_TRUE(e.payload.is_null());
      EXPECT_FALSE(e.message_id.empty());
      auto stored = ParseEnvelope(e.wire);
      ASSERT_TRUE(stored.ok());
      EXPECT_EQ(stored->auth.Find("alg")->as_string(), kEnvelopeAuthAlg) << "a group of one";
      EXPECT_EQ(VerifyEnvelopeAuth(*stored, Keys()), "");
      EXPECT_EQ(stored->CanonicalBytes(), e.wire) << "canonical";
    }
    EXPECT_EQ(got[0].dedupe_id, "t/e1");
    EXPECT_EQ(got[1].kind, Kind::kDeadLetter);
  }
  for (const Status& s : results.statuses) EXPECT_TRUE(s.ok()) << s.ToString();
  for (const auto* b : results.batches) EXPECT_NE(b, nullptr) << "inside a CompletionBatch";
  for (const auto& t : results.threads) EXPECT_NE(t, std::this_thread::get_id());
}

// Publishes that arrive while the grouper is busy form the next group: one Merkle signature
// over all of them, each envelope verifying alone.
TEST(GroupingPublisherTest, PublishesWaitingTogetherShareOneSignature) {
  auto capture = std::make_unique<Capture>();
  Capture* raw = capture.get();
  Results results;
  GroupSizes sizes;
  GroupingPublisherOptions o;
  o.on_group = sizes.Hook();
  GroupingPublisher p(std::move(capture), Signer(), o);
  FakeClock clock;
  FakeRandom random;
  raw->Close();
  p.Publish(Ingest(clock, random, 0), results.Callback());
  raw->AwaitEntered(1);  // the grouper is stuck handing the first group on
  for (int i = 1; i <= 5; ++i) p.Publish(Ingest(clock, random, i), results.Callback());
  raw->Open();
  results.Await(6);
  EXPECT_EQ(p.groups(), 2u);
  EXPECT_EQ(sizes.Get(), (std::vector<size_t>{1, 5}));
  const std::vector<Envelope> got = raw->got();
  ASSERT_EQ(got.size(), 6u);
  std::set<std::string> sigs;
  VerifiedRoots roots;
  for (size_t i = 1; i < got.size(); ++i) {
    auto stored = ParseEnvelope(got[i].wire);
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(stored->auth.Find("alg")->as_string(), kEnvelopeBatchAuthAlg);
    EXPECT_EQ(stored->auth.Find("size")->as_int64(), int64_t{5});
    EXPECT_EQ(stored->auth.Find("index")->as_int64(), static_cast<int64_t>(i - 1)) << "in order";
    sigs.insert(stored->auth.Find("sig")->as_string());
    EXPECT_EQ(VerifyEnvelopeAuth(*stored, Keys(), &roots), "");
  }
  EXPECT_EQ(sigs.size(), 1u) << "one signature for the group";
  // A tampered member of the group fails alone.
  std::string bad = got[3].wire;
  bad.replace(bad.find("\"event\":3"), 9, "\"event\":4");
  auto tampered = ParseEnvelope(bad);
  ASSERT_TRUE(tampered.ok());
  EXPECT_EQ(VerifyEnvelopeAuth(*tampered, Keys(), &roots), kAuthBadSignature);
}

TEST(GroupingPublisherTest, ABatchIsSignedOnceAndCompletesInACompletionBatch) {
  auto capture = std::make_unique<Capture>();
  Capture* raw = capture.get();
  GroupSizes sizes;  // on_group: told on the publishing thread for a batch
  GroupingPublisherOptions opts;
  opts.on_group = sizes.Hook();
  GroupingPublisher p(std::move(capture), Signer(), opts);
  FakeClock clock;
  FakeRandom random;
  std::vector<Envelope> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(Ingest(clock, random, i));
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  const CompletionBatch* in_batch = nullptr;
  p.PublishBatch(std::move(batch), [&](Status s, std::vector<PublishOutcome> o) {
    std::lock_guard<std::mutex> l(mu);
    done = s.ok() && o.size() == 5;
    in_batch = CompletionBatch::Current();
    cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, 10s, [&] { return done; }));
  }
  EXPECT_NE(in_batch, nullptr);
  const std::vector<Envelope> got = raw->got();
  ASSERT_EQ(got.size(), 5u);
  for (const Envelope& e : got) {
    auto stored = ParseEnvelope(e.wire);
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(stored->auth.Find("alg")->as_string(), kEnvelopeBatchAuthAlg);
    EXPECT_EQ(VerifyEnvelopeAuth(*stored, Keys()), "");
  }
  EXPECT_EQ(p.groups(), 0u) << "a batch does not wait for the grouper";
  EXPECT_EQ(sizes.Get(), (std::vector<size_t>{5})) << "a batch is one group";
}

// A Part counting the completions of its batch; records the count when the batch closes.
struct CountingPart final : CompletionBatch::Part {
  explicit CountingPart(std::vector<int>* closes) : closes(closes) {}
  void Close() override { closes->push_back(count); }
  std::vector<int>* closes;
  int count = 0;
};

// Completions that arrive while the completion thread is busy run together, in ONE
// CompletionBatch, whose parts close once after the last of them (the gateway's audit records
// of the run appended with one write).
TEST(GroupingPublisherTest, CompletionsWaitingTogetherRunInOneCompletionBatch) {
  auto capture = std::make_unique<Capture>(/*hold=*/true);
  Capture* raw = capture.get();
  GroupingPublisherOptions opts;
  opts.max_groups_in_flight = 0;  // all four out at once, their acks held
  auto p = std::make_unique<GroupingPublisher>(std::move(capture), nullptr, opts);
  FakeClock clock;
  FakeRandom random;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  bool first_running = false;
  std::vector<int> closes;  // written on the completion thread only
  std::vector<const CompletionBatch*> batches;
  int calls = 0;
  static const int kKey = 0;
  auto callback = [&](bool block) {
    return [&, block](Status, PublishOutcome) {
      CompletionBatch* b = CompletionBatch::Current();
      ASSERT_NE(b, nullptr);
      b->PartFor<CountingPart>(&kKey, [&] { return std::make_unique<CountingPart>(&closes); })
          .count++;
      std::unique_lock<std::mutex> l(mu);
      batches.push_back(b);
      ++calls;
      if (block) {
        first_running = true;
        cv.notify_all();
        cv.wait(l, [&] { return release; });
      }
      cv.notify_all();
    };
  };
  p->Publish(Ingest(clock, random, 0), callback(/*block=*/true));
  for (int i = 1; i <= 3; ++i) p->Publish(Ingest(clock, random, i), callback(false));
  raw->AwaitHeld(4);
  std::vector<PublishCallback> held = raw->TakeHeld();
  ASSERT_EQ(held.size(), 4u);
  held[0](Status::Ok(), PublishOutcome::kStored);  // the completion thread blocks in it
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, 10s, [&] { return first_running; }));
  }
  for (size_t i = 1; i < held.size(); ++i) held[i](Status::Ok(), PublishOutcome::kDuplicate);
  {
    std::lock_guard<std::mutex> l(mu);
    release = true;
    cv.notify_all();
  }
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, 10s, [&] { return calls == 4; }));
  }
  p.reset();  // joins the completion thread: `closes` is complete
  // Two runs: the first completion alone, then the three that waited for it (the parts say
  // so; the batches live at one stack address, so their pointers cannot tell runs apart).
  ASSERT_EQ(batches.size(), 4u);
  EXPECT_EQ(closes, (std::vector<int>{1, 3})) << "one close per run, after its last completion";
}

// One group in flight at most, over a Capture that holds every ack for the test to return:
// `raw` is the capture, `p` the publisher; Publish(i) publishes event i.
class OneGroupInFlightTest : public ::testing::Test {
 protected:
  OneGroupInFlightTest() : p_(MakeCapture(), Signer(), Options()) {}
  std::unique_ptr<Capture> MakeCapture() {
    auto capture = std::make_unique<Capture>(/*hold=*/true);
    raw_ = capture.get();
    return capture;
  }
  GroupingPublisherOptions Options() {
    GroupingPublisherOptions opts;
    opts.max_groups_in_flight = 1;
    opts.on_group = sizes_.Hook();
    return opts;
  }
  void Publish(int i) { p_.Publish(Ingest(clock_, random_, i), results_.Callback()); }
  void AckAllHeld(Status s = Status::Ok()) {
    for (auto& cb : raw_->TakeHeld()) cb(s, PublishOutcome::kStored);
  }

  Capture* raw_ = nullptr;
  Results results_;
  GroupSizes sizes_;
  FakeClock clock_;
  FakeRandom random_;
  GroupingPublisher p_;
};

// Self-clocking: while max_groups_in_flight groups wait for their acks, the publishes that
// arrive wait too and go out as ONE group when an ack round trip ends (JetStream's acks take
// ~1 ms; that is when a loaded gateway's publishes gather).
TEST_F(OneGroupInFlightTest, PublishesArrivingWhileAGroupAwaitsItsAcksFormTheNextGroup) {
  Publish(0);
  raw_->AwaitHeld(1);  // group {0} is out, its ack not back
  for (int i = 1; i <= 5; ++i) Publish(i);
  // (Were the bound ignored, the grouper would be free to hand these on now.)
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(raw_->got().size(), 1u) << "nothing more goes out while a group is in flight";
  AckAllHeld();
  raw_->AwaitHeld(5);  // the ack ended the flight: 1..5 went out together
  AckAllHeld();
  results_.Await(6);
  EXPECT_EQ(p_.groups(), 2u);
  EXPECT_EQ(sizes_.Get(), (std::vector<size_t>{1, 5}));
  for (const Status& st : results_.statuses) EXPECT_TRUE(st.ok()) << st.ToString();
  // The five share one signature.
  std::set<std::string> sigs;
  const std::vector<Envelope> got = raw_->got();
  ASSERT_EQ(got.size(), 6u);
  for (size_t i = 1; i < got.size(); ++i) {
    auto stored = ParseEnvelope(got[i].wire);
    ASSERT_TRUE(stored.ok());
    sigs.insert(stored->auth.Find("sig")->as_string());
  }
  EXPECT_EQ(sigs.size(), 1u);
}

// Publishes that arrive while a group awaits its acks do not wake the grouper (it could not
// form a group): the last ack does. Nor does an ack with nothing pending.
TEST_F(OneGroupInFlightTest, TheGrouperWakesOnlyWhenItCanFormAGroup) {
  Publish(0);
  raw_->AwaitHeld(1);  // group {0} in flight; the grouper sleeps until its ack
  for (int i = 1; i <= 50; ++i) {
    Publish(i);
    std::this_thread::sleep_for(200us);  // each publish a moment of its own to wake it in
  }
  EXPECT_EQ(raw_->got().size(), 1u);
  AckAllHeld();
  raw_->AwaitHeld(50);  // the ack woke it: 1..50 as one group
  AckAllHeld();
  results_.Await(51);
  EXPECT_EQ(p_.groups(), 2u);
  // Nothing pending when the second group's ack came back: no wake-up for that either. (A
  // spurious wake-up of the condition variable itself is possible, rarely: one is allowed.)
  std::this_thread::sleep_for(20ms);
  EXPECT_LE(p_.idle_wakeups(), 1u);
  // An idle publisher still sends a lone publish at once.
  Publish(99);
  raw_->AwaitHeld(1);
  AckAllHeld();
  results_.Await(52);
  EXPECT_EQ(p_.groups(), 3u);
  for (const Status& st : results_.statuses) EXPECT_TRUE(st.ok()) << st.ToString();
}

// A failed ack ends the group's flight too (else one NATS error would stall every publish).
TEST_F(OneGroupInFlightTest, AFailedAckEndsTheFlightToo) {
  Publish(0);
  raw_->AwaitHeld(1);
  Publish(1);
  AckAllHeld(Status::Unavailable("nats: timeout"));
  raw_->AwaitHeld(1);
  AckAllHeld();
  results_.Await(2);
  EXPECT_FALSE(results_.statuses[0].ok());
  EXPECT_TRUE(results_.statuses[1].ok());
}

// Destruction hands every pending publish on - without waiting for the acks of the group in
// flight - lets the inner publisher complete or fail what it holds, and runs every callback
// exactly once.
TEST(GroupingPublisherTest, NothingIsLostOrCompletedTwiceOnShutdown) {
  auto capture = std::make_unique<Capture>(/*hold=*/true);
  Capture* raw = capture.get();
  Results results;
  GroupingPublisherOptions opts;
  opts.max_groups_in_flight = 1;  // 1 and 2 wait for 0's ack, which never comes
  auto p = std::make_unique<GroupingPublisher>(std::move(capture), Signer(), opts);
  FakeClock clock;
  FakeRandom random;
  raw->Close();
  p->Publish(Ingest(clock, random, 0), results.Callback());
  raw->AwaitEntered(1);
  p->Publish(Ingest(clock, random, 1), results.Callback());
  p->Publish(Ingest(clock, random, 2), results.Callback());
  GroupingPublisher* publisher = p.get();
  std::thread destroy([&] { p.reset(); });
  // The destructor cannot finish while the grouper is stuck in the inner publisher: until the
  // gate opens, `publisher` is alive and reports the shutdown.
  while (publisher->Health().ok()) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(publisher->Health().message(), "queue publisher is shutting down");
  raw->Open();
  destroy.join();
  ASSERT_EQ(results.statuses.size(), 3u);
  for (const Status& s : results.statuses) {
    EXPECT_EQ(s.code(), StatusCode::kUnavailable);
    EXPECT_EQ(s.message(), "capture destroyed");
  }
}

TEST(GroupingPublisherTest, RefusesWhenTooManyPublishesWait) {
  auto capture = std::make_unique<Capture>();
  Capture* raw = capture.get();
  Results results;
  GroupingPublisherOptions o;
  o.max_pending = 2;
  GroupingPublisher p(std::move(capture), Signer(), o);
  FakeClock clock;
  FakeRandom random;
  raw->Close();
  p.Publish(Ingest(clock, random, 0), results.Callback());
  raw->AwaitEntered(1);  // taken by the grouper
  p.Publish(Ingest(clock, random, 1), results.Callback());
  p.Publish(Ingest(clock, random, 2), results.Callback());
  Status refused;
  p.Publish(Ingest(clock, random, 3), [&](Status s, PublishOutcome) { refused = std::move(s); });
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable);
  EXPECT_EQ(refused.message(),
            "Telemetry queue publish failed: too many publishes waiting to be signed");
  raw->Open();
  results.Await(3);
  for (const Status& s : results.statuses) EXPECT_TRUE(s.ok());
  EXPECT_EQ(raw->got().size(), 3u);
}

TEST(GroupingPublisherTest, HealthIsTheInnerPublishers) {
  auto capture = std::make_unique<Capture>();
  capture->health_ = Status::Unavailable("NATS connection is reconnecting");
  GroupingPublisher p(std::move(capture), nullptr);
  EXPECT_EQ(p.Health().message(), "NATS connection is reconnecting");
}

}  // namespace
}  // namespace vv::queue
