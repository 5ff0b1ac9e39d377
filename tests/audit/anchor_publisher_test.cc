// AnchorPublisher (issue 13: the audit log's anchor publishing, split out of AuditLog): seals
// published in order, durable first; an outage leaves them pending and a retry (the log's
// tick for a local sink, the publisher's thread for a remote one) republishes from the
// anchor's re-read head; a fork is sticky and reported once.

#include "audit/anchor_publisher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/mutex.h"
#include "fakes/temp_dir.h"

namespace vv::audit {
namespace {

class FakeSink final : public AnchorSink {
 public:
  explicit FakeSink(bool remote) : remote_(remote) {}
  Status Publish(const AnchorRecord& r) override {
    MutexLock l(&mu_);
    if (fork) return Status::DataLoss("fork_detected (test)");
    if (!up) return Status::Unavailable("anchor down (test)");
    if (latest_.has_value() && !AnchorBefore(*latest_, r)) return Status::Ok();
    records.push_back(r);
    latest_ = r;
    return Status::Ok();
  }
  std::optional<AnchorRecord> Latest() const override {
    MutexLock l(&mu_);
    return latest_;
  }
  Result<std::optional<AnchorRecord>> Refresh() override {
    MutexLock l(&mu_);
    ++refreshes;
    if (!up) return Status::Unavailable("anchor down (test)");
    return latest_;
  }
  bool remote() const override { return remote_; }
  std::vector<int64_t> Indices() const {
    MutexLock l(&mu_);
    std::vector<int64_t> out;
    for (const auto& r : records) out.push_back(r.index);
    return out;
  }

  mutable Mutex mu_;
  bool up VV_GUARDED_BY(mu_) = true;
  bool fork VV_GUARDED_BY(mu_) = false;
  int refreshes VV_GUARDED_BY(mu_) = 0;
  std::vector<AnchorRecord> records VV_GUARDED_BY(mu_);

 private:
  const bool remote_;
  std::optional<AnchorRecord> latest_ VV_GUARDED_BY(mu_);
};

AnchorRecord Seal(int64_t index) {
  AnchorRecord r;
  r.index = index;
  r.tree_size = index - 1;
  r.entry_hash = std::string(64, static_cast<char>('a' + index % 6));
  return r;
}

std::unique_ptr<AnchorPublisher> Open(const std::shared_ptr<FakeSink>& sink, int64_t retry_ms,
                                      std::atomic<int>* forks = nullptr) {
  AnchorPublisherOptions o;
  o.shared_sink = sink;
  o.retry_ms = retry_ms;
  if (forks != nullptr) o.on_integrity_failure = [forks](const Status&) { ++*forks; };
  auto p = AnchorPublisher::Open("/nonexistent/audit.jsonl", std::move(o));
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? std::move(p).value() : nullptr;
}

TEST(AnchorPublisherTest, LocalSealsArePublishedInOrderOnlyAfterTheLogIsDurable) {
  auto sink = std::make_shared<FakeSink>(false);
  auto p = Open(sink, 0);
  int durable_calls = 0;
  bool durable_ok = true;
  p->Start({Seal(3)}, [&] {
    ++durable_calls;
    return durable_ok ? Status::Ok() : Status::Unavailable("fdatasync failed (test)");
  });
  EXPECT_EQ(sink->Indices(), (std::vector<int64_t>{3}));  // the scan's pending seal, at Start
  p->Queue(Seal(6));
  p->Queue(Seal(9));
  p->Kick();
  EXPECT_EQ(sink->Indices(), (std::vector<int64_t>{3, 6, 9}));
  EXPECT_EQ(durable_calls, 2);
  // The log could not be made durable: nothing is published, the seal stays pending.
  durable_ok = false;
  p->Queue(Seal(12));
  p->Kick();
  EXPECT_EQ(sink->Indices().size(), 3u);
  AnchorState st = p->state();
  EXPECT_TRUE(st.lagging);
  EXPECT_EQ(st.pending_seals, 1);
  EXPECT_NE(st.status.message().find("before anchoring"), std::string::npos);
  durable_ok = true;
  p->Pass();
  EXPECT_EQ(sink->Indices(), (std::vector<int64_t>{3, 6, 9, 12}));
  st = p->state();
  EXPECT_FALSE(st.lagging);
  EXPECT_EQ(st.last_anchored_index, 12);
}

TEST(AnchorPublisherTest, AnOutageIsRetriedByTheTickFromTheReReadHead) {
  auto sink = std::make_shared<FakeSink>(false);
  auto p = Open(sink, 1);
  p->Start({}, nullptr);
  {
    MutexLock l(&sink->mu_);
    sink->up = false;
  }
  p->Queue(Seal(3));
  p->Kick();
  p->Queue(Seal(6));
  p->Kick();
  EXPECT_EQ(p->state().pending_seals, 2);
  EXPECT_TRUE(p->state().lagging);
  {
    MutexLock l(&sink->mu_);
    sink->up = true;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const int refreshes_before = [&] {
    MutexLock l(&sink->mu_);
    return sink->refreshes;
  }();
  p->RetryTick();
  EXPECT_EQ(sink->Indices(), (std::vector<int64_t>{3, 6}));
  EXPECT_EQ(p->state().pending_seals, 0);
  MutexLock l(&sink->mu_);
  EXPECT_EQ(sink->refreshes, refreshes_before + 1);  // the head was re-read first
}

TEST(AnchorPublisherTest, AForkIsStickyAndReportedOnce) {
  auto sink = std::make_shared<FakeSink>(false);
  std::atomic<int> forks{0};
  auto p = Open(sink, 0, &forks);
  p->Start({}, nullptr);
  {
    MutexLock l(&sink->mu_);
    sink->fork = true;
  }
  p->Queue(Seal(3));
  p->Kick();
  EXPECT_EQ(forks.load(), 1);
  EXPECT_TRUE(p->state().forked);
  EXPECT_EQ(p->SealAllowed().code(), StatusCode::kDataLoss);
  {
    MutexLock l(&sink->mu_);
    sink->fork = false;  // whatever the sink says later, the fork stays
  }
  p->Pass();
  EXPECT_TRUE(p->state().forked);
  EXPECT_EQ(forks.load(), 1);
  MutexLock io(&p->io_mutex());
  EXPECT_EQ(p->PublishAllLocked().code(), StatusCode::kDataLoss);
}

TEST(AnchorPublisherTest, ARemoteSinkIsPublishedFromThePublishersThread) {
  auto sink = std::make_shared<FakeSink>(true);
  auto p = Open(sink, 5);
  p->Start({Seal(3)}, nullptr);
  p->Queue(Seal(6));
  p->Kick();  // returns at once: the thread publishes
  for (int i = 0; i < 500 && sink->Indices().size() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(sink->Indices(), (std::vector<int64_t>{3, 6}));
  p->Stop();
  p->Stop();  // idempotent
}

TEST(FileAnchorSinkTest, PublishAllAppendsTheNewRecordsOnceInOneWrite) {
  testing::TempDir dir;
  const std::string path = dir.File("audit.jsonl.anchor");
  auto sink = FileAnchorSink::Open(path, true);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  const std::vector<AnchorRecord> first = {Seal(3), Seal(6), Seal(9)};
  size_t done = 0;
  ASSERT_TRUE((*sink)->PublishAll(first, &done).ok());
  EXPECT_EQ(done, 3u);
  // A republish after an outage overlaps what is stored: only the new record is appended.
  const std::vector<AnchorRecord> again = {Seal(6), Seal(9), Seal(12)};
  ASSERT_TRUE((*sink)->PublishAll(again, &done).ok());
  EXPECT_EQ(done, 3u);
  ASSERT_TRUE((*sink)->PublishAll(again, &done).ok());  // all stored: nothing written
  EXPECT_EQ(done, 3u);
  auto file = LoadAnchorFile(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  std::vector<int64_t> indices;
  for (const auto& r : file->records) indices.push_back(r.index);
  EXPECT_EQ(indices, (std::vector<int64_t>{3, 6, 9, 12}));
  EXPECT_EQ((*sink)->Latest()->index, 12);
  // Reopened, it continues from the file.
  sink->reset();
  auto reopened = FileAnchorSink::Open(path, true);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->Latest()->index, 12);
  ASSERT_TRUE((*reopened)->Publish(Seal(15)).ok());
  EXPECT_EQ(LoadAnchorFile(path)->records.size(), 5u);
}

TEST(AnchorPublisherTest, WithoutASinkNothingIsKept) {
  AnchorPublisherOptions o;
  o.file_anchor = false;
  auto p = AnchorPublisher::Open("/nonexistent/audit.jsonl", std::move(o));
  ASSERT_TRUE(p.ok());
  (*p)->Start({}, nullptr);
  (*p)->Queue(Seal(3));
  (*p)->Kick();
  EXPECT_FALSE((*p)->state().configured);
  EXPECT_EQ((*p)->state().pending_seals, 0);
  MutexLock io(&(*p)->io_mutex());
  EXPECT_TRUE((*p)->PublishAllLocked().ok());
}

}  // namespace
}  // namespace vv::audit
