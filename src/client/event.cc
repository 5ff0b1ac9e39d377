#include "spectrastrike/event.h"

#include <utility>
#include <vector>

#include "client/status_bridge.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "json/json.h"

namespace spectrastrike {
namespace {

using vv::Status;
using vv::json::Value;

bool IsStringInRange(const Value* v, size_t min_len, size_t max_len) {
  return v != nullptr && v->is_string() && v->as_string().size() >= min_len &&
         v->as_string().size() <= max_len;
}

// Takes `key` from the envelope or else the default; validates 1..128 chars.
Status FillField(Value& env, const char* key, const std::string& fallback, bool tenant) {
  const Value* v = env.Find(key);
  if (v == nullptr || v->is_null()) {
    if (fallback.empty())
      return Status::InvalidArgument(std::string(key) + " is required (set it in the event or " +
                                     "spectrastrike.producer." + key + ")");
    env.Set(key, Value(fallback));
    v = env.Find(key);
  }
  if (tenant) {
    if (!v->is_string() || !IsValidTenantId(v->as_string()))
      return Status::InvalidArgument("tenant_id must be 36 hex/hyphen characters (a UUID)");
  } else if (!IsStringInRange(v, 1, 128)) {
    return Status::InvalidArgument(std::string(key) + " must be a string of 1..128 characters");
  }
  return Status::Ok();
}

std::string HashOf(const Value& payload) {
  return vv::crypto::Sha256Hex(vv::json::Canonical(payload));
}

vv::Result<Value> ParseJson(std::string_view json_text) {
  auto parsed = vv::json::Parse(json_text);
  if (!parsed.ok()) return Status::InvalidArgument("invalid JSON: " + parsed.status().message());
  return parsed;
}

vv::Result<PreparedEvent> Prepare(const Value& input, const ProducerIdentity& defaults);

}  // namespace

bool IsValidTenantId(std::string_view s) {
  if (s.size() != 36) return false;
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsValidEventToken(std::string_view s, size_t max_len) {
  if (s.empty() || s.size() > max_len) return false;
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<std::string> ExecutionHashOf(std::string_view payload_json) {
  auto payload = ParseJson(payload_json);
  if (!payload.ok()) return Public(payload.status());
  return HashOf(*payload);
}

std::string MakeNonce(Random& random, size_t length) {
  std::string bytes((length * 3 + 3) / 4 + 1, '\0');
  random.Fill(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size());
  std::string token = vv::Base64UrlEncodeNoPad(bytes);
  token.resize(length);
  return token;
}

Result<PreparedEvent> PrepareEvent(std::string_view json_text, const ProducerIdentity& defaults) {
  auto parsed = ParseJson(json_text);
  if (!parsed.ok()) return Public(parsed.status());
  return Public(Prepare(*parsed, defaults));
}

namespace {

vv::Result<PreparedEvent> Prepare(const Value& input, const ProducerIdentity& defaults) {
  if (!input.is_object()) return Status::InvalidArgument("event must be a JSON object");
  Value env;
  const Value* payload_field = input.Find("payload");
  if (payload_field != nullptr) {
    if (!payload_field->is_object())
      return Status::InvalidArgument("envelope field 'payload' must be an object");
    static const char* kAllowed[] = {"operator_id", "campaign_id",     "tenant_id", "execution_hash",
                                     "timestamp",   "nonce",           "signed_metadata",
                                     "payload"};
    for (const auto& [key, value] : input.as_object()) {
      bool known = false;
      for (const char* k : kAllowed) known = known || key == k;
      if (!known) return Status::InvalidArgument("unknown envelope field '" + key + "'");
    }
    env = input;
    // Timestamp and nonce are taken at signing time, never from the input.
    env.Erase("timestamp");
    env.Erase("nonce");
  } else {
    env = Value::MakeObject();
    env.Set("payload", input);
  }
  VV_RETURN_IF_ERROR(FillField(env, "operator_id", defaults.operator_id, false));
  VV_RETURN_IF_ERROR(FillField(env, "campaign_id", defaults.campaign_id, false));
  VV_RETURN_IF_ERROR(FillField(env, "tenant_id", defaults.tenant_id, true));

  const Value& payload = *env.Find("payload");
  const Value* event_id = payload.Find("event_id");
  if (event_id == nullptr || !event_id->is_string() || !IsValidEventToken(event_id->as_string(), 128))
    return Status::InvalidArgument(
        "payload.event_id is required: 1..128 characters of [A-Za-z0-9._:-]");

  const Value* hash = env.Find("execution_hash");
  if (hash == nullptr || hash->is_null()) {
    env.Set("execution_hash", Value(HashOf(payload)));
  } else if (!hash->is_string() || !vv::IsHex(hash->as_string(), 64)) {
    return Status::InvalidArgument("execution_hash must be 64 hex characters");
  }

  Value meta = Value::MakeObject();
  meta.Set("tenant_id", *env.Find("tenant_id"));
  meta.Set("operator_id", *env.Find("operator_id"));
  meta.Set("campaign_id", *env.Find("campaign_id"));
  const Value* given_meta = env.Find("signed_metadata");
  if (given_meta != nullptr && !given_meta->is_null()) {
    if (!given_meta->is_object() || given_meta->as_object().size() != 3 ||
        vv::json::Canonical(*given_meta) != vv::json::Canonical(meta))
      return Status::InvalidArgument(
          "signed_metadata must hold exactly tenant_id, operator_id, campaign_id equal to the "
          "envelope's");
  }
  env.Set("signed_metadata", std::move(meta));

  PreparedEvent out;
  out.event_id = event_id->as_string();
  out.execution_hash = env.Find("execution_hash")->as_string();
  out.tenant_id = env.Find("tenant_id")->as_string();
  out.envelope_json = vv::json::Canonical(env);
  return out;
}

}  // namespace

std::string StampEvent(const PreparedEvent& event, int64_t timestamp, const std::string& nonce) {
  // envelope_json is the text PrepareEvent wrote; a hand-made one that does not parse as an
  // object sends only timestamp and nonce, which the gateway refuses (a final rejection).
  auto parsed = vv::json::Parse(event.envelope_json);
  Value body = parsed.ok() && parsed->is_object() ? std::move(parsed).value() : Value::MakeObject();
  body.Set("timestamp", Value(timestamp));
  body.Set("nonce", Value(nonce));
  return vv::json::Canonical(body);
}

}  // namespace spectrastrike
