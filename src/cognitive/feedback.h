#pragma once
// Cognitive feedback (wire-contract 10, 2.3): derives the adjustment items from stored graphs
// and signs the response with the active feedback key.
//
// Signing input (UTF-8): tenant_id|signed_at|nonce|schema_version|kid|canonical_data, where
// canonical_data is the canonical JSON (Python json.dumps sort_keys, compact, ensure_ascii) of
// the `data` array. Ed25519 over those bytes; std base64 of the signature in the body.
//
// FeedbackSigner loads every configured key ONCE (at start-up; the reference re-read the key
// file on every query) and signs with the active kid; the other kids are kept for rotation
// (their public keys can be published to verifiers). Immutable after Load: thread-safe.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cognitive/graph_store.h"
#include "common/status.h"
#include "crypto/crypto.h"
#include "json/json.h"

namespace vv::cognitive {

inline constexpr std::string_view kFeedbackResponseSchema = "feedback.response.v1";
inline constexpr std::string_view kFeedbackAdjustmentSchema = "feedback.adjustment.v1";
inline constexpr std::string_view kSignatureAlgorithm = "Ed25519";
inline constexpr int64_t kTightenNodeThreshold = 8;
inline constexpr int64_t kAdjustmentTtlSeconds = 1800;

// One 11-field adjustment item (members in the reference model's field order).
json::Value MakeAdjustment(const std::string& tenant_id, const std::string& fingerprint,
                           const std::string& target_urn, bool tighten,
                           const std::string& attestation_hash, int64_t timestamp);
// One item per record (oldest first): `tighten` 0.82 when the graph had >= 8 nodes, else
// `observe` 0.55; `timestamp` = the query time `now` for every item.
json::Value DeriveAdjustments(const std::vector<GraphRecord>& records, int64_t now);

// tenant_id|signed_at|nonce|schema_version|kid|canonical_data
std::string FeedbackSigningInput(std::string_view tenant_id, int64_t signed_at,
                                 std::string_view nonce, std::string_view schema_version,
                                 std::string_view kid, const json::Value& data);

// The response nonce of a feedback answer, bound to the query that asked (issue 12 item 15):
// 12 random URL-safe base64 chars (the first 12 of `token`, a token_urlsafe(18)) followed by
// the 12-char tag = URL-safe base64 (no padding) of the first 9 bytes of
// SHA-256("vv-feedback-request-nonce|" + request nonce). Same shape as the reference's
// token_urlsafe(18) (24 chars, same alphabet). The response nonce is part of the wire-contract
// 2.3 signing input, so the binding is signed and the reference producer (which rebuilds the
// input from the response's own nonce) still verifies; our SDK recomputes the tag from the
// nonce it sent and refuses a response answering another query. 72 random bits keep response
// nonces unique within any replay window.
std::string FeedbackRequestNonceTag(std::string_view request_nonce);
std::string BoundResponseNonce(std::string_view token, std::string_view request_nonce);

struct SignedFeedback {
  std::string signature_b64;
  std::string kid;
  int64_t signed_at = 0;
  std::string nonce;
  std::string schema_version;
};

class FeedbackSigner {
 public:
  // Loads every key file (raw 32-byte seed or PEM PKCS#8; mode 0400/0600 unless
  // `check_permissions` is false). Errors name the missing or bad setting
  // (feedback_ed25519_keys / VV_TG_FEEDBACK_ED25519_KEYS_JSON, feedback_active_kid /
  // VV_TG_FEEDBACK_ACTIVE_KID) and the kid.
  static Result<std::shared_ptr<const FeedbackSigner>> Load(
      const std::map<std::string, std::string>& key_paths, const std::string& active_kid,
      bool check_permissions = true);
  // From keys in memory (tests, tools).
  static Result<std::shared_ptr<const FeedbackSigner>> FromKeys(
      std::map<std::string, crypto::Ed25519PrivateKey> keys, const std::string& active_kid);

  SignedFeedback Sign(std::string_view tenant_id, int64_t signed_at, std::string_view nonce,
                      const json::Value& data) const;

  const std::string& active_kid() const { return active_kid_; }
  // Public key of a configured kid, or nullptr.
  const crypto::Ed25519PublicKey* PublicKey(std::string_view kid) const;

 private:
  FeedbackSigner() = default;
  std::map<std::string, crypto::Ed25519PrivateKey, std::less<>> keys_;
  std::map<std::string, crypto::Ed25519PublicKey, std::less<>> public_keys_;
  std::string active_kid_;
};

}  // namespace vv::cognitive
