#include "queue/envelope_codec.h"

#include <string>
#include <utility>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "json/json.h"

namespace vv::queue {

Result<Kind> KindFromName(std::string_view name) {
  if (name == "ingest") return Kind::kIngest;
  if (name == "dead_letter") return Kind::kDeadLetter;
  return Status::InvalidArgument("unknown envelope kind");
}

Result<Envelope> ParseEnvelope(std::string_view wire_bytes) {
  Result<json::Value> parsed = json::Parse(wire_bytes);
  if (!parsed.ok()) {
    return Status::InvalidArgument("envelope is not valid JSON: " + parsed.status().message());
  }
  json::Value& v = parsed.value();
  if (!v.is_object()) return Status::InvalidArgument("envelope is not a JSON object");
  auto get_string = [&v](const char* key, std::string* out) -> Status {
    const json::Value* f = v.Find(key);
    if (f == nullptr || !f->is_string()) {
      return Status::InvalidArgument(std::string("envelope field '") + key +
                                     "' missing or not a string");
    }
    *out = f->as_string();
    return Status::Ok();
  };
  Envelope e;
  std::string kind;
  VV_RETURN_IF_ERROR(get_string("message_id", &e.message_id));
  VV_RETURN_IF_ERROR(get_string("kind", &kind));
  VV_RETURN_IF_ERROR(get_string("created_at", &e.created_at));
  VV_RETURN_IF_ERROR(get_string("integrity_hash", &e.integrity_hash));
  VV_ASSIGN_OR_RETURN(Kind k, KindFromName(kind));
  e.kind = k;
  json::Value* trace = v.Find("trace");
  json::Value* payload = v.Find("payload");
  if (trace == nullptr) return Status::InvalidArgument("envelope field 'trace' missing");
  if (payload == nullptr) return Status::InvalidArgument("envelope field 'payload' missing");
  if (json::Value* auth = v.Find("auth"); auth != nullptr) {
    if (!auth->is_object()) return Status::InvalidArgument("envelope field 'auth' is not an object");
    e.auth = std::move(*auth);
  }
  e.trace = std::move(*trace);
  e.payload = std::move(*payload);
  return e;
}

bool VerifyIntegrity(const Envelope& envelope) {
  return ConstantTimeEquals(envelope.integrity_hash,
                            crypto::Sha256Hex(json::Canonical(envelope.payload)));
}

}  // namespace vv::queue
