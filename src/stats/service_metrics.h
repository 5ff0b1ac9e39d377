#pragma once
// The metric sets of the telemetry gateway and the evidence engine (issue 8, manual section 28),
// declared once here so code, alert rules (deploy/prometheus) and the dashboard
// (deploy/grafana) share one list of names. Prometheus naming: vv_<service>_<subject>_<unit>,
// counters end in _total, latencies are histograms in seconds.
//
// Usage: build once at start-up on the process's Registry and pass a reference down; cache the
// labelled children you use on a hot path (e.g. `Counter& c = m.Rejected(401, "bad_signature")`
// once per reason). Every rejection path increments exactly one `requests_rejected` child.
// Thread-safety: all members are thread-safe metrics. Ownership: the Registry owns the
// metrics; these structs hold references and must not outlive it.

#include <string>
#include <string_view>
#include <vector>

#include "stats/metrics.h"

namespace vv::stats {

struct GatewayMetrics {
  explicit GatewayMetrics(Registry& registry);

  // vv_gateway_requests_accepted_total: requests accepted (2xx) by the ingest endpoints.
  Counter& requests_accepted;
  // vv_gateway_requests_rejected_total{status,reason}: one increment per rejected request.
  // reason is a stable snake_case code (bad_signature, replayed_nonce, unknown_identity,
  // rate_limited, schema_invalid, backend_unavailable, ...).
  CounterFamily& requests_rejected;
  // vv_gateway_replay_detections_total{operator}: nonce replays per operator id.
  CounterFamily& replay_detections;
  // vv_gateway_signature_failures_total: Ed25519 request signature verification failures.
  Counter& signature_failures;
  // vv_gateway_mtls_identity_mismatches_total: client cert pin / claimed identity mismatches.
  Counter& mtls_identity_mismatches;
  // vv_gateway_tls_handshake_rejections_total{reason}: TLS handshakes refused (no client cert,
  // chain verification failure, revoked, ...).
  CounterFamily& tls_handshake_rejections;
  // vv_gateway_dlq_published_total / vv_gateway_dlq_publish_failures_total.
  Counter& dlq_published;
  Counter& dlq_publish_failures;
  // vv_gateway_audit_append_failures_total: tamper-evident log appends that failed.
  Counter& audit_append_failures;
  // vv_gateway_audit_integrity_failures_total: audit chain / seal verification failures.
  Counter& audit_integrity_failures;
  // vv_gateway_backend_errors_total{backend}: redis | nats | embedded_queue | audit | ...
  CounterFamily& backend_errors;
  // vv_gateway_verification_duration_seconds: time from request head to verdict.
  Histogram& verification_duration;
  // vv_gateway_queue_publish_duration_seconds: time to publish one accepted message.
  Histogram& queue_publish_duration;
  // vv_gateway_request_duration_seconds: a telemetry request (single or batch, any outcome)
  // from its head to its answer, as the gateway sees it (no TLS or network time).
  Histogram& request_duration;
  // vv_gateway_queue_group_size: envelopes published together - one commit (embedded queue)
  // or one signature (JetStream path) per observation: single requests that arrived
  // together, or one batch request's events. Its _sum / _count is the mean group size.
  Histogram& queue_group_size;
  // vv_gateway_config_reloads_total{result}: hot reloads, result = ok | rejected.
  CounterFamily& config_reloads;
  // vv_gateway_revoked_identities: identities currently revoked by the kill switch.
  Gauge& revoked_identities;
  // vv_gateway_tls_crl_next_update_timestamp_seconds: earliest nextUpdate of the loaded CRLs
  // (unix seconds; 0 = no CRL configured). Alert before it passes: an expired CRL fails every
  // handshake closed.
  Gauge& tls_crl_next_update;
  // vv_gateway_tls_certificate_expiry_timestamp_seconds{cert="server|ca|nats_ca|redis_ca"}:
  // notAfter of the server certificate, of the earliest-expiring trusted client CA and of the
  // earliest certificate in the backends' CA bundles (when configured), unix seconds.
  GaugeFamily& tls_certificate_expiry;
  // vv_gateway_ready: 1 when the readiness model (app/readiness.h) says requests can be
  // served, 0 when /readyz answers 503; refreshed by every health check and every scrape.
  Gauge& ready;

  // Convenience resolvers (cache the result on hot paths).
  Counter& Rejected(int status, std::string_view reason);
  Counter& ReplayDetected(std::string_view operator_id) {
    return replay_detections.WithLabels({operator_id});
  }
  Counter& BackendError(std::string_view backend) { return backend_errors.WithLabels({backend}); }
  Counter& HandshakeRejected(std::string_view reason) {
    return tls_handshake_rejections.WithLabels({reason});
  }
};

struct EngineMetrics {
  explicit EngineMetrics(Registry& registry);

  Counter& messages_consumed;   // vv_engine_messages_consumed_total
  Counter& messages_stored;     // vv_engine_messages_stored_total
  Counter& duplicates;          // vv_engine_duplicates_total
  Counter& integrity_failures;  // vv_engine_integrity_failures_total
  Counter& dead_lettered;       // vv_engine_dead_lettered_total
  Gauge& consumer_lag;          // vv_engine_consumer_lag_messages (-1 = unknown)
  Counter& rejected;            // vv_engine_rejected_total
  Counter& unauthenticated;     // vv_engine_unauthenticated_total
  Counter& transient_failures;  // vv_engine_transient_failures_total
  Gauge& ready;                 // vv_engine_ready
};

// Every sample name GatewayMetrics and EngineMetrics expose (histograms expanded to
// _bucket/_sum/_count), sorted. Used by the dashboard/alert tests.
std::vector<std::string> AllServiceSampleNames();

}  // namespace vv::stats
