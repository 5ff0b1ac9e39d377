#include "fakes/telemetry_builder.h"

#include "common/encoding.h"
#include "crypto/crypto.h"

namespace vv::testing {

json::Value MakeTelemetryBody(int64_t ts, const std::string& nonce, const std::string& event_id) {
  json::Value attributes = json::Value::MakeObject();
  attributes.Set("asset_ref", "host-nyc-01");
  attributes.Set("attestation_measurement_hash", std::string(64, 'b'));
  attributes.Set("schema_version", "1.0");
  json::Value payload = json::Value::MakeObject();
  payload.Set("event_id", event_id);
  payload.Set("event_type", "PROCESS_ANOMALY");
  payload.Set("source_system", "spectrastrike-sensor");
  payload.Set("severity", "high");
  payload.Set("observed_at", "2026-02-26T12:00:00Z");
  json::Value techniques = json::Value::MakeArray();
  techniques.Push("T1059.001");
  payload.Set("mitre_techniques", std::move(techniques));
  json::Value tactics = json::Value::MakeArray();
  tactics.Push("TA0002");
  payload.Set("mitre_tactics", std::move(tactics));
  payload.Set("description", "Observed suspicious process chain");
  payload.Set("attributes", std::move(attributes));
  json::Value sm = json::Value::MakeObject();
  sm.Set("tenant_id", kTenant1);
  sm.Set("operator_id", "op-001");
  sm.Set("campaign_id", "cmp-001");
  json::Value body = json::Value::MakeObject();
  body.Set("operator_id", "op-001");
  body.Set("campaign_id", "cmp-001");
  body.Set("tenant_id", kTenant1);
  body.Set("execution_hash", std::string(64, 'f'));
  body.Set("timestamp", ts);
  body.Set("nonce", nonce);
  body.Set("signed_metadata", std::move(sm));
  body.Set("payload", std::move(payload));
  return body;
}

std::string SignB64(int64_t ts, const std::string& nonce, const std::string& body,
                    const std::string& seed_hex) {
  auto key = crypto::Ed25519PrivateKey::FromSeed(*HexDecode(seed_hex));
  return Base64Encode(key->Sign(std::to_string(ts) + "." + nonce + "." + body));
}

SignedRequest SignBody(const json::Value& body_obj, int64_t ts, const std::string& nonce,
                       const std::string& seed_hex) {
  SignedRequest r;
  r.body = json::Canonical(body_obj);
  r.ts = ts;
  r.nonce = nonce;
  r.signature_b64 = SignB64(ts, nonce, r.body, seed_hex);
  return r;
}

}  // namespace vv::testing
