// Envelope construction and serialisation (wire-contract section 5).

#include "queue/queue.h"

#include <atomic>
#include <memory>
#include <utility>

#include "common/encoding.h"
#include "common/mutex.h"
#include "common/text.h"
#include "crypto/crypto.h"

namespace vv::queue {

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kIngest:
      return "ingest";
    case Kind::kDeadLetter:
      return "dead_letter";
  }
  return "ingest";
}

json::Value Envelope::ToJson() const {
  json::Object o;
  o.reserve(7);
  if (!auth.is_null()) o.emplace_back("auth", auth);
  o.emplace_back("message_id", json::Value(message_id));
  o.emplace_back("kind", json::Value(KindName(kind)));
  o.emplace_back("created_at", json::Value(created_at));
  o.emplace_back("integrity_hash", json::Value(integrity_hash));
  o.emplace_back("trace", trace);
  o.emplace_back("payload", payload);
  return json::Value(std::move(o));
}

// Equal to json::Canonical(ToJson()) without deep-copying trace and payload into a temporary
// DOM: the six (seven with "auth", which sorts first) keys are written in canonical (sorted)
// order by hand.
std::string Envelope::CanonicalBytes() const { return CanonicalBytesFrom(UnsignedCanonicalBytes()); }

std::string Envelope::CanonicalBytesFrom(std::string_view unsigned_bytes) const {
  if (auth.is_null()) return std::string(unsigned_bytes);
  std::string out;
  out.reserve(unsigned_bytes.size() + 160);
  out.append("{\"auth\":");
  json::AppendCanonical(auth, &out);
  out.push_back(',');
  out.append(unsigned_bytes.substr(1));
  return out;
}

std::string Envelope::TakeWireBytes() {
  if (wire.empty()) {
    if (unsigned_wire.empty()) return CanonicalBytes();
    std::string u = TakeUnsignedBytes();
    if (auth.is_null()) return u;  // moved, not copied
    return CanonicalBytesFrom(u);
  }
  std::string out = std::move(wire);
  wire.clear();
  return out;
}

std::string Envelope::TakeUnsignedBytes() {
  if (unsigned_wire.empty()) return UnsignedCanonicalBytes();
  std::string out = std::move(unsigned_wire);
  unsigned_wire.clear();
  return out;
}

namespace {

// Writes the unsigned canonical envelope; `payload` appends the canonical payload.
template <class AppendPayload>
std::string UnsignedBytes(const Envelope& e, size_t payload_hint, AppendPayload payload) {
  std::string out;
  out.reserve(160 + e.message_id.size() + e.created_at.size() + e.integrity_hash.size() +
              payload_hint);
  out.append("{\"created_at\":");
  json::AppendQuoted(e.created_at, &out);
  out.append(",\"integrity_hash\":");
  json::AppendQuoted(e.integrity_hash, &out);
  out.append(",\"kind\":");
  json::AppendQuoted(KindName(e.kind), &out);
  out.append(",\"message_id\":");
  json::AppendQuoted(e.message_id, &out);
  out.append(",\"payload\":");
  payload(&out);
  out.append(",\"trace\":");
  json::AppendCanonical(e.trace, &out);
  out.push_back('}');
  return out;
}

}  // namespace

std::string Envelope::UnsignedCanonicalBytes() const {
  return UnsignedBytes(*this, 0, [this](std::string* out) { json::AppendCanonical(payload, out); });
}

std::string Envelope::UnsignedCanonicalBytes(std::string_view canonical_payload) const {
  return UnsignedBytes(*this, canonical_payload.size(),
                       [canonical_payload](std::string* out) { out->append(canonical_payload); });
}

namespace {

// `keep_unsigned`: also set unsigned_wire around the canonical payload hashed here.
Envelope MakeEnvelope(Kind kind, json::Value payload, json::Value trace, const Clock& clock,
                      Random& random, bool keep_unsigned = false) {
  Envelope e;
  e.message_id = random.Uuid4();
  e.kind = kind;
  e.created_at = IsoFormatUtcMicros(clock.NowMicros());
  const std::string canonical_payload = json::Canonical(payload);
  e.integrity_hash = crypto::Sha256Hex(canonical_payload);
  e.trace = std::move(trace);
  e.payload = std::move(payload);
  if (keep_unsigned) e.unsigned_wire = e.UnsignedCanonicalBytes(canonical_payload);
  return e;
}

}  // namespace

Envelope MakeIngestEnvelope(json::Value payload, json::Value trace, std::string dedupe_id,
                            const Clock& clock, Random& random) {
  Envelope e = MakeEnvelope(Kind::kIngest, std::move(payload), std::move(trace), clock, random);
  e.dedupe_id = std::move(dedupe_id);
  return e;
}

Envelope MakeIngestEnvelopeForPublish(json::Value payload, json::Value trace,
                                      std::string dedupe_id, const Clock& clock, Random& random) {
  Envelope e = MakeEnvelope(Kind::kIngest, std::move(payload), std::move(trace), clock, random,
                            /*keep_unsigned=*/true);
  e.dedupe_id = std::move(dedupe_id);
  return e;
}

Envelope MakeDeadLetterEnvelope(std::string error_code, std::string error_message,
                                std::string_view raw_body, json::Value trace, const Clock& clock,
                                Random& random) {
  json::Object p;
  p.reserve(3);
  p.emplace_back("error_code", json::Value(std::move(error_code)));
  p.emplace_back("error_message", json::Value(std::move(error_message)));
  p.emplace_back("raw_body", IsValidUtf8(raw_body) ? json::Value(raw_body)
                                                   : json::Value(Base64Encode(raw_body)));
  // Dead letters are never deduplicated: dedupe_id stays empty.
  return MakeEnvelope(Kind::kDeadLetter, json::Value(std::move(p)), std::move(trace), clock,
                      random);
}

// Strict UTF-8 as Python's bytes.decode("utf-8"): the one decoder in common/text.h.
bool IsValidUtf8(std::string_view s) { return text::IsValidUtf8(s); }

std::vector<PublishCallback> JoinBatchCallbacks(size_t n, PublishBatchCallback done) {
  // Shared by the per-message callbacks (any thread); the last one completes the batch.
  struct State {
    State(size_t n, PublishBatchCallback d)
        : outcomes(n, PublishOutcome::kStored), remaining(n), done(std::move(d)) {}
    Mutex mu;
    Status first_error VV_GUARDED_BY(mu);
    std::vector<PublishOutcome> outcomes VV_GUARDED_BY(mu);
    std::atomic<size_t> remaining;
    const PublishBatchCallback done;
  };
  auto state = std::make_shared<State>(n, std::move(done));
  std::vector<PublishCallback> callbacks;
  callbacks.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    callbacks.emplace_back([state, i](Status s, PublishOutcome o) {
      {
        MutexLock l(&state->mu);
        if (!s.ok() && state->first_error.ok()) state->first_error = std::move(s);
        state->outcomes[i] = o;
      }
      if (state->remaining.fetch_sub(1) != 1) return;
      std::vector<PublishOutcome> outcomes;
      Status status;
      {
        MutexLock l(&state->mu);
        status = state->first_error;
        if (status.ok()) outcomes = std::move(state->outcomes);
      }
      state->done(std::move(status), std::move(outcomes));
    });
  }
  return callbacks;
}

void Publisher::PublishBatch(std::vector<Envelope> envelopes, PublishBatchCallback done) {
  if (envelopes.empty()) {
    done(Status::Ok(), {});
    return;
  }
  std::vector<PublishCallback> callbacks = JoinBatchCallbacks(envelopes.size(), std::move(done));
  for (size_t i = 0; i < envelopes.size(); ++i)
    Publish(std::move(envelopes[i]), std::move(callbacks[i]));
}

}  // namespace vv::queue
