// Kill switch (SD-03) dual control: canonical request, approvals by two distinct configured
// approvers, compare-and-swap on the file store, engage/release round trip.

#include "app/kill_switch.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "fakes/fake_clock.h"
#include "fakes/temp_dir.h"

namespace vv::app::killswitch {
namespace {

crypto::Ed25519PrivateKey Key(char c) {
  return crypto::Ed25519PrivateKey::FromSeed(std::string(32, c)).value();
}

class KillSwitchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::ServiceIdentity id;
    id.id = "spectrastrike-producer";
    id.cert_sha256_pins = {std::string(64, 'a')};
    cfg_.identities.push_back(id);
    cfg_.kill_switch_approvers = {{"alice", alice_.PublicKey()}, {"bob", bob_.PublicKey()}};
    store_ = MakeFileStore(dir_.File("kill-switch.json"));
  }
  std::string Canonical(const std::string& action, int64_t gen = 0) {
    return CanonicalRequest(action, "spectrastrike-producer", "key compromise", gen);
  }
  Result<State> Do(const std::string& action, const std::vector<Approval>& approvals) {
    return Apply(*store_, cfg_, action, "spectrastrike-producer", "key compromise", approvals,
                 clock_);
  }

  testing::TempDir dir_;
  testing::FakeClock clock_{1772107200};
  crypto::Ed25519PrivateKey alice_ = Key('a'), bob_ = Key('b'), mallory_ = Key('m');
  config::GatewayConfig cfg_;
  std::unique_ptr<Store> store_;
};

TEST_F(KillSwitchTest, CanonicalRequestIsSortedCompactJson) {
  EXPECT_EQ(Canonical("engage", 3),
            R"({"action":"engage","generation":3,"identity":"spectrastrike-producer","reason":"key compromise"})");
}

TEST_F(KillSwitchTest, OneApprovalIsRefusedAndNothingIsWritten) {
  auto r = Do("engage", {Sign(Canonical("engage"), "alice", alice_)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(store_->Read().value().empty());
}

TEST_F(KillSwitchTest, SameApproverTwiceIsRefused) {
  auto a = Sign(Canonical("engage"), "alice", alice_);
  auto r = Do("engage", {a, a});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("DISTINCT"), std::string::npos);
}

TEST_F(KillSwitchTest, UnknownApproverOrForgedSignatureIsRefused) {
  auto r = Do("engage", {Sign(Canonical("engage"), "alice", alice_),
                         Sign(Canonical("engage"), "mallory", mallory_)});
  EXPECT_FALSE(r.ok());
  r = Do("engage", {Sign(Canonical("engage"), "alice", alice_),
                    Sign(Canonical("engage"), "bob", mallory_)});
  EXPECT_FALSE(r.ok());
  // An approval of a different request (other reason) does not verify.
  r = Do("engage", {Sign(Canonical("engage"), "alice", alice_),
                    Sign(CanonicalRequest("engage", "spectrastrike-producer", "other", 0), "bob",
                         bob_)});
  EXPECT_FALSE(r.ok());
}

TEST_F(KillSwitchTest, TwoDistinctApproversEngageThenReleaseWithFreshApprovals) {
  auto r = Do("engage", {Sign(Canonical("engage"), "alice", alice_),
                         Sign(Canonical("engage"), "bob", bob_)});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->generation, 1);
  auto st = ParseState(store_->Read().value()).value();
  EXPECT_EQ(st.RevokedIds(), std::set<std::string>{"spectrastrike-producer"});
  EXPECT_EQ(st.revoked.at("spectrastrike-producer").approvals.size(), 2u);
  // Replaying the engage approvals for a release fails (different action and generation).
  auto replay = Do("release", {Sign(Canonical("engage"), "alice", alice_),
                               Sign(Canonical("engage"), "bob", bob_)});
  EXPECT_FALSE(replay.ok());
  auto rel = Do("release", {Sign(Canonical("release", 1), "alice", alice_),
                            Sign(Canonical("release", 1), "bob", bob_)});
  ASSERT_TRUE(rel.ok()) << rel.status().ToString();
  EXPECT_TRUE(ParseState(store_->Read().value()).value().RevokedIds().empty());
}

// Issue 12: engage (0->1), release (1->2), engage again (2->3). Writing the generation-2 state
// (an old, genuinely approved release) back lifts nothing on a gateway that applied 3, and a
// state re-numbered to look newer does not carry approvals for its own transition.
TEST_F(KillSwitchTest, AnOldApprovedReleaseWrittenBackLiftsNoNewerRevocation) {
  auto approve = [&](const std::string& action, int64_t gen) {
    return std::vector<Approval>{Sign(Canonical(action, gen), "alice", alice_),
                                 Sign(Canonical(action, gen), "bob", bob_)};
  };
  ASSERT_TRUE(Do("engage", approve("engage", 0)).ok());
  auto released = Do("release", approve("release", 1));
  ASSERT_TRUE(released.ok());
  const State old_release = *released;  // generation 2, last_change = the approved release
  EXPECT_TRUE(CheckRelease(old_release, "spectrastrike-producer", 1, cfg_.kill_switch_approvers)
                  .ok());  // the genuine transition 1 -> 2
  auto again = Do("engage", approve("engage", 2));
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->generation, 3);

  Status stale = CheckRelease(old_release, "spectrastrike-producer", 3, cfg_.kill_switch_approvers);
  EXPECT_EQ(stale.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(stale.message().find("stale kill-switch state"), std::string::npos) << stale.message();

  State renumbered = old_release;
  renumbered.generation = 4;
  Status replay =
      CheckRelease(renumbered, "spectrastrike-producer", 3, cfg_.kill_switch_approvers);
  EXPECT_EQ(replay.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(replay.message().find("approved for generation 1"), std::string::npos)
      << replay.message();

  // Another identity's release, and a release whose approvals do not verify, lift nothing.
  EXPECT_FALSE(CheckRelease(old_release, "other", 1, cfg_.kill_switch_approvers).ok());
  State forged = old_release;
  forged.last_change.Set("approvals", json::Value::MakeArray());
  EXPECT_FALSE(CheckRelease(forged, "spectrastrike-producer", 1, cfg_.kill_switch_approvers).ok());
}

// The gateway's side as a pure function: what a state read from the store changes.
TEST_F(KillSwitchTest, DiffEngagesReleasesOnlyWithDualControlAndNeverMovesBack) {
  auto approve = [&](const std::string& action, int64_t gen) {
    return std::vector<Approval>{Sign(Canonical(action, gen), "alice", alice_),
                                 Sign(Canonical(action, gen), "bob", bob_)};
  };
  const auto& approvers = cfg_.kill_switch_approvers;
  const std::string id = "spectrastrike-producer";
  // Nothing revoked, nothing written: nothing to do.
  Plan p = Diff({}, -1, State{}, approvers);
  EXPECT_FALSE(p.changed());
  EXPECT_TRUE(p.save);  // the generation moved from -1 (never applied) to 0
  EXPECT_EQ(Diff({}, 0, State{}, approvers).save, false);

  auto engaged = Do("engage", approve("engage", 0));
  ASSERT_TRUE(engaged.ok());
  p = Diff({}, 0, *engaged, approvers);
  EXPECT_EQ(p.engaged, std::vector<std::string>{id});
  EXPECT_TRUE(p.released.empty());
  EXPECT_EQ(p.revoked, std::set<std::string>{id});
  EXPECT_EQ(p.applied_generation, 1);
  EXPECT_TRUE(p.changed());
  EXPECT_TRUE(p.save);
  // The same state again: nothing changes, nothing to save.
  Plan again = Diff(p.revoked, p.applied_generation, *engaged, approvers);
  EXPECT_FALSE(again.changed());
  EXPECT_FALSE(again.save);

  // A genuine, approved release lifts it.
  auto released = Do("release", approve("release", 1));
  ASSERT_TRUE(released.ok());
  p = Diff({id}, 1, *released, approvers);
  EXPECT_EQ(p.released, std::vector<std::string>{id});
  EXPECT_TRUE(p.revoked.empty());
  EXPECT_EQ(p.applied_generation, 2);

  // A hand-edited state that just drops the identity lifts nothing: it stays revoked, the
  // refusal names why, and a second identity in the state is engaged in the same pass.
  State edited = *engaged;
  edited.revoked.clear();
  edited.generation = 5;
  Revocation other;
  other.identity = "other-producer";
  edited.revoked["other-producer"] = other;
  p = Diff({id}, 1, edited, approvers);
  EXPECT_TRUE(p.released.empty());
  ASSERT_EQ(p.refused_releases.size(), 1u);
  EXPECT_EQ(p.refused_releases[0].first, id);
  EXPECT_FALSE(p.refused_releases[0].second.empty());
  EXPECT_EQ(p.engaged, std::vector<std::string>{"other-producer"});
  EXPECT_EQ(p.revoked, (std::set<std::string>{"other-producer", id}));
  EXPECT_EQ(p.applied_generation, 5);

  // An older state (a replay of the release) on a gateway that applied generation 3 lifts
  // nothing and does not move the applied generation back.
  p = Diff({id}, 3, *released, approvers);
  EXPECT_TRUE(p.released.empty());
  EXPECT_EQ(p.refused_releases.size(), 1u);
  EXPECT_EQ(p.revoked, std::set<std::string>{id});
  EXPECT_EQ(p.applied_generation, 3);
  EXPECT_FALSE(p.save);
}

TEST_F(KillSwitchTest, AppliedRecordRoundTripsOwnerOnly) {
  const std::string path = dir_.File("audit.jsonl.kill-switch");
  auto none = LoadApplied(path);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->generation, -1);
  ASSERT_TRUE(SaveApplied(path, {3, {"spectrastrike-producer"}}).ok());
  auto back = LoadApplied(path);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->generation, 3);
  EXPECT_EQ(back->revoked, std::set<std::string>{"spectrastrike-producer"});
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  testing::WriteFile(path, "{\"generation\":\"x\"}", 0600);
  EXPECT_EQ(LoadApplied(path).status().code(), StatusCode::kDataLoss);
}

TEST_F(KillSwitchTest, EngageOfUnknownIdentityIsRefused) {
  auto c = CanonicalRequest("engage", "nobody", "x", 0);
  auto r = Apply(*store_, cfg_, "engage", "nobody", "x",
                 {Sign(c, "alice", alice_), Sign(c, "bob", bob_)}, clock_);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST_F(KillSwitchTest, CompareAndSwapRefusesAStaleExpectation) {
  ASSERT_TRUE(store_->CompareAndSwap("", "{\"generation\":1,\"revoked\":{}}").ok());
  EXPECT_FALSE(store_->CompareAndSwap("", "{\"generation\":2,\"revoked\":{}}").ok());
}

TEST_F(KillSwitchTest, StateParserRejectsGarbage) {
  EXPECT_FALSE(ParseState("[").ok());
  EXPECT_FALSE(ParseState("{\"generation\":-1,\"revoked\":{}}").ok());
  EXPECT_FALSE(ParseState("{\"generation\":1}").ok());
  EXPECT_TRUE(ParseState("").ok());
}

}  // namespace
}  // namespace vv::app::killswitch
