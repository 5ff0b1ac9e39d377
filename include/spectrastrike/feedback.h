#pragma once
// SpectraStrike SDK: verification of signed feedback responses (wire contract 2.3, section 10),
// stricter than the reference producer (wire-contract 13 item 16):
//   - `signature_algorithm` is required and must be "Ed25519";
//   - `schema_version` is pinned ("feedback.response.v1");
//   - the window |now - signed_at| <= window_seconds is checked, the signature is verified, and
//     only THEN is the nonce recorded (a forged response cannot burn a nonce);
//   - the replay cache is persisted to a file, so a restart does not reopen the window;
//   - items failing the tenant / format / expiry / anchor rules are dropped and counted.
// Signing input: tenant_id|signed_at|nonce|schema_version|kid|canonical(data), where tenant_id
// is the tenant the producer asked for.
// Thread-safety: ReplayCache and FeedbackVerifier are not thread-safe (one per thread/process).
// Ownership: FeedbackVerifier borrows the cache and the clock; both must outlive it.

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "spectrastrike/clock.h"
#include "spectrastrike/status.h"

namespace spectrastrike {

inline constexpr char kFeedbackResponseSchema[] = "feedback.response.v1";

// Seen response nonces with their signed_at, optionally persisted (one line per entry:
// "<signed_at> <byte length of nonce> <nonce bytes>", so a nonce may hold any bytes, spaces and
// newlines included; rewritten atomically with mode 0600 on every Record). Files of the older
// "<signed_at> <nonce>" form are still read.
class ReplayCache {
 public:
  // path "" = in memory only. A missing file is an empty cache; a corrupt one is DataLoss.
  static Result<std::unique_ptr<ReplayCache>> Open(const std::string& path);

  bool Contains(const std::string& nonce) const;
  // Drops entries with signed_at < now - window, adds `nonce`, persists.
  Status Record(const std::string& nonce, int64_t signed_at, int64_t now, int64_t window);
  size_t size() const { return entries_.size(); }

 private:
  explicit ReplayCache(std::string path) : path_(std::move(path)) {}
  Status Save() const;
  std::string path_;
  std::map<std::string, int64_t> entries_;  // nonce -> signed_at
};

// Anchors from an execution graph: only items whose fingerprint / attestation appear here are
// kept (each set applies only when non-empty).
struct FeedbackAnchors {
  std::set<std::string> fingerprints;   // lowercase
  std::set<std::string> attestations;   // lowercase
  // From execution-graph JSON text: root execution_fingerprint +
  // nodes[].execution_fingerprint; attestation_measurement_hash of the root and nodes.
  // InvalidArgument when the text is not a JSON object.
  static Result<FeedbackAnchors> FromGraph(std::string_view graph_json);
};

struct VerifiedFeedback {
  std::vector<std::string> items;  // verified and kept adjustments (canonical JSON objects)
  int64_t dropped = 0;
  std::map<std::string, int64_t> drop_reasons;  // reason -> count
  std::string kid;
  int64_t signed_at = 0;
  std::string nonce;
  std::string request_id;
};

struct FeedbackVerifyOptions {
  int64_t window_seconds = 300;
  std::string schema_version = kFeedbackResponseSchema;
};

// Feedback verification keys: kid -> raw 32-byte Ed25519 public key.
using FeedbackKeys = std::map<std::string, std::string>;

// kid -> key from {"kid": "<path to PEM public key>" | "<base64 raw 32 bytes>"} (the
// VECTORVUE_FEEDBACK_VERIFY_KEYS_JSON format); values that are existing files are read.
Result<FeedbackKeys> LoadFeedbackKeys(const std::map<std::string, std::string>& kid_to_path_or_b64);

// URL-safe base64 (no padding, 12 chars) of the first 9 bytes of
// SHA-256("vv-feedback-request-nonce|" + request_nonce): the tag a gateway appends to 12 random
// chars to form its response nonce (24 chars, the reference's token_urlsafe(18) shape), which
// binds the signed answer to the query.
std::string FeedbackRequestNonceTag(std::string_view request_nonce);

class FeedbackVerifier {
 public:
  // A key that is not 32 bytes never verifies (LoadFeedbackKeys only returns good ones).
  FeedbackVerifier(FeedbackKeys keys, ReplayCache& cache, const Clock& clock,
                   FeedbackVerifyOptions options = {});

  // Verifies a response body for a query made for `tenant_id`. Errors (PermissionDenied for
  // signature/replay/window problems, InvalidArgument for shape) carry the reason text.
  // `request_nonce` (the nonce the query was signed with; "" = do not check, for gateways that
  // predate the binding) must be bound by the signed response nonce: at least 12 chars, then
  // FeedbackRequestNonceTag(request_nonce) as its suffix; else "feedback response is not bound
  // to this query". Order: signature, replay, binding, then the nonce is recorded.
  Result<VerifiedFeedback> Verify(std::string_view body, const std::string& tenant_id,
                                  const FeedbackAnchors* anchors = nullptr,
                                  std::string_view request_nonce = {});

  // The exact signing input (exposed for tests and for fakes that sign responses);
  // `canonical_data` is the canonical JSON text of the response's data array.
  static std::string SigningInput(const std::string& tenant_id, int64_t signed_at,
                                  const std::string& nonce, const std::string& schema_version,
                                  const std::string& kid, std::string_view canonical_data);

 private:
  FeedbackKeys keys_;
  ReplayCache& cache_;
  const Clock& clock_;
  FeedbackVerifyOptions options_;
};

}  // namespace spectrastrike
