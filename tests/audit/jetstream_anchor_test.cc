// JetStreamAnchorSink and the AuditLog's remote anchoring against a real nats-server -js
// (tests/fakes/servers.h; a missing binary fails unless VV_ALLOW_MISSING_SERVERS=1), plus
// ReconcileAnchorHead and vv-audit verify --anchor nats://...
#include "audit/jetstream_anchor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <nats/nats.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "audit/anchor.h"
#include "audit/audit_log.h"
#include "audit/verifier.h"
#include "audit_test_util.h"
#include "crypto/crypto.h"
#include "fakes/fake_clock.h"
#include "fakes/servers.h"
#include "fakes/temp_dir.h"
#include "json/json.h"

namespace vv::audit {
namespace {

using vv::testing::FakeClock;
using vv::testing::NatsServer;
using vv::testing::TempDir;

AnchorRecord Rec(int64_t index, const std::string& hash) {
  AnchorRecord r;
  r.index = index;
  r.tree_size = index - 1;
  r.entry_hash = hash;
  return r;
}

TEST(ReconcileAnchorHeadTest, NoHeadAndNothingKnownStartsAtZero) {
  auto r = ReconcileAnchorHead(std::nullopt, std::nullopt, {Rec(3, "a")});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0u);
}

TEST(ReconcileAnchorHeadTest, HeadEqualToLastKnownStartsAtZero) {
  auto r = ReconcileAnchorHead(Rec(3, "a"), Rec(3, "a"), {Rec(6, "b"), Rec(9, "c")});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0u);
}

TEST(ReconcileAnchorHeadTest, HeadAmongPendingSkipsWhatLanded) {
  auto r = ReconcileAnchorHead(Rec(6, "b"), Rec(3, "a"), {Rec(6, "b"), Rec(9, "c")});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 1u);
}

TEST(ReconcileAnchorHeadTest, ForeignOrLostHeadIsDataLoss) {
  // Same index, other hash: a fork.
  EXPECT_EQ(ReconcileAnchorHead(Rec(6, "x"), Rec(3, "a"), {Rec(6, "b")}).status().code(),
            StatusCode::kDataLoss);
  // A seal index this log never made (another history, or a longer one).
  EXPECT_EQ(ReconcileAnchorHead(Rec(7, "x"), Rec(3, "a"), {Rec(6, "b")}).status().code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(ReconcileAnchorHead(Rec(12, "x"), std::nullopt, {}).status().code(),
            StatusCode::kDataLoss);
  // The anchor lost what was anchored.
  EXPECT_EQ(ReconcileAnchorHead(std::nullopt, Rec(3, "a"), {Rec(6, "b")}).status().code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(ReconcileAnchorHead(Rec(2, "z"), Rec(3, "a"), {Rec(6, "b")}).status().code(),
            StatusCode::kDataLoss);
}

TEST(AnchorSubjectTest, OriginBecomesOneSafeToken) {
  EXPECT_EQ(AnchorSubject("vectorvue.audit.anchor", "vectorvue.local/audit-log"),
            "vectorvue.audit.anchor.vectorvue_local_audit-log");
  EXPECT_EQ(AnchorSubjectToken("a b*c>d"), "a_b_c_d");
  EXPECT_TRUE(IsNatsUrl("nats://127.0.0.1:4222"));
  EXPECT_FALSE(IsNatsUrl("/tmp/log.anchor"));
}

TEST(JetStreamAnchorOptionsTest, BadOptionsAreInvalidArgument) {
  JetStreamAnchorOptions o;
  o.subject = "elsewhere.x";
  EXPECT_EQ(JetStreamAnchorSink::Open(o).status().code(), StatusCode::kInvalidArgument);
  o = {};
  o.stream = "has.dot";
  EXPECT_EQ(JetStreamAnchorSink::Open(o).status().code(), StatusCode::kInvalidArgument);
  o = {};
  o.nats.url = "nats://127.0.0.1:" + std::to_string(vv::testing::FreeLoopbackPort());
  o.nats.require_connection = true;
  o.nats.connect_timeout_ms = 300;
  EXPECT_EQ(JetStreamAnchorSink::Open(o).status().code(), StatusCode::kUnavailable);
}

struct RunResult {
  int exit_code = -1;
  std::string out;
};

RunResult RunTool(const std::string& args) {
  RunResult r;
  std::string cmd = std::string(VV_BIN_DIR) + "/vv-audit " + args + " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

json::Value LastJson(const RunResult& r) {
  std::string s = r.out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  size_t nl = s.rfind('\n');
  auto v = json::Parse(nl == std::string::npos ? s : s.substr(nl + 1));
  EXPECT_TRUE(v.ok()) << r.out;
  return v.ok() ? std::move(v).value() : json::Value::MakeObject();
}

std::string Reason(const json::Value& v) {
  const json::Value* r = v.Find("reason");
  return r != nullptr && r->is_string() ? r->as_string() : "";
}

// Polls `pred` every 20 ms for up to `seconds`.
template <typename Pred>
bool WaitFor(Pred pred, double seconds = 10) {
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

class JetStreamAnchorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VV_REQUIRE_SERVER(nats_);
    key_ = std::make_shared<crypto::Ed25519PrivateKey>(crypto::Ed25519PrivateKey::Generate());
  }

  JetStreamAnchorOptions SinkOptions() const {
    JetStreamAnchorOptions o;
    o.nats.url = nats_.url();
    o.origin = "test.example/audit";
    o.nats.reconnect_wait_ms = 50;
    o.request_timeout_ms = 1000;
    o.nats.connect_timeout_ms = 500;
    return o;
  }
  std::unique_ptr<JetStreamAnchorSink> OpenSink() {
    auto s = JetStreamAnchorSink::Open(SinkOptions());
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  AuditLogOptions LogOptions(AnchorSink* sink) const {
    AuditLogOptions o;
    o.seal_every = 2;
    o.fsync = FsyncPolicy::kNone;
    o.seal_key = key_;
    o.checkpoint_origin = "test.example/audit";
    o.anchor_sink = sink;
    o.anchor_retry_ms = 50;
    return o;
  }
  static void AppendN(AuditLog* log, int n, const std::string& tag) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(log->Append("telemetry.accepted", "gw", testutil::Details(tag + std::to_string(i)))
                      .ok());
    }
  }
  static bool Drained(const AuditLog& log) {
    AnchorState st = log.anchor_state();
    return st.pending_seals == 0 && st.status.ok();
  }

  NatsServer nats_;
  TempDir dir_;
  FakeClock clock_;
  std::shared_ptr<crypto::Ed25519PrivateKey> key_;
};

TEST_F(JetStreamAnchorTest, StreamIsCreatedAppendOnlyAndTheServerRefusesPurgeAndDelete) {
  auto sink = OpenSink();
  ASSERT_NE(sink, nullptr);
  auto info = sink->StreamInfo();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_TRUE(info->file_storage);
  EXPECT_TRUE(info->deny_delete);
  EXPECT_TRUE(info->deny_purge);
  EXPECT_FALSE(info->allow_rollup);
  EXPECT_LE(info->max_msgs, 0);
  EXPECT_LE(info->max_bytes, 0);
  EXPECT_EQ(info->max_age_ns, 0);
  EXPECT_LE(info->max_msgs_per_subject, 0);
  ASSERT_EQ(info->subjects.size(), 1u);
  EXPECT_EQ(info->subjects[0], "vectorvue.audit.anchor.>");
  EXPECT_EQ(sink->subject(), "vectorvue.audit.anchor.test_example_audit");

  {
    auto log = AuditLog::Open(dir_.File("a.jsonl"), LogOptions(sink.get()), clock_);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    AppendN(log->get(), 2, "r");
    ASSERT_TRUE(WaitFor([&] { return Drained(**log); }));
  }
  ASSERT_EQ(sink->StreamInfo()->messages, 1u);

  // A raw client asking the server to purge or delete is refused.
  natsConnection* nc = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, nats_.url().c_str()), NATS_OK);
  jsCtx* js = nullptr;
  ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
  jsErrCode jerr = static_cast<jsErrCode>(0);
  EXPECT_NE(js_PurgeStream(js, "VV_AUDIT_ANCHOR", nullptr, &jerr), NATS_OK);
  jerr = static_cast<jsErrCode>(0);
  EXPECT_NE(js_DeleteMsg(js, "VV_AUDIT_ANCHOR", 1, nullptr, &jerr), NATS_OK);
  EXPECT_NE(js_EraseMsg(js, "VV_AUDIT_ANCHOR", 1, nullptr, &jerr), NATS_OK);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  EXPECT_EQ(sink->StreamInfo()->messages, 1u);

  // Reopening verifies the existing stream instead of recreating it.
  auto again = OpenSink();
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(again->Latest().has_value());
  EXPECT_EQ(again->Latest()->index, 3);
}

TEST_F(JetStreamAnchorTest, ExistingStreamThatIsNotAppendOnlyIsRefused) {
  natsConnection* nc = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, nats_.url().c_str()), NATS_OK);
  jsCtx* js = nullptr;
  ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char* subjects[] = {"vectorvue.audit.anchor.>"};
  cfg.Name = "VV_AUDIT_ANCHOR";
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  jsStreamInfo* si = nullptr;
  ASSERT_EQ(js_AddStream(&si, js, &cfg, nullptr, nullptr), NATS_OK);
  jsStreamInfo_Destroy(si);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  auto sink = JetStreamAnchorSink::Open(SinkOptions());
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(sink.status().message().find("deny_delete"), std::string::npos);
}

TEST_F(JetStreamAnchorTest, SealsAreAppendedInOrderAndMatchTheLog) {
  auto sink = OpenSink();
  ASSERT_NE(sink, nullptr);
  const std::string path = dir_.File("a.jsonl");
  {
    auto log = AuditLog::Open(path, LogOptions(sink.get()), clock_);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    AppendN(log->get(), 6, "r");
    ASSERT_TRUE(WaitFor([&] { return Drained(**log); }));
    EXPECT_EQ((*log)->anchor_state().last_anchored_index, 9);
  }
  auto all = sink->ReadAll();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].index, 3);
  EXPECT_EQ((*all)[1].index, 6);
  EXPECT_EQ((*all)[2].index, 9);
  EXPECT_EQ((*all)[1].previous_seal_hash, (*all)[0].entry_hash);
  const auto lines = testutil::SplitLines(testing::ReadFile(path));
  ASSERT_EQ(lines.size(), 9u);
  EXPECT_NE(lines[8].find((*all)[2].entry_hash), std::string::npos);
  VerifyOptions vo;
  vo.public_key = key_->PublicKey();
  vo.anchors = *all;
  VerifyResult v = VerifyLogFile(path, vo);
  EXPECT_TRUE(v.ok) << v.reason << " " << v.detail;
  EXPECT_EQ(v.anchored_size, 8);

  // A reopened writer continues after the anchored head.
  auto sink2 = OpenSink();
  auto log = AuditLog::Open(path, LogOptions(sink2.get()), clock_);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  AppendN(log->get(), 2, "s");
  ASSERT_TRUE(WaitFor([&] { return Drained(**log); }));
  EXPECT_EQ(sink2->ReadAll()->size(), 4u);
}

TEST_F(JetStreamAnchorTest, SecondWriterWithADifferentHistoryIsRefusedAtAppend) {
  auto sink_a = OpenSink();
  auto sink_b = OpenSink();
  ASSERT_NE(sink_a, nullptr);
  ASSERT_NE(sink_b, nullptr);
  // Both writers start while the anchor is empty; A anchors first.
  auto a = AuditLog::Open(dir_.File("a.jsonl"), LogOptions(sink_a.get()), clock_);
  // B reports the fork once through on_integrity_failure (the gateway's integrity counter).
  std::atomic<int> fork_reports{0};
  AuditLogOptions b_options = LogOptions(sink_b.get());
  b_options.on_integrity_failure = [&](const Status& s) {
    EXPECT_EQ(s.code(), StatusCode::kDataLoss);
    ++fork_reports;
  };
  auto b = AuditLog::Open(dir_.File("b.jsonl"), b_options, clock_);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE((*b)->WriteHealth().ok());
  AppendN(a->get(), 2, "a");
  ASSERT_TRUE(WaitFor([&] { return Drained(**a); }));
  // B's seal (another history) is written locally but the anchor refuses it.
  AppendN(b->get(), 2, "b");
  ASSERT_TRUE(WaitFor([&] { return (*b)->anchor_state().forked; }));
  AnchorState st = (*b)->anchor_state();
  EXPECT_EQ(st.status.code(), StatusCode::kDataLoss);
  EXPECT_NE(st.status.message().find("fork_detected"), std::string::npos) << st.status.message();
  EXPECT_EQ(st.pending_seals, 1);
  // B keeps refusing to seal onto the forked anchor.
  EXPECT_TRUE((*b)->Append("x", "gw", json::Value::MakeObject()).ok());  // no seal due
  Status refused = (*b)->Append("x", "gw", json::Value::MakeObject());  // would seal
  EXPECT_EQ(refused.code(), StatusCode::kDataLoss);
  EXPECT_EQ((*b)->SealNow().code(), StatusCode::kDataLoss);
  // Its health says so without trying an append (readiness: audit_anchor_forked), and the
  // fork was reported exactly once however often sealing is refused since.
  EXPECT_EQ((*b)->WriteHealth().code(), StatusCode::kDataLoss);
  EXPECT_EQ(fork_reports.load(), 1);
  EXPECT_TRUE((*a)->WriteHealth().ok());
  // A is unaffected and the anchor holds only A's history.
  AppendN(a->get(), 2, "a2");
  ASSERT_TRUE(WaitFor([&] { return Drained(**a); }));
  auto all = sink_a->ReadAll();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  // Reopening B's log against the anchor is refused too (its seal at line 3 differs).
  b->reset();
  auto sink_b2 = OpenSink();
  auto b2 = AuditLog::Open(dir_.File("b.jsonl"), LogOptions(sink_b2.get()), clock_);
  ASSERT_FALSE(b2.ok());
  EXPECT_EQ(b2.status().code(), StatusCode::kDataLoss);
}

TEST_F(JetStreamAnchorTest, RawPublishWithAStaleExpectedSequenceIsRefused) {
  auto sink = OpenSink();
  ASSERT_NE(sink, nullptr);
  AnchorRecord r1 = Rec(3, std::string(64, 'a'));
  AnchorRecord r2 = Rec(6, std::string(64, 'b'));
  ASSERT_TRUE(sink->Publish(r1).ok());
  // Another sink still believing the subject is empty.
  auto other = OpenSink();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(sink->Publish(r2).ok());
  auto other_head = other->Latest();
  ASSERT_TRUE(other_head.has_value());
  EXPECT_EQ(other_head->index, 3);
  Status s = other->Publish(Rec(6, std::string(64, 'c')));
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.ToString();
  // An empty-subject expectation ("0") is enforced as well.
  JetStreamAnchorOptions o = SinkOptions();
  o.origin = "fresh";
  auto f1 = JetStreamAnchorSink::Open(o);
  auto f2 = JetStreamAnchorSink::Open(o);
  ASSERT_TRUE(f1.ok() && f2.ok());
  ASSERT_TRUE((*f1)->Publish(r1).ok());
  EXPECT_EQ((*f2)->Publish(Rec(3, std::string(64, 'd'))).code(), StatusCode::kDataLoss);
  // Re-publishing what is already anchored is a no-op.
  EXPECT_TRUE(sink->Publish(r2).ok());
  EXPECT_EQ(sink->ReadAll()->size(), 2u);
}

TEST_F(JetStreamAnchorTest, AnchorOutageDoesNotBlockAppendsAndRecoveryRepublishes) {
  auto sink = OpenSink();
  ASSERT_NE(sink, nullptr);
  const std::string path = dir_.File("a.jsonl");
  auto log = AuditLog::Open(path, LogOptions(sink.get()), clock_);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  AppendN(log->get(), 2, "before");
  ASSERT_TRUE(WaitFor([&] { return Drained(**log); }));

  nats_.Stop();
  const auto t0 = std::chrono::steady_clock::now();
  AppendN(log->get(), 8, "during");  // 4 seals while the anchor is down
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(elapsed, std::chrono::seconds(1));
  ASSERT_TRUE(WaitFor([&] { return (*log)->anchor_state().lagging; }));
  AnchorState st = (*log)->anchor_state();
  EXPECT_EQ(st.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.pending_seals, 4);
  EXPECT_EQ(st.last_anchored_index, 3);
  EXPECT_FALSE(st.forked);

  ASSERT_TRUE(nats_.Restart().ok()) << nats_.Log();
  ASSERT_TRUE(WaitFor([&] { return Drained(**log); }, 20))
      << (*log)->anchor_state().status.ToString();
  EXPECT_EQ((*log)->anchor_state().last_anchored_index, 15);
  auto all = sink->ReadAll();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 5u);
  for (size_t i = 0; i < all->size(); ++i) EXPECT_EQ((*all)[i].index, 3 * (int64_t(i) + 1));
  VerifyOptions vo;
  vo.anchors = *all;
  EXPECT_TRUE(VerifyLogFile(path, vo).ok);
}

TEST_F(JetStreamAnchorTest, WriterStartsWhileTheAnchorIsDownAndCatchesUpLater) {
  const std::string path = dir_.File("a.jsonl");
  {
    auto sink = OpenSink();
    auto log = AuditLog::Open(path, LogOptions(sink.get()), clock_);
    ASSERT_TRUE(log.ok());
    AppendN(log->get(), 2, "r");
    ASSERT_TRUE(WaitFor([&] { return Drained(**log); }));
  }
  nats_.Stop();
  auto sink = OpenSink();  // connects in the background
  ASSERT_NE(sink, nullptr);
  auto log = AuditLog::Open(path, LogOptions(sink.get()), clock_);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_TRUE((*log)->anchor_state().lagging);
  AppendN(log->get(), 4, "s");
  ASSERT_TRUE(nats_.Restart().ok());
  ASSERT_TRUE(WaitFor([&] { return Drained(**log); }, 20))
      << (*log)->anchor_state().status.ToString();
  auto all = sink->ReadAll();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);  // seal 3 was not published twice
  EXPECT_EQ(all->back().index, 9);
}

TEST_F(JetStreamAnchorTest, VerifyToolDetectsTruncationAndForkAgainstTheJetStreamAnchor) {
  const std::string path = dir_.File("a.jsonl");
  {
    auto sink = OpenSink();
    AuditLogOptions o = LogOptions(sink.get());
    auto log = AuditLog::Open(path, o, clock_);
    ASSERT_TRUE(log.ok());
    AppendN(log->get(), 6, "r");
    ASSERT_TRUE(WaitFor([&] { return Drained(**log); }));
  }
  const std::string pub = key_->PublicKey().ToBase64();
  RunResult r = RunTool("verify " + path + " --anchor " + nats_.url() + " --public-key " + pub);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  json::Value v = LastJson(r);
  ASSERT_NE(v.Find("anchored_size"), nullptr) << r.out;
  EXPECT_EQ(v.Find("anchored_size")->as_int64(), 8);
  // Explicit subject works too.
  r = RunTool("verify " + path + " --anchor " + nats_.url() +
              " --anchor-subject vectorvue.audit.anchor.test_example_audit");
  EXPECT_EQ(r.exit_code, 0) << r.out;

  // Truncated after the last anchored seal: only the anchor can tell.
  const std::string full = testing::ReadFile(path);
  auto lines = testutil::SplitLines(full);
  std::string cut;
  for (int i = 0; i < 7; ++i) cut += lines[i] + "\n";
  const std::string truncated = dir_.File("truncated.jsonl");
  testing::WriteFile(truncated, cut);
  EXPECT_TRUE(VerifyLogFile(truncated).ok);
  r = RunTool("verify " + truncated + " --anchor " + nats_.url() + " --origin test.example/audit");
  EXPECT_EQ(r.exit_code, 3);  // does not verify (was 1)
  EXPECT_EQ(Reason(LastJson(r)), "truncated_after_seal") << r.out;

  // A forked log (same origin and key, another history) written without the anchor.
  const std::string forked = dir_.File("forked.jsonl");
  {
    AuditLogOptions o = LogOptions(nullptr);
    o.file_anchor = false;
    auto log = AuditLog::Open(forked, o, clock_);
    ASSERT_TRUE(log.ok());
    AppendN(log->get(), 6, "evil");
  }
  EXPECT_TRUE(VerifyLogFile(forked).ok);
  r = RunTool("verify " + forked + " --anchor " + nats_.url());
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(Reason(LastJson(r)), "fork_detected") << r.out;

  // Unreachable anchor: an operational error, never ok.
  r = RunTool("verify " + path + " --anchor nats://127.0.0.1:" +
              std::to_string(vv::testing::FreeLoopbackPort()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(Reason(LastJson(r)), "io_error") << r.out;
}

}  // namespace
}  // namespace vv::audit
