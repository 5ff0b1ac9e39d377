#pragma once
// Decoding of queue wire bytes (canonical envelope JSON, wire-contract section 5) back into
// an Envelope, for consumers of the embedded queue and of JetStream. Pure functions,
// thread-safe.

#include <string_view>

#include "common/status.h"
#include "queue/queue.h"

namespace vv::queue {

// Parses and checks the envelope shape: an object with string message_id, kind ("ingest" |
// "dead_letter"), created_at and integrity_hash, plus trace and payload, and the optional
// "auth" object (kept as it is; envelope_auth.h verifies it). Does not verify
// integrity_hash (see VerifyIntegrity). dedupe_id is not part of the wire bytes and is left
// empty. InvalidArgument on any problem.
Result<Envelope> ParseEnvelope(std::string_view wire_bytes);
// True when integrity_hash == SHA-256 hex of the canonical JSON of payload.
bool VerifyIntegrity(const Envelope& envelope);
// "ingest" / "dead_letter" -> Kind; InvalidArgument otherwise.
Result<Kind> KindFromName(std::string_view name);

}  // namespace vv::queue
