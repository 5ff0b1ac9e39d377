// vvctl identity stage/retire helpers: YAML edits validated as the gateway would.

#include "config/config_edit.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "crypto/crypto.h"
#include "fakes/telemetry_builder.h"
#include "fakes/temp_dir.h"

namespace vv::config::edit {
namespace {

const std::string kPinA(64, 'a');
const std::string kPinB(64, 'b');

// TLS files the validation requires to exist (contents are not parsed by the config layer).
const testing::TempDir& Files() {
  static testing::TempDir* dir = [] {
    auto* d = new testing::TempDir();
    testing::WriteFile(d->File("c.crt"), "x", 0644);
    testing::WriteFile(d->File("c.key"), "x", 0600);
    testing::WriteFile(d->File("ca.crt"), "x", 0644);
    return d;
  }();
  return *dir;
}

std::string Yaml() {
  return std::string("vectorvue:\n  telemetry_gateway:\n    queue_backend: embedded\n") +
         "    tls:\n      cert_path: " + Files().File("c.crt") + "\n      key_path: " +
         Files().File("c.key") + "\n      ca_path: " + Files().File("ca.crt") + "\n" +
         "    require_mtls: true\n    allowed_service_identities:\n      svc: " + kPinA + "\n" +
         "    spectrastrike_ed25519_public_key_b64: " + testing::kProducerPublicKeyB64 + "\n" +
         "    operator_tenant_map:\n      op-001: " + testing::kTenant1 + "\n";
}

config::GatewayConfig Parse(const std::string& text) {
  auto c = config::ParseGatewayConfig(text, nullptr, "/");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : config::GatewayConfig{};
}

TEST(ConfigEditTest, StageAndRetirePinConvertsThePinOnlyForm) {
  auto t = ApplyToText(Yaml(), {Op::kStagePin, "svc", "", "", kPinB}, nullptr, "/", false);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  auto cfg = Parse(*t);
  ASSERT_EQ(cfg.identities.size(), 1u);
  EXPECT_EQ(cfg.identities[0].cert_sha256_pins, (std::vector<std::string>{kPinA, kPinB}));
  auto r = ApplyToText(*t, {Op::kRetirePin, "svc", "", "", kPinA}, nullptr, "/", false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Parse(*r).identities[0].cert_sha256_pins, (std::vector<std::string>{kPinB}));
  // The last pin cannot be retired.
  EXPECT_FALSE(ApplyToText(*r, {Op::kRetirePin, "svc", "", "", kPinB}, nullptr, "/", false).ok());
}

TEST(ConfigEditTest, StageAndRetireKeys) {
  const std::string new_key =
      crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'n')).value().PublicKey().ToBase64();
  auto t = ApplyToText(Yaml(), {Op::kStageKey, "svc", "k1", testing::kProducerPublicKeyB64, ""},
                       nullptr, "/", false);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  t = ApplyToText(*t, {Op::kStageKey, "svc", "k2", new_key, ""}, nullptr, "/", false);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(Parse(*t).identities[0].signing_keys.size(), 2u);
  EXPECT_FALSE(ApplyToText(*t, {Op::kStageKey, "svc", "k2", new_key, ""}, nullptr, "/", false).ok());
  EXPECT_FALSE(ApplyToText(*t, {Op::kStageKey, "svc", "k3", "not-a-key", ""}, nullptr, "/", false).ok());
  t = ApplyToText(*t, {Op::kRetireKey, "svc", "k1", "", ""}, nullptr, "/", false);
  ASSERT_TRUE(t.ok());
  auto cfg = Parse(*t);
  ASSERT_EQ(cfg.identities[0].signing_keys.size(), 1u);
  EXPECT_EQ(cfg.identities[0].signing_keys[0].kid, "k2");
  EXPECT_FALSE(ApplyToText(*t, {Op::kRetireKey, "svc", "k2", "", ""}, nullptr, "/", false).ok());
}

TEST(ConfigEditTest, UnknownIdentityIsRefused) {
  EXPECT_EQ(ApplyToText(Yaml(), {Op::kStagePin, "nope", "", "", kPinB}, nullptr, "/", false)
                .status()
                .code(),
            StatusCode::kNotFound);
}

TEST(ConfigEditTest, ApplyToFileWritesAtomicallyKeepingTheMode) {
  testing::TempDir dir;
  const std::string path = dir.File("gw.yaml");
  testing::WriteFile(path, Yaml(), 0600);
  Status s = ApplyToFile(path, {Op::kStagePin, "svc", "", "", kPinB}, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Parse(testing::ReadFile(path)).identities[0].cert_sha256_pins.size(), 2u);
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // An edit that would not validate leaves the file untouched.
  const std::string before = testing::ReadFile(path);
  EXPECT_FALSE(ApplyToFile(path, {Op::kStageKey, "svc", "k", "AAAA", ""}, nullptr).ok());
  EXPECT_EQ(testing::ReadFile(path), before);
}


// ---- Surgical edits: everything outside the edited entry stays byte for byte. ----

const std::string kPinC(64, 'c');
const std::string kPinD(64, 'd');

std::string NewKey() {
  return crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'n')).value().PublicKey().ToBase64();
}

// An operator's config: comments above, inside and after the section and at the end of the
// file, blank lines, quoting, a pin-only identity with a trailing comment, a mapping identity.
std::string Commented() {
  return std::string("# VectorVue gateway (prod-eu). Owner: SRE.\n\n") +
         "vectorvue:\n"
         "  telemetry_gateway:\n"
         "    queue_backend: embedded   # lab\n"
         "    tls:\n"
         "      cert_path: '" + Files().File("c.crt") + "'\n"
         "      key_path: \"" + Files().File("c.key") + "\"\n"
         "      ca_path: " + Files().File("ca.crt") + "\n"
         "    require_mtls: true\n"
         "\n"
         "    # Service identities: pin-only or mapping form.\n"
         "    allowed_service_identities:\n"
         "      # the producer\n"
         "      svc: " + kPinA + "   # 2025 client cert\n"
         "\n"
         "      other:\n"
         "        # rotated 2026-01\n"
         "        cert_sha256:\n"
         "          - " + kPinB + "   # current\n"
         "        signing_keys:\n"
         "          k-old: \"" + testing::kProducerPublicKeyB64 + "\"   # retire after Q2\n"
         "        # staged keys go above\n"
         "      third:\n"
         "        cert_sha256: [" + kPinC + "]\n"
         "    # end of identities\n"
         "    spectrastrike_ed25519_public_key_b64: " + testing::kProducerPublicKeyB64 + "\n"
         "    operator_tenant_map:\n"
         "      op-001: " + testing::kTenant1 + "   # tenant 1\n"
         "\n"
         "# end of file\n";
}

// `text` with its only occurrence of `from` replaced by `to`.
std::string Swap(const std::string& text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  EXPECT_EQ(text.find(from, at + 1), std::string::npos) << from;
  return at == std::string::npos ? text : text.substr(0, at) + to + text.substr(at + from.size());
}

Result<std::string> Apply(const std::string& text, const Edit& e, ApplyReport* report = nullptr) {
  auto r = ApplyToText(text, e, nullptr, "/", true, report);
  if (r.ok()) Parse(*r);  // always a valid gateway config
  return r;
}

config::ServiceIdentity Identity(const config::GatewayConfig& cfg, const std::string& id) {
  for (const auto& i : cfg.identities)
    if (i.id == id) return i;
  ADD_FAILURE() << "no identity " << id;
  return {};
}

TEST(ConfigEditSurgicalTest, StagePinAddsOneLineAndRetireRoundTrips) {
  const std::string pin_line = "          - " + kPinB + "   # current\n";
  ApplyReport report;
  auto t = Apply(Commented(), {Op::kStagePin, "other", "", "", kPinD}, &report);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_TRUE(report.surgical) << report.fallback_reason;
  EXPECT_EQ(*t, Swap(Commented(), pin_line, pin_line + "          - " + kPinD + "\n"));
  auto r = Apply(*t, {Op::kRetirePin, "other", "", "", kPinD});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, Commented());
  // Retiring the old pin removes just its line (and its comment).
  r = Apply(*t, {Op::kRetirePin, "other", "", "", kPinB});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, Swap(Commented(), pin_line, "          - " + kPinD + "\n"));
}

TEST(ConfigEditSurgicalTest, StageAndRetireKeyTouchOnlyTheKidLines) {
  const std::string old_line = "          k-old: \"" + std::string(testing::kProducerPublicKeyB64) +
                               "\"   # retire after Q2\n";
  auto t = Apply(Commented(), {Op::kStageKey, "other", "k-new", NewKey(), ""});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, Swap(Commented(), old_line, old_line + "          k-new: " + NewKey() + "\n"));
  auto r = Apply(*t, {Op::kRetireKey, "other", "k-new", "", ""});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, Commented());
  r = Apply(*t, {Op::kRetireKey, "other", "k-old", "", ""});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, Swap(Commented(), old_line, "          k-new: " + NewKey() + "\n"));
  const auto other = Identity(Parse(*r), "other");
  ASSERT_EQ(other.signing_keys.size(), 1u);
  EXPECT_EQ(other.signing_keys[0].kid, "k-new");
}

TEST(ConfigEditSurgicalTest, PinOnlyIdentityIsConvertedInPlaceKeepingItsComments) {
  auto t = Apply(Commented(), {Op::kStagePin, "svc", "", "", kPinD});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, Swap(Commented(), "      svc: " + kPinA + "   # 2025 client cert\n",
                     "      svc:   # 2025 client cert\n"
                     "        cert_sha256:\n"
                     "          - " + kPinA + "\n"
                     "          - " + kPinD + "\n"));
  // A key staged next is appended after the identity's last line, before the blank line.
  auto k = Apply(*t, {Op::kStageKey, "svc", "k1", NewKey(), ""});
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(*k, Swap(*t, "          - " + kPinD + "\n",
                     "          - " + kPinD + "\n        signing_keys:\n          k1: " +
                         NewKey() + "\n"));
  const auto svc = Identity(Parse(*k), "svc");
  EXPECT_EQ(svc.cert_sha256_pins, (std::vector<std::string>{kPinA, kPinD}));
  EXPECT_EQ(svc.signing_keys.size(), 1u);
}

TEST(ConfigEditSurgicalTest, FourSpaceIndentationIsFollowed) {
  const std::string text = std::string("vectorvue:\n    telemetry_gateway:\n") +
                           "        queue_backend: embedded\n        tls:\n" +
                           "            cert_path: " + Files().File("c.crt") + "\n" +
                           "            key_path: " + Files().File("c.key") + "\n" +
                           "            ca_path: " + Files().File("ca.crt") + "\n" +
                           "        allowed_service_identities:\n" +
                           "            svc: " + kPinA + "\n" +  // last line, no newline
                           "        operator_tenant_map:\n" +
                           "            op-001: " + testing::kTenant1;
  auto t = Apply(text, {Op::kStageKey, "svc", "k1", NewKey(), ""});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, Swap(text, "            svc: " + kPinA + "\n",
                     "            svc:\n                cert_sha256:\n"
                     "                    -   " + kPinA + "\n"  // yaml-cpp pads to the indent
                     "                signing_keys:\n                    k1: " + NewKey() + "\n"));
}

TEST(ConfigEditSurgicalTest, CrlfLineEndingsArePreserved) {
  const auto crlf = [](const std::string& lf) {
    std::string out;
    for (char ch : lf) {
      if (ch == '\n') out += '\r';
      out += ch;
    }
    return out;
  };
  const std::string pin_line = "          - " + kPinB + "   # current\n";
  ApplyReport report;
  auto t = Apply(crlf(Commented()), {Op::kStagePin, "other", "", "", kPinD}, &report);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_TRUE(report.surgical) << report.fallback_reason;
  EXPECT_EQ(*t, crlf(Swap(Commented(), pin_line, pin_line + "          - " + kPinD + "\n")));
  // Mixed line endings: the whole document is re-emitted (still a valid config).
  const std::string mixed = Swap(Commented(), "# end of file\n", "# end of file\r\n");
  auto m = Apply(mixed, {Op::kStagePin, "other", "", "", kPinD}, &report);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_FALSE(report.surgical);
  EXPECT_NE(report.fallback_reason.find("line endings"), std::string::npos);
  EXPECT_EQ(Identity(Parse(*m), "other").cert_sha256_pins,
            (std::vector<std::string>{kPinB, kPinD}));
}

TEST(ConfigEditSurgicalTest, FlowStyleEntryFallsBackToTheWholeDocument) {
  ApplyReport report;
  auto t = Apply(Commented(), {Op::kStagePin, "third", "", "", kPinD}, &report);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_FALSE(report.surgical);
  EXPECT_NE(report.fallback_reason.find("flow-style collection at line"), std::string::npos)
      << report.fallback_reason;
  auto cfg = Parse(*t);
  EXPECT_EQ(Identity(cfg, "third").cert_sha256_pins, (std::vector<std::string>{kPinC, kPinD}));
  EXPECT_EQ(Identity(cfg, "other").signing_keys.size(), 1u);
  // A flow-style identity map falls back the same way.
  const std::string flow = Swap(Commented(), "      svc: " + kPinA + "   # 2025 client cert\n",
                                "      svc: {cert_sha256: [" + kPinA + "]}\n");
  t = Apply(flow, {Op::kStageKey, "svc", "k1", NewKey(), ""}, &report);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_FALSE(report.surgical);
  EXPECT_EQ(Identity(Parse(*t), "svc").signing_keys.size(), 1u);
  // Flow style elsewhere does not prevent a surgical edit of another identity.
  t = Apply(flow, {Op::kStagePin, "other", "", "", kPinD}, &report);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_TRUE(report.surgical) << report.fallback_reason;
}

TEST(ConfigEditSurgicalTest, AnchorsInTheEditedLinesFallBack) {
  const std::string text = Swap(Commented(), "          - " + kPinB + "   # current\n",
                                "          - &current " + kPinB + "\n");
  ApplyReport report;
  auto t = Apply(text, {Op::kRetirePin, "other", "", "", kPinB}, &report);
  ASSERT_FALSE(t.ok());  // the last pin
  t = Apply(text, {Op::kStagePin, "other", "", "", kPinD}, &report);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_TRUE(report.surgical);  // the anchored line is kept as is
  t = Apply(*t, {Op::kRetirePin, "other", "", "", kPinB}, &report);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_FALSE(report.surgical);
  EXPECT_NE(report.fallback_reason.find("anchor at line"), std::string::npos)
      << report.fallback_reason;
}

TEST(ConfigEditSurgicalTest, SpliceThatWouldChangeOtherDataFallsBackToAWholeReEmit) {
  // A block scalar ending in a line that looks like a comment, as the identity's last entry:
  // a child appended after its last "content" line would cut the scalar, so the re-parse
  // check rejects the splice and the whole document is re-emitted (same data, comments lost).
  const std::string text =
      Swap(Commented(), "        cert_sha256:\n          - " + kPinB + "   # current\n", "");
  const std::string with_note =
      Swap(text, "        # staged keys go above\n",
           "        note: |\n          text\n          # not a comment\n");
  ApplyReport report;
  auto r = ApplyToText(with_note, {Op::kStagePin, "other", "", "", kPinD}, nullptr, "/", false,
                       &report);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(report.surgical);
  EXPECT_NE(report.fallback_reason.find("would not reproduce"), std::string::npos)
      << report.fallback_reason;
  const YAML::Node out = YAML::Load(*r);
  const YAML::Node other =
      out["vectorvue"]["telemetry_gateway"]["allowed_service_identities"]["other"];
  EXPECT_EQ(other["note"].as<std::string>(), "text\n# not a comment\n");
  bool staged = false;
  for (const auto& pin : other["cert_sha256"]) staged = staged || pin.as<std::string>() == kPinD;
  EXPECT_TRUE(staged) << *r;
}

TEST(ConfigEditSurgicalTest, ApplyToFileKeepsCommentsAndMode) {
  testing::TempDir dir;
  const std::string path = dir.File("gw.yaml");
  testing::WriteFile(path, Commented(), 0640);
  ASSERT_TRUE(ApplyToFile(path, {Op::kStagePin, "other", "", "", kPinD}, nullptr).ok());
  ASSERT_TRUE(ApplyToFile(path, {Op::kRetirePin, "other", "", "", kPinD}, nullptr).ok());
  EXPECT_EQ(testing::ReadFile(path), Commented());
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                std::filesystem::perms::group_read);
}

}  // namespace
}  // namespace vv::config::edit
