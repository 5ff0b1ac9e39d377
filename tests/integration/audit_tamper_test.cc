// Red-team on the audit log of the REAL gateway (issue 4): the gateway signs its seals with a
// configured Ed25519 key and anchors them in the file beside the log; the verifier, given the
// seal public key, detects edits, deletions, reordering, truncation, forged appended lines and a
// whole-chain rewrite (re-hashed), each with its reason; the untouched log verifies ok; and a
// copy of the reference's hash rule still verifies every line of our log.

#include <gtest/gtest.h>

#include <sstream>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "fakes/process.h"
#include "integration/gateway_harness.h"
#include "json/json.h"

namespace vv::testing {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}
std::string Join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}
// The reference's rule (wire-contract 8): entry_hash = sha256(canonical(record - entry_hash)).
std::string RefHash(json::Value record) {
  record.Erase("entry_hash");
  return crypto::Sha256Hex(json::Canonical(record));
}
// Re-hashes and re-links every line (what an attacker with write access can do).
std::vector<std::string> Rehash(std::vector<std::string> lines) {
  std::string prev;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto v = json::Parse(lines[i]).value();
    v.Set("index", static_cast<int64_t>(i + 1));
    v.Set("previous_hash", prev);
    if (v.Find("event_type")->as_string() == "log.sealed") {
      // A careful attacker also re-points each seal at the rewritten entry before it.
      v.Find("details")->Set("last_entry_hash", prev);
      v.Find("details")->Set("sealed_index", static_cast<int64_t>(i));
    }
    v.Set("entry_hash", RefHash(v));
    prev = v.Find("entry_hash")->as_string();
    lines[i] = json::Canonical(v);
  }
  return lines;
}

class AuditTamperTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto key = crypto::Ed25519PrivateKey::Generate();
    std::string key_path = dir_->File("seal.key");
    WriteFile(key_path, key.Seed(), 0600);
    pub_b64_ = new std::string(key.PublicKey().ToBase64());
    GatewayOptions o;
    o.seal_every = 3;
    o.extra_yaml = "    audit_seal_key_path: " + key_path + "\n";
    GatewayUnderTest gw(o);
    ASSERT_TRUE(gw.started()) << gw.log();
    auto c = gw.Client();
    int64_t ts = NowSeconds();
    for (int i = 0; i < 10; ++i) {
      std::string nonce = "nonce-tamper-" + std::to_string(i) + "-" + std::to_string(ts);
      auto r = SignBody(MakeTelemetryBody(ts, nonce, "evt-" + nonce), ts, nonce,
                        i % 4 == 3 ? "2222222222222222222222222222222222222222222222222222222222222222"
                                   : kProducerSeedHex);
      c.Post("/internal/v1/telemetry", TelemetryHeaders(r), r.body);
    }
    ASSERT_EQ(gw.Stop(), 0);
    log_ = new std::string(ReadFile(gw.audit_path()));
    anchor_ = new std::string(ReadFile(gw.audit_path() + ".anchor"));
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete pub_b64_;
    delete log_;
    delete anchor_;
  }
  // Verifies `text` (with the gateway's anchor beside it unless `with_anchor` is false).
  static json::Value Verify(const std::string& text, bool with_anchor = true) {
    TempDir d;
    std::string path = d.File("audit.jsonl");
    WriteFile(path, text);
    if (with_anchor) WriteFile(path + ".anchor", *anchor_);
    std::string out;
    RunCommand({std::string(VV_BIN_DIR) + "/vv-audit", "verify", path, "--public-key", *pub_b64_},
               &out);
    auto lines = Lines(out);
    auto v = lines.empty() ? Result<json::Value>(Status::InvalidArgument("")) : json::Parse(lines.back());
    return v.ok() ? *v : json::Value();
  }
  static std::string Reason(const json::Value& v) {
    return v.is_object() && v.Find("reason") ? v.Find("reason")->as_string() : "<ok or none>";
  }

  static TempDir* dir_;
  static std::string* pub_b64_;
  static std::string* log_;
  static std::string* anchor_;
};
TempDir* AuditTamperTest::dir_ = nullptr;
std::string* AuditTamperTest::pub_b64_ = nullptr;
std::string* AuditTamperTest::log_ = nullptr;
std::string* AuditTamperTest::anchor_ = nullptr;

TEST_F(AuditTamperTest, UntouchedLogVerifiesAndTheReferenceRuleAcceptsEveryLine) {
  auto v = Verify(*log_);
  ASSERT_TRUE(v.is_object());
  EXPECT_TRUE(v.Find("ok")->as_bool()) << json::Canonical(v);
  auto lines = Lines(*log_);
  ASSERT_GE(lines.size(), 13u);  // 10 requests + seals
  std::string prev;
  for (const auto& l : lines) {
    auto rec = json::Parse(l).value();
    EXPECT_EQ(rec.Find("entry_hash")->as_string(), RefHash(rec));
    EXPECT_EQ(rec.Find("previous_hash")->as_string(), prev);
    prev = rec.Find("entry_hash")->as_string();
  }
}

TEST_F(AuditTamperTest, EditedLineIsAnEntryHashMismatchAtThatLine) {
  auto lines = Lines(*log_);
  auto rec = json::Parse(lines[4]).value();
  rec.Find("details")->Set("request_id", "forged");
  lines[4] = json::Canonical(rec);
  auto v = Verify(Join(lines));
  EXPECT_EQ(Reason(v), "entry_hash_mismatch");
  EXPECT_EQ(v.Find("broken_at")->int_text(), "5");
}

TEST_F(AuditTamperTest, DeletedLineIsDetected) {
  auto lines = Lines(*log_);
  lines.erase(lines.begin() + 2);
  EXPECT_EQ(Reason(Verify(Join(lines))), "previous_hash_mismatch");
}

TEST_F(AuditTamperTest, ReorderedLinesAreDetected) {
  auto lines = Lines(*log_);
  std::swap(lines[1], lines[2]);
  EXPECT_EQ(Reason(Verify(Join(lines))), "previous_hash_mismatch");
}

TEST_F(AuditTamperTest, TruncationBelowAnAnchoredSealIsDetected) {
  auto lines = Lines(*log_);
  lines.resize(lines.size() / 2);
  EXPECT_EQ(Reason(Verify(Join(lines))), "truncated_after_seal");
}

TEST_F(AuditTamperTest, ForgedAppendedLinesAreNotCoveredByAnySeal) {
  auto lines = Lines(*log_);
  auto last = json::Parse(lines.back()).value();
  json::Value forged = json::Value::MakeObject();
  forged.Set("index", static_cast<int64_t>(lines.size() + 1));
  forged.Set("timestamp", "2026-11-28T00:00:00+00:00");
  forged.Set("event_type", "telemetry.accepted");
  forged.Set("actor", "telemetry_gateway");
  json::Value d = json::Value::MakeObject();
  d.Set("request_id", "forged");
  forged.Set("details", std::move(d));
  forged.Set("previous_hash", last.Find("entry_hash")->as_string());
  forged.Set("entry_hash", RefHash(forged));
  lines.push_back(json::Canonical(forged));
  auto v = Verify(Join(lines));
  ASSERT_TRUE(v.is_object());
  // The chain is intact, but the forged line is outside every signed checkpoint.
  EXPECT_TRUE(v.Find("ok")->as_bool());
  EXPECT_LT(std::stoll(v.Find("sealed_size")->int_text()), std::stoll(v.Find("entries")->int_text()));
}

TEST_F(AuditTamperTest, WholeChainRewriteIsDetectedBySignaturesAndTheAnchor) {
  auto lines = Lines(*log_);
  auto rec = json::Parse(lines[0]).value();
  rec.Find("details")->Set("request_id", "rewritten");
  lines[0] = json::Canonical(rec);
  auto rewritten = Join(Rehash(lines));
  std::string r = Reason(Verify(rewritten));
  EXPECT_TRUE(r == "merkle_root_mismatch" || r == "seal_signature_invalid" || r == "fork_detected")
      << r;
  std::string no_anchor = Reason(Verify(rewritten, /*with_anchor=*/false));
  EXPECT_TRUE(no_anchor == "merkle_root_mismatch" || no_anchor == "seal_signature_invalid")
      << no_anchor;
}

}  // namespace
}  // namespace vv::testing
