#pragma once
// SpectraStrike SDK: the telemetry event builder (wire contract 1.3).
//
// An input event is JSON text: either the canonical telemetry payload (an object with
// `event_id`, no `payload` key) or a full request envelope (an object with a `payload` object).
// PrepareEvent turns either into a PreparedEvent: the envelope with operator_id, tenant_id,
// campaign_id, execution_hash and signed_metadata filled in and checked, but WITHOUT timestamp
// and nonce.
// Those two are stamped per delivery attempt (Stamp), at signing time: never the event's own
// time (wire-contract 13 item 16), and a fresh nonce for every attempt.
// Thread-safety: free functions over values; PreparedEvent is plain data.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "spectrastrike/clock.h"
#include "spectrastrike/status.h"

namespace spectrastrike {

// Who the producer speaks for: defaults for events that do not carry these fields.
struct ProducerIdentity {
  std::string operator_id;
  std::string tenant_id;
  std::string campaign_id;
};

struct PreparedEvent {
  std::string event_id;        // payload.event_id (the gateway's dedupe key with tenant_id)
  std::string execution_hash;  // also sent as Idempotency-Key
  std::string tenant_id;
  // The complete request object minus timestamp/nonce, as canonical JSON text.
  std::string envelope_json;
};

// Parses (strict JSON), builds and validates (field presence, lengths, tenant format, event_id
// charset, signed metadata consistency, no unknown top-level keys). InvalidArgument with a
// readable reason ("invalid JSON: ..." when the text does not parse).
Result<PreparedEvent> PrepareEvent(std::string_view json_text, const ProducerIdentity& defaults);

// The request body for one attempt: the envelope with `timestamp` and `nonce` set, serialised
// canonically (sorted compact ensure_ascii JSON, as the reference producer sends it).
std::string StampEvent(const PreparedEvent& event, int64_t timestamp, const std::string& nonce);

// Default execution hash: SHA-256 hex of the canonical form of the payload JSON text (stable
// across attempts). InvalidArgument when the text is not JSON.
Result<std::string> ExecutionHashOf(std::string_view payload_json);

// A nonce of exactly `length` URL-safe base64 characters drawn from `random` (a CSPRNG in
// production). length 24 equals Python secrets.token_urlsafe(18).
std::string MakeNonce(Random& random, size_t length);

// Wire-contract field rules, exposed for reuse by the CLI.
bool IsValidTenantId(std::string_view s);             // ^[a-fA-F0-9-]{36}$
bool IsValidEventToken(std::string_view s, size_t max_len);  // ^[A-Za-z0-9._:-]{1,max}$

}  // namespace spectrastrike
