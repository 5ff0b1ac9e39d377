#pragma once
// The sample telemetry request the demo producer and the load generator send (wire-contract
// 1.3 shape: a PROCESS_ANOMALY on T1059.001 / TA0002 for operator op-001, campaign cmp-001).
// Header-only: each tool is one translation unit. Thread-safety: a pure function.

#include <cstdint>
#include <string>

#include "crypto/crypto.h"
#include "json/json.h"

namespace vv::tools {

inline json::Value DemoTelemetryRequest(int64_t ts, const std::string& nonce,
                                        const std::string& event_id, const std::string& tenant,
                                        const std::string& description) {
  using json::Value;
  Value attributes = Value::MakeObject();
  attributes.Set("asset_ref", "host-nyc-01");
  attributes.Set("attestation_measurement_hash", crypto::Sha256Hex("demo-attestation"));
  attributes.Set("schema_version", "1.0");
  Value payload = Value::MakeObject();
  payload.Set("event_id", event_id);
  payload.Set("event_type", "PROCESS_ANOMALY");
  payload.Set("source_system", "spectrastrike-sensor");
  payload.Set("severity", "high");
  payload.Set("observed_at", "2026-02-26T12:00:00Z");
  Value techniques = Value::MakeArray();
  techniques.Push("T1059.001");
  payload.Set("mitre_techniques", std::move(techniques));
  Value tactics = Value::MakeArray();
  tactics.Push("TA0002");
  payload.Set("mitre_tactics", std::move(tactics));
  payload.Set("description", description);
  payload.Set("attributes", std::move(attributes));
  Value metadata = Value::MakeObject();
  metadata.Set("tenant_id", tenant);
  metadata.Set("operator_id", "op-001");
  metadata.Set("campaign_id", "cmp-001");
  Value body = Value::MakeObject();
  body.Set("operator_id", "op-001");
  body.Set("campaign_id", "cmp-001");
  body.Set("tenant_id", tenant);
  body.Set("execution_hash", crypto::Sha256Hex(event_id));
  body.Set("timestamp", ts);
  body.Set("nonce", nonce);
  body.Set("signed_metadata", std::move(metadata));
  body.Set("payload", std::move(payload));
  return body;
}

}  // namespace vv::tools
