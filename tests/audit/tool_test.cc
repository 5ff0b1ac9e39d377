// Runs the built vv-audit binary (build/bin/vv-audit).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "audit/anchor.h"
#include "audit/audit_log.h"
#include "audit/checkpoint.h"
#include "audit_test_util.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "fakes/fake_clock.h"
#include "fakes/temp_dir.h"
#include "json/json.h"

namespace vv::audit {
namespace {

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

std::string LastLine(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

TEST(VvAuditToolTest, VerifyGoodLogExitsZeroWithResultJson) {
  testing::TempDir dir;
  auto lines = testutil::MakeChain(3);
  testing::WriteFile(dir.File("a.jsonl"), testutil::Join(lines));
  RunResult r = RunTool("verify " + dir.File("a.jsonl"));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(LastLine(r.out), R"({"entries":3,"latest_hash":")" + lines[2].hash +
                              R"(","ok":true,"sealed_size":0})");
}

// Exit 3 = read and does not verify (issue 16's CLI convention; was 1).
TEST(VvAuditToolTest, VerifyBrokenLogExitsThree) {
  testing::TempDir dir;
  auto lines = testutil::MakeChain(3);
  std::swap(lines[0], lines[1]);
  testing::WriteFile(dir.File("a.jsonl"), testutil::Join(lines));
  RunResult r = RunTool("verify " + dir.File("a.jsonl"));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(LastLine(r.out).rfind(R"({"broken_at":1,"detail":")", 0), 0u) << r.out;
  EXPECT_NE(LastLine(r.out).find(R"("ok":false,"reason":"previous_hash_mismatch"})"),
            std::string::npos);
}

TEST(VvAuditToolTest, UsageErrorsExitTwo) {
  EXPECT_EQ(RunTool("").exit_code, 2);
  EXPECT_EQ(RunTool("verify").exit_code, 2);
  EXPECT_EQ(RunTool("frobnicate x").exit_code, 2);
}

json::Value LastJson(const RunResult& r) {
  auto v = json::Parse(LastLine(r.out));
  EXPECT_TRUE(v.ok()) << r.out;
  return v.ok() ? std::move(v).value() : json::Value::MakeObject();
}

// A signed log written by the real writer, its key file (0600) and anchor beside it.
class SignedLogToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFile(key_path_, std::string(32, 'q'));
    ::chmod(key_path_.c_str(), 0600);
    AuditLogOptions o;
    o.seal_every = 4;
    o.fsync = FsyncPolicy::kNone;
    o.seal_key_path = key_path_;
    auto log = AuditLog::Open(log_, o, clock_);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    for (int i = 1; i <= 9; ++i) {
      ASSERT_TRUE((*log)->Append("telemetry.accepted", "telemetry_gateway",
                                 testutil::Details("r" + std::to_string(i)))
                      .ok());
    }
  }
  std::string PublicKeyB64() {
    return crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'q'))->PublicKey().ToBase64();
  }

  testing::TempDir dir_;
  std::string log_ = dir_.File("audit.jsonl");
  std::string key_path_ = dir_.File("seal.key");
  testing::FakeClock clock_{1772323200};
};

TEST_F(SignedLogToolTest, VerifyUsesTheAnchorBesideTheLogAndThePinnedKey) {
  RunResult r = RunTool("verify " + log_ + " --public-key " + PublicKeyB64());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  json::Value v = LastJson(r);
  EXPECT_EQ(v.Find("ok")->as_bool(), true);
  EXPECT_EQ(v.Find("entries")->as_int64(), 11);
  EXPECT_EQ(v.Find("sealed_size")->as_int64(), 9);
  EXPECT_EQ(v.Find("anchored_size")->as_int64(), 9);
  EXPECT_EQ(v.Find("signature_key")->as_string(), "pinned");

  // Truncating the log after the last seal is caught only through the anchor.
  std::string text = testing::ReadFile(log_);
  auto lines = testutil::SplitLines(text);
  std::string truncated;
  for (size_t i = 0; i < 8; ++i) truncated += lines[i] + "\n";
  testing::WriteFile(log_, truncated);
  r = RunTool("verify " + log_);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(LastJson(r).Find("reason")->as_string(), "truncated_after_seal");
  EXPECT_EQ(RunTool("verify " + log_ + " --no-anchor").exit_code, 0);

  // A wrong pinned key.
  r = RunTool("verify " + log_ + " --no-anchor --public-key " +
              crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'w'))->PublicKey().ToBase64());
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(LastJson(r).Find("reason")->as_string(), "seal_signature_invalid");
  EXPECT_EQ(RunTool("verify " + log_ + " --public-key notakey").exit_code, 2);
}

TEST_F(SignedLogToolTest, AnchorWithAnotherNameStartingWithTheLogNameIsFound) {
  ASSERT_EQ(std::rename(DefaultAnchorPath(log_).c_str(), (log_ + ".seals.anchor").c_str()), 0);
  RunResult r = RunTool("verify " + log_);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(LastJson(r).Find("anchored_size")->as_int64(), 9);
  testing::WriteFile(log_ + ".seals.anchor", "garbage\n");
  r = RunTool("verify " + log_);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(LastJson(r).Find("reason")->as_string(), "malformed_line");
}

TEST_F(SignedLogToolTest, ProveAndCheckProofRoundTrip) {
  for (int index : {1, 5, 9}) {
    RunResult p = RunTool("prove " + log_ + " --index " + std::to_string(index));
    ASSERT_EQ(p.exit_code, 0) << p.out;
    json::Value proof = LastJson(p);
    EXPECT_EQ(proof.Find("leaf_index")->as_int64(), index - 1);
    EXPECT_EQ(proof.Find("tree_size")->as_int64(), 9);
    const std::string proof_path = dir_.File("proof" + std::to_string(index) + ".json");
    testing::WriteFile(proof_path, LastLine(p.out) + "\n");
    RunResult c = RunTool("check-proof " + proof_path + " --public-key " + PublicKeyB64());
    EXPECT_EQ(c.exit_code, 0) << c.out;
    EXPECT_EQ(LastJson(c).Find("signature_key")->as_string(), "pinned");

    // A tampered record, leaf index or proof hash fails.
    json::Value bad = proof;
    bad.Find("record")->Find("details")->Set("request_id", "forged");
    testing::WriteFile(proof_path, json::Canonical(bad));
    c = RunTool("check-proof " + proof_path);
    EXPECT_EQ(c.exit_code, 3);
    EXPECT_EQ(LastJson(c).Find("reason")->as_string(), "entry_hash_mismatch");
    bad = proof;
    bad.Erase("record");
    bad.Set("leaf_index", index % 9);
    testing::WriteFile(proof_path, json::Canonical(bad));
    EXPECT_EQ(RunTool("check-proof " + proof_path).exit_code, 3);
    bad = proof;
    auto& hashes = bad.Find("proof")->as_array();
    ASSERT_FALSE(hashes.empty());
    std::string h = *Base64DecodeStrict(hashes[0].as_string());
    h[0] ^= 1;
    hashes[0] = json::Value(Base64Encode(h));
    testing::WriteFile(proof_path, json::Canonical(bad));
    c = RunTool("check-proof " + proof_path);
    EXPECT_EQ(LastJson(c).Find("reason")->as_string(), "inclusion_proof_invalid");
    // Another pinned key.
    testing::WriteFile(proof_path, LastLine(p.out));
    c = RunTool("check-proof " + proof_path + " --public-key " +
                crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'w'))->PublicKey().ToBase64());
    EXPECT_EQ(LastJson(c).Find("reason")->as_string(), "seal_signature_invalid");
  }
  // Entries after the latest checkpoint cannot be proved yet.
  EXPECT_EQ(RunTool("prove " + log_ + " --index 10").exit_code, 1);
  EXPECT_EQ(RunTool("prove " + log_ + " --index 0").exit_code, 1);
  testing::WriteFile(dir_.File("junk.json"), "\x01\x02{[");
  EXPECT_EQ(RunTool("check-proof " + dir_.File("junk.json")).exit_code, 3);  // malformed_proof
}

TEST_F(SignedLogToolTest, PublicKeyPrintsKeyAndKeyId) {
  RunResult r = RunTool("public-key --key " + key_path_);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  json::Value v = LastJson(r);
  EXPECT_EQ(v.Find("public_key")->as_string(), PublicKeyB64());
  auto pub = crypto::Ed25519PublicKey::FromBase64(PublicKeyB64()).value();
  EXPECT_EQ(v.Find("key_id")->as_string(),
            HexEncode(NoteKeyId(std::string(kDefaultCheckpointOrigin), pub)));
  // The printed verifier key pins the key for verify.
  EXPECT_EQ(RunTool("verify " + log_ + " --public-key " + v.Find("verifier_key")->as_string())
                .exit_code,
            0);
  ::chmod(key_path_.c_str(), 0644);
  EXPECT_EQ(RunTool("public-key --key " + key_path_).exit_code, 1);
  EXPECT_EQ(RunTool("public-key").exit_code, 2);
}

TEST(VvAuditToolTest, GarbageLogAndAnchorNeverCrash) {
  testing::TempDir dir;
  const std::string log = dir.File("g.jsonl");
  std::string garbage;
  for (int i = 0; i < 2000; ++i) garbage.push_back(static_cast<char>((i * 7919) % 256));
  testing::WriteFile(log, garbage);
  testing::WriteFile(log + ".anchor", garbage);
  RunResult r = RunTool("verify " + log);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(LastJson(r).Find("ok")->as_bool(), false);
  r = RunTool("verify " + log + " --no-anchor");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(RunTool("prove " + log + " --index 1").exit_code, 3);  // log_not_verified
}

}  // namespace
}  // namespace vv::audit
