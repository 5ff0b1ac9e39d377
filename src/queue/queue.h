#pragma once
// The secure queue seam: accepted telemetry goes to the ingest subject, rejected telemetry
// to the dead-letter subject, both as reference-format envelopes (wire-contract section 5):
//   {message_id, kind, created_at, integrity_hash, trace, payload}
// integrity_hash = SHA-256 hex of the canonical JSON of `payload` only. The wire bytes of a
// message are the canonical JSON of the whole envelope.
// The unkeyed integrity_hash authenticates nothing (anyone who can publish can compute it), so
// the gateway adds one extra member (issue 12; envelope_auth.h):
//   "auth": {"alg": "ed25519", "kid": KID, "sig": base64(Ed25519(signing input))}
// over the canonical envelope WITHOUT "auth"; reference readers ignore the extra member.
//
// Publishing is asynchronous: `done` is called exactly once, from a backend thread, only
// after the message is durable (embedded: SQLite commit; JetStream: stream ack). Callers must
// not assume which thread. A publisher is thread-safe.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "json/json.h"

namespace vv::queue {

enum class Kind { kIngest, kDeadLetter };
const char* KindName(Kind k);  // "ingest" / "dead_letter"

struct Envelope {
  std::string message_id;  // uuid4
  Kind kind = Kind::kIngest;
  std::string created_at;  // UTC isoformat with microseconds and +00:00
  std::string integrity_hash;
  json::Value trace;
  json::Value payload;
  // The "auth" member (null = unsigned; see envelope_auth.h).
  json::Value auth;
  // Idempotence key: for ingest "<tenant_id>/<event_id>"; empty = no dedupe (DLQ).
  std::string dedupe_id;
  // CanonicalBytes(), when the last step before the queue already built them
  // (the signing publisher serialises each envelope once for its signature and wire bytes);
  // empty = the publisher serialises. Set only where nothing can change the envelope after.
  std::string wire;
  // UnsignedCanonicalBytes(), when whoever built the envelope already had them
  // (MakeIngestEnvelopeForPublish, which canonicalises the payload for integrity_hash anyway:
  // the payload is then serialised once per event, not twice); empty = built when needed. The
  // same rule as `wire`: set only where nothing can change the envelope after.
  std::string unsigned_wire;

  json::Value ToJson() const;
  std::string CanonicalBytes() const;  // json::Canonical(ToJson())
  // The canonical envelope without "auth": the bytes the signature covers.
  std::string UnsignedCanonicalBytes() const;
  // The same, built around `canonical_payload`, which MUST be json::Canonical(payload) (a
  // caller that already holds it skips serialising the payload a second time).
  std::string UnsignedCanonicalBytes(std::string_view canonical_payload) const;
  // CanonicalBytes() from `unsigned_bytes` (= UnsignedCanonicalBytes()): "auth" spliced in.
  std::string CanonicalBytesFrom(std::string_view unsigned_bytes) const;
  // What a publisher stores: `wire` (moved out) when set, else CanonicalBytes() (built from
  // `unsigned_wire` when that is set).
  std::string TakeWireBytes();
  // What a signer signs: `unsigned_wire` (moved out) when set, else UnsignedCanonicalBytes().
  std::string TakeUnsignedBytes();
};

// Builds an ingest envelope; computes integrity_hash from `payload`.
Envelope MakeIngestEnvelope(json::Value payload, json::Value trace, std::string dedupe_id,
                            const Clock& clock, Random& random);
// MakeIngestEnvelope for an envelope published as it is (the gateway): also sets
// `unsigned_wire` from the canonical payload it hashes.
Envelope MakeIngestEnvelopeForPublish(json::Value payload, json::Value trace,
                                      std::string dedupe_id, const Clock& clock, Random& random);
// Builds a DLQ envelope with payload {error_code, error_message, raw_body}; raw_body is the
// body as UTF-8 text, or standard base64 of the bytes when they are not valid UTF-8.
Envelope MakeDeadLetterEnvelope(std::string error_code, std::string error_message,
                                std::string_view raw_body, json::Value trace, const Clock& clock,
                                Random& random);
bool IsValidUtf8(std::string_view s);

enum class PublishOutcome { kStored, kDuplicate };
using PublishCallback = std::function<void(Status status, PublishOutcome outcome)>;
// Outcome of a batch: OK with one PublishOutcome per envelope (same order), or the first
// failure (then `outcomes` is empty and the caller treats the whole batch as not stored,
// although some messages may be: every ingest envelope carries its dedupe_id, so the
// producer's retry of the batch is deduplicated).
using PublishBatchCallback =
    std::function<void(Status status, std::vector<PublishOutcome> outcomes)>;

// `n` per-message callbacks that together complete `done` once (after the last one ran):
// OK with the outcomes in order, or the first failure. For Publisher implementations.
std::vector<PublishCallback> JoinBatchCallbacks(size_t n, PublishBatchCallback done);

class Publisher {
 public:
  virtual ~Publisher() = default;
  // Ingest envelopes go to the ingest subject, dead letters to the DLQ subject. A duplicate
  // dedupe_id is acknowledged (OK, kDuplicate) without storing a second copy.
  virtual void Publish(Envelope envelope, PublishCallback done) = 0;
  // Publishes `envelopes` and calls `done` once, after all of them are durable (or the first
  // failed). The default publishes each and waits for all callbacks; EmbeddedQueue overrides it
  // so a batch always lands in ONE SQLite transaction (one commit). An empty batch completes
  // inline with OK.
  virtual void PublishBatch(std::vector<Envelope> envelopes, PublishBatchCallback done);
  // OK when the backend can currently accept messages; Unavailable otherwise.
  virtual Status Health() const = 0;
};

// A message as stored, for consumers and tests.
struct StoredMessage {
  int64_t sequence = 0;
  Envelope envelope;
  std::string wire_bytes;  // canonical envelope JSON as stored
  // Deliveries so far as counted by the backend (JetStream metadata, across every consumer
  // process), this one included; 0 when the backend does not say.
  int64_t delivery_count = 0;
};

}  // namespace vv::queue
