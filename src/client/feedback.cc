#include "spectrastrike/feedback.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

#include "client/status_bridge.h"
#include "common/encoding.h"
#include "common/file.h"
#include "crypto/crypto.h"
#include "json/json.h"

namespace spectrastrike {
namespace {

using vv::json::Value;

const std::string* StringField(const Value& obj, std::string_view key) {
  const Value* v = obj.Find(key);
  return (v != nullptr && v->is_string()) ? &v->as_string() : nullptr;
}

bool IsHex64(const Value* v) { return v != nullptr && v->is_string() && vv::IsHex(v->as_string(), 64); }

}  // namespace

// ---------------------------------------------------------------- ReplayCache

Result<std::unique_ptr<ReplayCache>> ReplayCache::Open(const std::string& path) {
  return Public([&]() -> vv::Result<std::unique_ptr<ReplayCache>> {
    auto cache = std::unique_ptr<ReplayCache>(new ReplayCache(path));
    if (path.empty()) return cache;
    std::ifstream in(path);
    if (!in) {
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0)
        return vv::Status::Unavailable("cannot read feedback replay cache " + path);
      return cache;  // no file yet
    }
    // Length-prefixed records: "<signed_at> <len> <len bytes of nonce>\n". The nonce bytes are
    // taken by count, so whitespace or newlines inside a nonce cannot split or shift a record.
    // The older "<signed_at> <nonce>\n" form (no length) is still accepted when read.
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t pos = 0;
    int record = 0;
    auto malformed = [&]() {
      return vv::Status::DataLoss("feedback replay cache " + path + " record " +
                                  std::to_string(record) + " is malformed");
    };
    auto read_int = [&](int64_t* out) -> bool {
      size_t start = pos;
      if (pos < text.size() && text[pos] == '-') ++pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
      if (pos == start || (pos == start + 1 && text[start] == '-') || pos - start > 19)
        return false;
      *out = std::stoll(text.substr(start, pos - start));
      return true;
    };
    while (pos < text.size()) {
      if (text[pos] == '\n') {
        ++pos;
        continue;
      }
      ++record;
      int64_t signed_at = 0, len = 0;
      if (!read_int(&signed_at) || pos >= text.size() || text[pos] != ' ') return malformed();
      ++pos;
      size_t eol = text.find('\n', pos);
      std::string_view rest(text.data() + pos,
                            (eol == std::string::npos ? text.size() : eol) - pos);
      size_t save = pos;
      if (read_int(&len) && pos < text.size() && text[pos] == ' ' && len > 0 &&
          static_cast<uint64_t>(len) <= text.size() - pos - 1 &&
          (pos + 1 + static_cast<size_t>(len) == text.size() ||
           text[pos + 1 + static_cast<size_t>(len)] == '\n')) {
        cache->entries_[text.substr(pos + 1, static_cast<size_t>(len))] = signed_at;
        pos += 1 + static_cast<size_t>(len);
        continue;
      }
      // Legacy line: one whitespace-free nonce.
      pos = save;
      if (rest.empty() || rest.find_first_of(" \t\r") != std::string_view::npos) return malformed();
      cache->entries_[std::string(rest)] = signed_at;
      pos += rest.size();
    }
    return cache;
  }());
}

bool ReplayCache::Contains(const std::string& nonce) const { return entries_.count(nonce) > 0; }

Status ReplayCache::Record(const std::string& nonce, int64_t signed_at, int64_t now,
                           int64_t window) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second < now - window)
      it = entries_.erase(it);
    else
      ++it;
  }
  entries_[nonce] = signed_at;
  return Save();
}

Status ReplayCache::Save() const {
  if (path_.empty()) return Status();
  std::string data;
  for (const auto& [nonce, at] : entries_)
    data += std::to_string(at) + " " + std::to_string(nonce.size()) + " " + nonce + "\n";
  if (vv::Status s = vv::WriteFileAtomic(path_, data, 0600); !s.ok())
    return Status(StatusCode::kUnavailable, "cannot persist feedback replay cache: " + s.message());
  return Status();
}

// ---------------------------------------------------------------- anchors / keys

Result<FeedbackAnchors> FeedbackAnchors::FromGraph(std::string_view graph_json) {
  auto parsed = vv::json::Parse(graph_json);
  if (!parsed.ok() || !parsed->is_object())
    return Status(StatusCode::kInvalidArgument, "execution graph is not a JSON object");
  const Value& graph = *parsed;
  FeedbackAnchors a;
  auto take = [&a](const Value& node) {
    if (!node.is_object()) return;
    if (const std::string* fp = StringField(node, "execution_fingerprint"))
      a.fingerprints.insert(vv::ToLowerAscii(*fp));
    if (const std::string* h = StringField(node, "attestation_measurement_hash"))
      a.attestations.insert(vv::ToLowerAscii(*h));
  };
  take(graph);
  if (const Value* nodes = graph.Find("nodes"); nodes != nullptr && nodes->is_array())
    for (const Value& n : nodes->as_array()) take(n);
  return a;
}

Result<FeedbackKeys> LoadFeedbackKeys(
    const std::map<std::string, std::string>& kid_to_path_or_b64) {
  FeedbackKeys keys;
  for (const auto& [kid, spec] : kid_to_path_or_b64) {
    struct stat st {};
    std::string text = spec;
    if (::stat(spec.c_str(), &st) == 0) {
      auto bytes = vv::crypto::ReadFileBytes(spec);
      if (!bytes.ok()) return Public(bytes.status());
      text = *bytes;
    }
    auto key = vv::crypto::Ed25519PublicKey::FromPemOrBase64(text);
    if (!key.ok())
      return Status(StatusCode::kInvalidArgument,
                    "invalid feedback verify key for kid '" + kid + "': " + key.status().message());
    keys.emplace(kid, key->raw());
  }
  return keys;
}

// ---------------------------------------------------------------- verifier

FeedbackVerifier::FeedbackVerifier(FeedbackKeys keys, ReplayCache& cache, const Clock& clock,
                                   FeedbackVerifyOptions options)
    : keys_(std::move(keys)), cache_(cache), clock_(clock), options_(std::move(options)) {}

std::string FeedbackVerifier::SigningInput(const std::string& tenant_id, int64_t signed_at,
                                           const std::string& nonce,
                                           const std::string& schema_version,
                                           const std::string& kid,
                                           std::string_view canonical_data) {
  return tenant_id + "|" + std::to_string(signed_at) + "|" + nonce + "|" + schema_version + "|" +
         kid + "|" + std::string(canonical_data);
}

std::string FeedbackRequestNonceTag(std::string_view request_nonce) {
  const std::string digest =
      vv::crypto::Sha256("vv-feedback-request-nonce|" + std::string(request_nonce));
  return vv::Base64UrlEncodeNoPad(std::string_view(digest).substr(0, 9));  // 12 chars
}

Result<VerifiedFeedback> FeedbackVerifier::Verify(std::string_view body,
                                                  const std::string& tenant_id,
                                                  const FeedbackAnchors* anchors,
                                                  std::string_view request_nonce) {
  return Public([&]() -> vv::Result<VerifiedFeedback> {
    auto parsed = vv::json::Parse(body);
    if (!parsed.ok() || !parsed->is_object())
      return vv::Status::InvalidArgument("feedback response is not a JSON object");
    const Value& resp = *parsed;
    const Value* data = resp.Find("data");
    if (data == nullptr || !data->is_array())
      return vv::Status::InvalidArgument("feedback response data must be an array");

    const std::string* signature = StringField(resp, "signature");
    const std::string* nonce = StringField(resp, "nonce");
    const std::string* kid = StringField(resp, "kid");
    const std::string* schema = StringField(resp, "schema_version");
    const std::string* algorithm = StringField(resp, "signature_algorithm");
    const Value* signed_at_v = resp.Find("signed_at");
    std::optional<int64_t> signed_at;
    if (signed_at_v != nullptr && signed_at_v->is_int()) signed_at = signed_at_v->as_int64();
    if (signature == nullptr || signature->empty() || nonce == nullptr || nonce->empty() ||
        kid == nullptr || kid->empty() || schema == nullptr || !signed_at || *signed_at <= 0 ||
        algorithm == nullptr)
      return vv::Status::PermissionDenied("signed feedback response is required");
    if (*algorithm != "Ed25519")
      return vv::Status::PermissionDenied("unsupported feedback signature algorithm");
    if (*schema != options_.schema_version)
      return vv::Status::PermissionDenied("unsupported feedback response schema version");

    int64_t now = clock_.NowSeconds();
    int64_t skew = now - *signed_at;
    if (skew > options_.window_seconds || -skew > options_.window_seconds)
      return vv::Status::PermissionDenied("feedback signature timestamp out of allowed window");

    auto key = keys_.find(*kid);
    if (key == keys_.end())
      return vv::Status::PermissionDenied("feedback response uses unknown key id");
    auto sig = vv::Base64DecodeStrict(*signature);
    if (!sig)
      return vv::Status::PermissionDenied("feedback response signature encoding is invalid");
    std::string input =
        SigningInput(tenant_id, *signed_at, *nonce, *schema, *kid, vv::json::Canonical(*data));
    auto public_key = vv::crypto::Ed25519PublicKey::FromRaw(key->second);
    if (!public_key.ok() || !public_key->Verify(input, *sig))
      return vv::Status::PermissionDenied("feedback response signature verification failed");

    // Only a verified response may consume a nonce.
    if (cache_.Contains(*nonce))
      return vv::Status::PermissionDenied("feedback replay detected: nonce already used");
    if (!request_nonce.empty()) {
      // The signed response nonce must be >= 12 unique chars followed by the tag of the nonce
      // this query was signed with: a validly signed answer to another query is refused (and
      // burns nothing).
      const std::string suffix = FeedbackRequestNonceTag(request_nonce);
      if (nonce->size() < suffix.size() + 12 ||
          nonce->compare(nonce->size() - suffix.size(), suffix.size(), suffix) != 0)
        return vv::Status::PermissionDenied("feedback response is not bound to this query");
    }
    VV_RETURN_IF_ERROR(Internal(cache_.Record(*nonce, *signed_at, now, options_.window_seconds)));

    VerifiedFeedback out;
    out.kid = *kid;
    out.signed_at = *signed_at;
    out.nonce = *nonce;
    if (const std::string* rid = StringField(resp, "request_id")) out.request_id = *rid;
    for (const Value& item : data->as_array()) {
      std::string reason;
      if (!item.is_object()) {
        reason = "not_an_object";
      } else {
        const std::string* t = StringField(item, "tenant_id");
        const Value* fp = item.Find("execution_fingerprint");
        const Value* ts = item.Find("timestamp");
        const std::string* sv = StringField(item, "schema_version");
        const Value* att = item.Find("attestation_measurement_hash");
        const Value* ttl = item.Find("ttl_seconds");
        const std::string* action = StringField(item, "action");
        int64_t ts_v = (ts && ts->is_int()) ? ts->as_int64().value_or(0) : 0;
        if (t == nullptr || *t != tenant_id) {
          reason = "tenant_mismatch";
        } else if (!IsHex64(fp)) {
          reason = "invalid_fingerprint";
        } else if (ts_v <= 0) {
          reason = "invalid_timestamp";
        } else if (sv == nullptr || sv->empty()) {
          reason = "missing_schema_version";
        } else if (!IsHex64(att)) {
          reason = "invalid_attestation_hash";
        } else if (action == nullptr || action->empty()) {
          reason = "missing_action";
        } else if (ttl != nullptr && ttl->is_int() && ttl->as_int64() &&
                   ts_v + *ttl->as_int64() < now) {
          reason = "expired";
        } else if (anchors != nullptr && !anchors->fingerprints.empty() &&
                   !anchors->fingerprints.count(vv::ToLowerAscii(fp->as_string()))) {
          reason = "fingerprint_not_anchored";
        } else if (anchors != nullptr && !anchors->attestations.empty() &&
                   !anchors->attestations.count(vv::ToLowerAscii(att->as_string()))) {
          reason = "attestation_not_anchored";
        }
      }
      if (reason.empty()) {
        out.items.push_back(vv::json::Canonical(item));
      } else {
        ++out.dropped;
        ++out.drop_reasons[reason];
      }
    }
    return out;
  }());
}

}  // namespace spectrastrike
