#include "policy/policy_gate.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "config/engine_config.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "json/json.h"
#include "state/redis_state.h"

namespace vv::policy {

namespace {

constexpr char kConfigInvalid[] = "config_invalid";

// The settings the rules look at: the loader's own struct - the validated config when the
// loader accepted the file, else its unvalidated draft (config::DraftGatewayConfig: the same
// table, YAML then environment, values that failed to parse left at their defaults) - plus the
// one engine key the gateway's rules need. The gate reads the loader's fields, never a copy.
struct Effective {
  const config::GatewayConfig& cfg;
  // vectorvue.evidence_engine.store_backend / VV_EVIDENCE_STORE_BACKEND: where the execution
  // graphs (gateway) and the evidence (engine) live (not set or not parsable: SQLite).
  config::StoreBackend store_backend = config::StoreBackend::kSqlite;
};

// An allowlist entry exactly as written (pins not yet normalised).
struct RawIdentity {
  std::string id;
  std::vector<std::string> pins;
};

struct RawInput {
  bool yaml_ok = false;
  YAML::Node section;  // vectorvue.telemetry_gateway (null if absent)
  std::string base_dir;
  // Findings while reading the raw maps (duplicate keys etc.), per rule.
  std::vector<Violation> findings;
  std::vector<RawIdentity> identities;
  bool identities_present = false;
  std::vector<std::pair<std::string, std::string>> tenant_map;  // duplicates kept
};

std::string Trim(std::string_view s) { return std::string(StripAsciiWhitespace(s)); }
std::string Lower(std::string_view s) { return ToLowerAscii(StripAsciiWhitespace(s)); }

// The environment value that overrides the YAML key `yaml_key`, taken from the loader's own
// table (config::GatewayTable), so the gate never spells a variable name itself.
std::optional<std::string> EnvFor(const config::EnvLookup& env, const char* yaml_key) {
  std::optional<std::string> out;
  if (!env) return out;
  for (const auto& var : config::GatewayTable().EnvOf(yaml_key))
    if (auto v = env(var)) out = std::move(v);  // a later variable wins, as in the loader
  return out;
}

// Reads the allowlist and the tenant map as written, keeping duplicate keys so the rules can
// report them (the environment variables, when set, replace the YAML maps as in the loader).
void ReadRawMaps(const config::EnvLookup& env, RawInput* raw) {
  const YAML::Node& s = raw->section;
  if (auto v = EnvFor(env, "allowed_service_identities")) {
    raw->identities_present = true;
    auto obj = json::Parse(*v);
    if (obj.ok() && obj->is_object()) {
      for (const auto& [id, pv] : obj->as_object()) {
        RawIdentity ident{Trim(id), {}};
        if (pv.is_string()) ident.pins.push_back(pv.as_string());
        if (pv.is_object())
          if (const auto* c = pv.Find("cert_sha256")) {
            if (c->is_string()) ident.pins.push_back(c->as_string());
            if (c->is_array())
              for (const auto& e : c->as_array())
                ident.pins.push_back(e.is_string() ? e.as_string() : std::string("<non-string>"));
          }
        raw->identities.push_back(std::move(ident));
      }
    }
  } else if (s && s.IsMap() && s["allowed_service_identities"]) {
    raw->identities_present = true;
    const YAML::Node ids = s["allowed_service_identities"];
    if (ids.IsMap()) {
      std::set<std::string> seen;
      for (auto it = ids.begin(); it != ids.end(); ++it) {
        if (!it->first.IsScalar()) continue;
        RawIdentity ident{Trim(it->first.Scalar()), {}};
        if (!seen.insert(ident.id).second)
          raw->findings.push_back({"pinsets_explicit", kCritical,
                                   "allowed_service_identities: identity '" + ident.id +
                                       "' is listed twice (YAML duplicate key)"});
        const YAML::Node v = it->second;  // a copy: it->second lives in a temporary proxy
        if (v.IsScalar()) ident.pins.push_back(v.Scalar());
        if (v.IsMap() && v["cert_sha256"]) {
          const YAML::Node c = v["cert_sha256"];
          if (c.IsScalar()) ident.pins.push_back(c.Scalar());
          if (c.IsSequence())
            for (const auto& e : c)
              ident.pins.push_back(e.IsScalar() ? e.Scalar() : std::string("<non-scalar>"));
        }
        raw->identities.push_back(std::move(ident));
      }
    }
  }

  if (auto v = EnvFor(env, "operator_tenant_map")) {
    auto obj = json::Parse(*v);
    if (obj.ok() && obj->is_object())
      for (const auto& [op, tv] : obj->as_object())
        raw->tenant_map.emplace_back(op, tv.is_string() ? tv.as_string() : "<non-string>");
  } else if (s && s.IsMap() && s["operator_tenant_map"]) {
    const YAML::Node m = s["operator_tenant_map"];
    if (m.IsMap())
      for (auto it = m.begin(); it != m.end(); ++it)
        raw->tenant_map.emplace_back(it->first.IsScalar() ? it->first.Scalar() : "<non-scalar>",
                                     it->second.IsScalar() ? it->second.Scalar() : "<non-scalar>");
  }
}

// ---- Rules -----------------------------------------------------------------------------------

using Sink = std::vector<Violation>;

void RuleMtls(const Effective& e, Sink* out) {
  if (!e.cfg.require_mtls)
    out->push_back({"mtls_required", kCritical,
                    "require_mtls (VV_TG_REQUIRE_MTLS) is false: clients are not authenticated "
                    "by certificate"});
}

void RuleSignatures(const Effective& e, Sink* out) {
  if (!e.cfg.require_payload_signature)
    out->push_back({"signatures_required", kCritical,
                    "require_payload_signature (VV_TG_REQUIRE_PAYLOAD_SIGNATURE) is false: "
                    "unsigned payloads would be accepted"});
}

void RuleInsecureDevMode(const Effective& e, Sink* out) {
  if (e.cfg.insecure_dev_mode)
    out->push_back({"insecure_dev_mode_off", kHigh,
                    "insecure_dev_mode is true: security controls may be switched off"});
}

bool LooksLikeWildcard(std::string_view pin) {
  std::string l = Lower(pin);
  return l.find_first_of("*?") != std::string::npos || l == "any" || l == "all" || l == ".*";
}

void RulePinsets(const RawInput& raw, Sink* out) {
  for (const auto& f : raw.findings)
    if (f.rule == "pinsets_explicit") out->push_back(f);
  if (!raw.identities_present || raw.identities.empty()) {
    out->push_back({"pinsets_explicit", kCritical,
                    "allowed_service_identities is empty or missing: the allowlist must name "
                    "every service identity with its certificate pin"});
    return;
  }
  std::map<std::string, std::string> owner;
  for (const auto& ident : raw.identities) {
    const std::string key = "allowed_service_identities." + ident.id;
    if (ident.id.empty() || LooksLikeWildcard(ident.id))
      out->push_back({"pinsets_explicit", kCritical,
                      key + ": identity id must be an explicit name (no wildcard)"});
    if (ident.pins.empty())
      out->push_back({"pinsets_explicit", kCritical, key + ": no cert_sha256 pin"});
    for (const auto& pin : ident.pins) {
      if (LooksLikeWildcard(pin)) {
        out->push_back(
            {"pinsets_explicit", kCritical, key + ": wildcard pin '" + pin + "' is not allowed"});
        continue;
      }
      auto norm = config::NormalizeCertPin(pin, key);
      if (!norm.ok()) {
        out->push_back({"pinsets_explicit", kCritical,
                        key + ": pin '" + pin + "' is not a 64-hex SHA-256 fingerprint"});
        continue;
      }
      auto [it, inserted] = owner.emplace(*norm, ident.id);
      if (!inserted && it->second != ident.id)
        out->push_back({"pinsets_explicit", kCritical,
                        key + ": pin " + *norm + " is shared with identity '" + it->second + "'"});
    }
  }
}

void RuleProductionBackends(const Effective& e, Sink* out) {
  if (e.cfg.profile != "production") return;
  if (e.cfg.nonce_backend != config::StateBackend::kRedis)
    out->push_back({"production_backends", kHigh,
                    "profile production requires nonce_backend: redis (got '" +
                        std::string(config::Name(e.cfg.nonce_backend)) +
                        "'): replay state must be shared by every replica"});
  if (e.cfg.rate_limit_backend != config::StateBackend::kRedis)
    out->push_back({"production_backends", kHigh,
                    "profile production requires rate_limit_backend: redis (got '" +
                        std::string(config::Name(e.cfg.rate_limit_backend)) + "')"});
  if (e.cfg.queue_backend != config::QueueBackend::kNats)
    out->push_back(
        {"production_backends", kHigh,
         "profile production requires queue_backend: nats (got '" +
             std::string(config::Name(e.cfg.queue_backend)) + "')"});
  // Issue 14 item 3: state the replicas must agree on lives in shared backends.
  if (e.store_backend != config::StoreBackend::kPostgres)
    out->push_back({"production_backends", kHigh,
                    "profile production requires the execution-graph and evidence store on "
                    "PostgreSQL (evidence_engine.store_backend: postgres, got '" +
                        std::string(config::Name(e.store_backend)) +
                        "'): a SQLite file per replica makes feedback depend on which replica "
                        "answers"});
  if (e.cfg.redis_url.empty())
    out->push_back({"production_backends", kHigh,
                    "profile production requires redis_url: the kill switch must be shared by "
                    "every replica (kill_switch_file is per host)"});
}

// Unsigned checkpoints let whoever can write the log re-seal a rewritten history; production
// needs a seal key (a key file or, better, a PKCS#11 token).
// The keys published in the wire contract's appendix A.1 (the seeds 00..1f and 20..3f): every
// reader of the contract has their private halves, so a config that trusts one (or signs with
// one) trusts anybody.
const std::vector<std::pair<std::string, std::string>>& PublishedTestKeys() {
  static const std::vector<std::pair<std::string, std::string>> kKeys = {
      {"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=", "appendix A.1 producer key (seed 00..1f)"},
      {"Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=", "appendix A.1 feedback key (seed 20..3f)"},
  };
  return kKeys;
}

const std::string* PublishedKeyName(const std::string& b64) {
  for (const auto& [key, name] : PublishedTestKeys())
    if (key == b64) return &name;
  return nullptr;
}

void RulePublishedTestKeys(const config::GatewayConfig* cfg, const std::string& raw_text,
                           const Effective& e, Sink* out) {
  auto flag = [&](const std::string& where, const std::string& name) {
    out->push_back({"no_published_test_keys", kCritical,
                    where + " is the published " + name + ": anybody can sign with it"});
  };
  if (cfg != nullptr) {
    auto check = [&](const std::vector<config::SigningKey>& keys, const std::string& where) {
      for (const auto& k : keys)
        if (const std::string* n = PublishedKeyName(k.key.ToBase64())) flag(where + " " + k.kid, *n);
    };
    check(cfg->default_signing_keys, "spectrastrike_ed25519_public_key_b64");
    check(cfg->federation_signing_keys, "federation_ed25519_public_key_b64");
    check(cfg->kill_switch_approvers, "kill_switch_approvers");
    for (const auto& id : cfg->identities)
      check(id.signing_keys, "allowed_service_identities." + id.id + ".signing_keys");
  } else {
    // The loader refused the file: look for the keys in the text as written.
    for (const auto& [key, name] : PublishedTestKeys())
      if (raw_text.find(key) != std::string::npos) flag("the config file", name);
  }
  // Private key files whose public half is a published key (the seed file of the appendix).
  auto check_file = [&](const std::string& path, const std::string& where) {
    if (path.empty()) return;
    auto k = crypto::Ed25519PrivateKey::LoadFile(path, /*check_permissions=*/false);
    if (!k.ok()) return;  // key_file_permissions / the loader report unreadable files
    if (const std::string* n = PublishedKeyName(k->PublicKey().ToBase64()))
      flag(where + " (" + path + ")", *n);
  };
  check_file(e.cfg.audit_signing_key_path, "audit_seal_key_path");
  check_file(e.cfg.queue_signing_key_path, "queue_signing_key_path");
  for (const auto& [kid, path] : e.cfg.feedback_key_paths) check_file(path, "feedback_ed25519_keys." + kid);
}

// A pin nobody computed: 64 hex digits with a period of at most 16 ("aaaa...", "abab...",
// "0123456789abcdef0123..."). A real SHA-256 has such a period with probability ~2^-192.
bool IsPlaceholderPin(const std::string& hex64) {
  for (size_t period = 1; period <= 16; ++period) {
    bool periodic = true;
    for (size_t i = period; i < hex64.size() && periodic; ++i) periodic = hex64[i] == hex64[i % period];
    if (periodic) return true;
  }
  return false;
}

void RulePlaceholderPins(const RawInput& raw, Sink* out) {
  for (const auto& ident : raw.identities) {
    for (const auto& pin : ident.pins) {
      auto norm = config::NormalizeCertPin(pin, ident.id);
      if (!norm.ok()) continue;  // pinsets_explicit reports malformed pins
      if (IsPlaceholderPin(*norm))
        out->push_back({"no_placeholder_pins", kCritical,
                        "allowed_service_identities." + ident.id + ": pin '" + pin +
                            "' is a placeholder (repeating pattern), not a certificate's SHA-256"});
    }
  }
}

void RuleAuditSealsSigned(const Effective& e, Sink* out) {
  if (e.cfg.profile != "production") return;
  if (e.cfg.audit_signing_key_path.empty() && e.cfg.audit_seal_pkcs11.token_label.empty())
    out->push_back({"audit_seals_signed", kHigh,
                    "profile production requires signed audit seals: set audit_seal_key_path or "
                    "audit_seal_pkcs11_token_label (checkpoints are unsigned)"});
}

// Issue 14: replicas sharing the JetStream anchor must each seal under their own origin, or
// the second one to seal finds the first one's history on the shared subject (fork_detected)
// and answers 503 to everything.
void RuleReplicaIdentity(const Effective& e, Sink* out) {
  if (e.cfg.profile != "production" || e.cfg.audit_anchor != "jetstream" || !e.cfg.replica_id.empty()) return;
  out->push_back({"replica_identity", kHigh,
                  "profile production with audit_anchor: jetstream requires replica_id (the "
                  "anchor is shared: replicas without their own identity fork each other's "
                  "audit anchor)"});
}

// Issue 12: in production the shared backends must authenticate their clients, be reached over
// TLS, and the queue
// must carry signed envelopes. An anonymous NATS client could otherwise publish forged
// envelopes, and an unauthenticated Redis lets anyone on the network clear nonces, reset rate
// limits or rewrite the kill-switch state.
void RuleProductionBackendAuth(const Effective& e, Sink* out) {
  if (e.cfg.profile != "production") return;
  if (e.cfg.queue_signing_key_path.empty())
    out->push_back({"production_backend_auth", kCritical,
                    "profile production requires queue_signing_key_path "
                    "(VV_TG_QUEUE_SIGNING_KEY_PATH): without it the engine cannot tell the "
                    "gateway's envelopes from forged ones"});
  if (e.cfg.queue_backend == config::QueueBackend::kNats) {
    const bool url_creds = e.cfg.nats_url.find('@') != std::string::npos;
    if (e.cfg.nats_creds_file.empty() && !url_creds)
      out->push_back({"production_backend_auth", kHigh,
                      "profile production requires NATS credentials: set nats_creds_file (or "
                      "user:password@ in nats_url)"});
    if (e.cfg.nats_tls_ca_path.empty() && e.cfg.nats_url.rfind("tls://", 0) != 0)
      out->push_back({"production_backend_auth", kHigh,
                      "profile production requires TLS to NATS: set nats_tls_ca_path"});
  }
  if (!e.cfg.redis_url.empty() || e.cfg.nonce_backend == config::StateBackend::kRedis ||
      e.cfg.rate_limit_backend == config::StateBackend::kRedis) {
    // The gateway's own URL parser (userinfo percent-decoded, rediss:// -> tls).
    auto parsed = state::ParseRedisUrl(e.cfg.redis_url);
    // Issue 14: the password never sits in the URL (config files, environment dumps, shell
    // history, `ps`); it comes from a 0400/0600 file or VV_TG_REDIS_PASSWORD.
    if (state::RedisUrlHasInlinePassword(e.cfg.redis_url))
      out->push_back({"production_backend_auth", kCritical,
                      "redis_url carries an inline password: name only the ACL user "
                      "(rediss://USER@host:port/db) and move the password to "
                      "redis_password_file (0400/0600) or VV_TG_REDIS_PASSWORD"});
    else if ((e.cfg.redis_password_file.empty() && !!e.cfg.redis_password.empty()) ||
             (parsed.ok() && parsed->username.empty()))
      out->push_back({"production_backend_auth", kHigh,
                      "profile production requires Redis AUTH as an ACL user: name the user in "
                      "redis_url (rediss://USER@host:port/db) and give the Redis password in "
                      "redis_password_file (VV_TG_REDIS_PASSWORD_FILE, 0400/0600) or "
                      "VV_TG_REDIS_PASSWORD"});
    if (!parsed.ok() || !parsed->tls)
      out->push_back({"production_backend_auth", kHigh,
                      "profile production requires TLS to Redis: redis_url must be rediss:// "
                      "or rediss-sentinel:// (with redis_tls_ca_path)"});
  }
}

void CheckKeyFile(const std::string& path, const std::string& key, Sink* out) {
  if (path.empty()) return;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    out->push_back({"key_file_permissions", kHigh, key + ": key file missing: " + path});
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    out->push_back({"key_file_permissions", kHigh, key + ": not a regular file: " + path});
    return;
  }
  unsigned mode = st.st_mode & 07777;
  if (mode != 0400 && mode != 0600) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "%04o", mode);
    out->push_back({"key_file_permissions", kHigh,
                    key + ": mode " + buf + " on " + path + " (must be 0400 or 0600)"});
  }
}

void RuleKeyFiles(const Effective& e, Sink* out) {
  if (e.cfg.tls.key_path.empty())
    out->push_back({"key_file_permissions", kHigh, "tls.key_path is not set"});
  CheckKeyFile(e.cfg.tls.key_path, "tls.key_path (VV_SERVICE_IDENTITY_KEY_PATH)", out);
  CheckKeyFile(e.cfg.audit_signing_key_path, "audit_seal_key_path (VV_TAMPER_LOG_SEAL_KEY_PATH)", out);
  CheckKeyFile(e.cfg.audit_seal_pkcs11.pin_file, "audit_seal_pkcs11_pin_file", out);
  CheckKeyFile(e.cfg.redis_password_file, "redis_password_file (VV_TG_REDIS_PASSWORD_FILE)", out);
  CheckKeyFile(e.cfg.redis_sentinel_password_file,
               "redis_sentinel_password_file (VV_TG_REDIS_SENTINEL_PASSWORD_FILE)", out);
  CheckKeyFile(e.cfg.queue_signing_key_path, "queue_signing_key_path (VV_TG_QUEUE_SIGNING_KEY_PATH)",
               out);
  for (const auto& [kid, path] : e.cfg.feedback_key_paths)
    CheckKeyFile(path, "feedback_ed25519_keys." + kid, out);
}

std::optional<int64_t> AsnTimeToUnix(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}

void CheckCertFile(const std::string& path, const std::string& key, int64_t now, int64_t min_days,
                   Sink* out) {
  if (path.empty()) {
    out->push_back({"cert_expiry", kHigh, key + " is not set"});
    return;
  }
  auto pem = crypto::ReadFileBytes(path);
  if (!pem.ok()) {
    out->push_back({"cert_expiry", kHigh, key + ": cannot read " + path});
    return;
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())), BIO_free);
  int count = 0;
  while (bio) {
    X509* raw = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (raw == nullptr) break;
    std::unique_ptr<X509, decltype(&X509_free)> cert(raw, X509_free);
    ++count;
    char subject[256] = {0};
    X509_NAME_oneline(X509_get_subject_name(cert.get()), subject, sizeof(subject) - 1);
    auto not_after = AsnTimeToUnix(X509_get0_notAfter(cert.get()));
    auto not_before = AsnTimeToUnix(X509_get0_notBefore(cert.get()));
    if (!not_after || !not_before) {
      out->push_back({"cert_expiry", kHigh, key + ": unreadable validity dates in " + path});
      continue;
    }
    const std::string who = key + " (" + subject + ")";
    if (*not_after <= now) {
      out->push_back(
          {"cert_expiry", kCritical, who + ": expired at " + IsoFormatUtc(*not_after * 1000000)});
    } else if (*not_after - now < min_days * 86400) {
      out->push_back({"cert_expiry", kHigh,
                      who + ": expires at " + IsoFormatUtc(*not_after * 1000000) + ", within " +
                          std::to_string(min_days) + " days"});
    }
    if (*not_before > now)
      out->push_back({"cert_expiry", kHigh,
                      who + ": not valid before " + IsoFormatUtc(*not_before * 1000000)});
  }
  ERR_clear_error();
  if (count == 0) out->push_back({"cert_expiry", kHigh, key + ": no PEM certificate in " + path});
}

void RuleCertExpiry(const Effective& e, const Clock& clock, int64_t min_days, Sink* out) {
  const int64_t now = clock.NowSeconds();
  CheckCertFile(e.cfg.tls.cert_path, "tls.cert_path (VV_SERVICE_IDENTITY_CERT_PATH)", now, min_days, out);
  CheckCertFile(e.cfg.tls.ca_path, "tls.ca_path (VV_SERVICE_IDENTITY_CA_PATH)", now, min_days, out);
}

void RuleNonceTtl(const Effective& e, Sink* out) {
  if (e.cfg.allowed_clock_skew_seconds < 1)
    out->push_back({"nonce_ttl_vs_skew", kHigh,
                    "allowed_clock_skew_seconds (" + std::to_string(e.cfg.allowed_clock_skew_seconds) + ") must be >= 1"});
  if (e.cfg.nonce_ttl_seconds < 30)
    out->push_back({"nonce_ttl_vs_skew", kHigh,
                    "nonce_ttl_seconds (" + std::to_string(e.cfg.nonce_ttl_seconds) + ") must be >= 30"});
  if (e.cfg.nonce_ttl_seconds < 2 * e.cfg.allowed_clock_skew_seconds)
    out->push_back({"nonce_ttl_vs_skew", kHigh,
                    "nonce_ttl_seconds (" + std::to_string(e.cfg.nonce_ttl_seconds) +
                        ") is shorter than 2 x allowed_clock_skew_seconds (" +
                        std::to_string(e.cfg.allowed_clock_skew_seconds) +
                        "): a replay could be accepted after its nonce expired"});
}

void RuleTenantMap(const RawInput& raw, Sink* out) {
  std::set<std::string> ops;
  for (const auto& [op_raw, tenant_raw] : raw.tenant_map) {
    const std::string op = Trim(op_raw);
    const std::string tenant = Trim(tenant_raw);
    const std::string key = "operator_tenant_map." + op;
    if (op.empty())
      out->push_back({"tenant_map_valid", kHigh, "operator_tenant_map: empty operator id"});
    if (!ops.insert(op).second)
      out->push_back(
          {"tenant_map_valid", kHigh, key + ": operator id mapped more than once (duplicate key)"});
    if (!config::IsCanonicalUuid(tenant))
      out->push_back(
          {"tenant_map_valid", kHigh, key + ": tenant '" + tenant + "' is not a canonical UUID"});
  }
}

}  // namespace

const std::vector<std::string>& RuleNames() {
  static const std::vector<std::string> kRules = {
      "mtls_required",    "signatures_required", "insecure_dev_mode_off",
      "pinsets_explicit", "production_backends", "key_file_permissions",
      "cert_expiry",      "nonce_ttl_vs_skew",   "tenant_map_valid",
      "audit_seals_signed", "production_backend_auth", "no_published_test_keys",
      "no_placeholder_pins", "replica_identity"};
  return kRules;
}

const std::map<std::string, std::string>& RuleFixes() {
  static const std::map<std::string, std::string> kFixes = {
      {kConfigInvalid, "correct the key the message names; vv-gateway refuses the file as it is"},
      {"mtls_required", "set require_mtls: true (VV_TG_REQUIRE_MTLS) and give tls.ca_path"},
      {"signatures_required",
       "set require_payload_signature: true (VV_TG_REQUIRE_PAYLOAD_SIGNATURE)"},
      {"insecure_dev_mode_off", "set insecure_dev_mode: false"},
      {"pinsets_explicit",
       "list every identity under allowed_service_identities with the SHA-256 of its real "
       "client certificate (ss-producer fingerprint --cert CERT, or vvctl pin CERT)"},
      {"production_backends",
       "profile production: nonce_backend/rate_limit_backend redis, queue_backend nats, "
       "redis_url set (shared kill switch), evidence_engine.store_backend postgres with "
       "postgres_url (shared execution graphs and evidence)"},
      {"key_file_permissions", "chmod 0600 (or 0400) the key file, owned by the service user"},
      {"cert_expiry", "renew the certificate before it expires (docs/operations.md, rotation)"},
      {"nonce_ttl_vs_skew", "set nonce_ttl_seconds to at least 2 x allowed_clock_skew_seconds"},
      {"tenant_map_valid",
       "map each operator_id once, to a canonical lowercase 8-4-4-4-12 tenant UUID"},
      {"audit_seals_signed",
       "set audit_seal_key_path (vv-audit public-key --key K prints its verifier key) or the "
       "audit_seal_pkcs11_* keys"},
      {"production_backend_auth",
       "set queue_signing_key_path; NATS: nats_creds_file and nats_tls_ca_path; Redis: "
       "rediss://USER@host (or rediss-sentinel://USER@s1,s2/service) with redis_tls_ca_path "
       "and the password in redis_password_file or VV_TG_REDIS_PASSWORD"},
      {"no_published_test_keys",
       "generate your own key (ss-producer keygen / openssl genpkey -algorithm ed25519) and "
       "configure its public key; never deploy the wire contract's appendix keys or seeds"},
      {"no_placeholder_pins",
       "replace the placeholder with the real certificate's SHA-256 (vvctl pin CERT)"},
      {"replica_identity",
       "set replica_id (VV_TG_REPLICA_ID) to a short name unique per gateway replica, e.g. "
       "replica_id: gw-a; each replica then has its own audit log, origin and anchor subject"},
  };
  return kFixes;
}

std::string RuleFix(const std::string& rule) {
  auto it = RuleFixes().find(rule);
  return it == RuleFixes().end() ? std::string() : it->second;
}

bool PolicyReport::Violates(const std::string& rule) const {
  return std::any_of(violations.begin(), violations.end(),
                     [&](const Violation& v) { return v.rule == rule; });
}

std::string PolicyReport::ToJson() const {
  json::Value root = json::Value::MakeObject();
  root.Set("ok", ok());
  json::Value list = json::Value::MakeArray();
  for (const auto& v : violations) {
    json::Value o = json::Value::MakeObject();
    o.Set("rule", v.rule);
    o.Set("severity", v.severity);
    o.Set("detail", v.detail);
    o.Set("fix", RuleFix(v.rule));
    list.Push(std::move(o));
  }
  root.Set("violations", std::move(list));
  json::Value checked_list = json::Value::MakeArray();
  for (const auto& c : checked) checked_list.Push(c);
  root.Set("checked", std::move(checked_list));
  return json::Canonical(root);
}

std::string PolicyReport::ToText() const {
  std::string out;
  for (const auto& rule : checked) {
    bool failed = false;
    for (const auto& v : violations) {
      if (v.rule != rule) continue;
      failed = true;
      out += "FAIL " + v.rule + " [" + v.severity + "]: " + v.detail + "\n";
      if (const std::string fix = RuleFix(v.rule); !fix.empty()) out += "     fix: " + fix + "\n";
    }
    if (!failed) out += "PASS " + rule + "\n";
  }
  out += ok() ? "policy check: OK\n"
              : "policy check: " + std::to_string(violations.size()) + " violation(s)\n";
  return out;
}

PolicyReport CheckGatewayConfigFile(const std::string& path, const config::EnvLookup& env,
                                    const Clock& clock, const PolicyOptions& options) {
  PolicyReport report;
  report.checked.push_back(kConfigInvalid);

  RawInput raw;
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  raw.base_dir = ec ? std::string() : abs.parent_path().string();
  auto text = crypto::ReadFileBytes(path);
  if (text.ok()) {
    try {
      const YAML::Node root = YAML::Load(*text);
      raw.yaml_ok = true;
      if (root.IsMap() && root["vectorvue"] && root["vectorvue"].IsMap()) {
        const YAML::Node vv = root["vectorvue"];
        if (vv["telemetry_gateway"]) raw.section.reset(vv["telemetry_gateway"]);
      }
      ReadRawMaps(env, &raw);
    } catch (const std::exception& e) {
      raw.yaml_ok = false;
    }
  }

  auto cfg = config::LoadGatewayConfig(path, env);
  if (!cfg.ok()) {
    report.violations.push_back({kConfigInvalid, kCritical, cfg.status().message()});
    // Nothing further can be said about a file that is missing or is not YAML.
    if (!text.ok() || !raw.yaml_ok) return report;
  }
  std::optional<config::GatewayConfig> draft;
  if (!cfg.ok()) draft = config::DraftGatewayConfig(*text, env, raw.base_dir).config;
  Effective e{cfg.ok() ? *cfg : *draft};
  // The store section belongs to the engine's table: its store_backend row (YAML, then
  // VV_EVIDENCE_STORE_BACKEND), SQLite when not configured.
  if (text.ok()) {
    auto engine = config::ParseEngineKeys(*text, env, raw.base_dir, {"store_backend"},
                                          config::EngineConfig());
    if (engine.ok()) e.store_backend = engine->store_backend;
  }

  Sink& out = report.violations;
  for (const auto& rule : RuleNames()) {
    report.checked.push_back(rule);
    if (rule == "mtls_required") RuleMtls(e, &out);
    if (rule == "signatures_required") RuleSignatures(e, &out);
    if (rule == "insecure_dev_mode_off") RuleInsecureDevMode(e, &out);
    if (rule == "pinsets_explicit") RulePinsets(raw, &out);
    if (rule == "production_backends") RuleProductionBackends(e, &out);
    if (rule == "production_backend_auth") RuleProductionBackendAuth(e, &out);
    if (rule == "key_file_permissions") RuleKeyFiles(e, &out);
    if (rule == "cert_expiry") RuleCertExpiry(e, clock, options.min_cert_days, &out);
    if (rule == "nonce_ttl_vs_skew") RuleNonceTtl(e, &out);
    if (rule == "tenant_map_valid") RuleTenantMap(raw, &out);
    if (rule == "audit_seals_signed") RuleAuditSealsSigned(e, &out);
    if (rule == "no_published_test_keys")
      RulePublishedTestKeys(cfg.ok() ? &*cfg : nullptr, text.ok() ? *text : std::string(), e, &out);
    if (rule == "no_placeholder_pins") RulePlaceholderPins(raw, &out);
    if (rule == "replica_identity") RuleReplicaIdentity(e, &out);
  }
  return report;
}

}  // namespace vv::policy
