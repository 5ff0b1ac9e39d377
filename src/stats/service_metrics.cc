#include "stats/service_metrics.h"

#include <cstdio>

#include "stats/process_metrics.h"

namespace vv::stats {

GatewayMetrics::GatewayMetrics(Registry& r)
    : requests_accepted(r.AddCounter("vv_gateway_requests_accepted_total",
                                     "Telemetry requests accepted by the gateway.")),
      requests_rejected(
          r.AddCounterFamily("vv_gateway_requests_rejected_total",
                             "Requests rejected by the gateway, by HTTP status and reason code.",
                             {"status", "reason"})),
      replay_detections(r.AddCounterFamily("vv_gateway_replay_detections_total",
                                           "Nonce replays detected, by operator id.",
                                           {"operator"})),
      signature_failures(r.AddCounter("vv_gateway_signature_failures_total",
                                      "Ed25519 request signature verification failures.")),
      mtls_identity_mismatches(
          r.AddCounter("vv_gateway_mtls_identity_mismatches_total",
                       "Client certificates whose pin does not match the claimed identity.")),
      tls_handshake_rejections(r.AddCounterFamily("vv_gateway_tls_handshake_rejections_total",
                                                  "TLS handshakes refused, by reason.",
                                                  {"reason"})),
      dlq_published(r.AddCounter("vv_gateway_dlq_published_total",
                                 "Messages published to the dead-letter queue.")),
      dlq_publish_failures(r.AddCounter("vv_gateway_dlq_publish_failures_total",
                                        "Dead-letter queue publishes that failed.")),
      audit_append_failures(r.AddCounter("vv_gateway_audit_append_failures_total",
                                         "Tamper-evident audit log appends that failed.")),
      audit_integrity_failures(
          r.AddCounter("vv_gateway_audit_integrity_failures_total",
                       "Tamper-evident audit log chain or seal verification failures.")),
      backend_errors(r.AddCounterFamily("vv_gateway_backend_errors_total",
                                        "Errors talking to a backend (redis, nats, ...).",
                                        {"backend"})),
      verification_duration(r.AddHistogram("vv_gateway_verification_duration_seconds",
                                           "Time to verify a request (head to verdict).",
                                           DefaultLatencyBuckets())),
      queue_publish_duration(r.AddHistogram("vv_gateway_queue_publish_duration_seconds",
                                            "Time to publish an accepted message to the queue.",
                                            DefaultLatencyBuckets())),
      request_duration(r.AddHistogram(
          "vv_gateway_request_duration_seconds",
          "Time from a telemetry request's head to its answer (any outcome).",
          DefaultLatencyBuckets())),
      queue_group_size(r.AddHistogram(
          "vv_gateway_queue_group_size",
          "Envelopes published together: one queue commit or one queue signature.",
          {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096})),
      config_reloads(r.AddCounterFamily("vv_gateway_config_reloads_total",
                                        "Configuration hot reloads, by result (ok, rejected).",
                                        {"result"})),
      revoked_identities(r.AddGauge("vv_gateway_revoked_identities",
                                    "Service identities currently revoked by the kill switch.")),
      tls_crl_next_update(
          r.AddGauge("vv_gateway_tls_crl_next_update_timestamp_seconds",
                     "Earliest nextUpdate of the loaded CRLs, unix seconds (0 = no CRL).")),
      tls_certificate_expiry(r.AddGaugeFamily(
          "vv_gateway_tls_certificate_expiry_timestamp_seconds",
          "notAfter of the server certificate and of the earliest-expiring CA, unix seconds.",
          {"cert"})),
      ready(r.AddGauge("vv_gateway_ready",
                       "1 when the gateway can serve requests (/readyz 200), 0 otherwise.")) {}

Counter& GatewayMetrics::Rejected(int status, std::string_view reason) {
  char buf[16];
  int n = std::snprintf(buf, sizeof(buf), "%d", status);
  return requests_rejected.WithLabels({std::string_view(buf, n > 0 ? n : 0), reason});
}

EngineMetrics::EngineMetrics(Registry& r)
    : messages_consumed(r.AddCounter("vv_engine_messages_consumed_total",
                                     "Messages consumed from the ingest queue.")),
      messages_stored(r.AddCounter("vv_engine_messages_stored_total",
                                   "Messages stored in the evidence store.")),
      duplicates(r.AddCounter("vv_engine_duplicates_total",
                              "Duplicate messages skipped (idempotent redelivery).")),
      integrity_failures(r.AddCounter("vv_engine_integrity_failures_total",
                                      "Messages or audit records failing integrity checks.")),
      dead_lettered(r.AddCounter("vv_engine_dead_lettered_total",
                                 "Messages moved to the dead-letter queue by the engine.")),
      consumer_lag(r.AddGauge("vv_engine_consumer_lag_messages",
                              "Unacked ingest messages waiting for this consumer (-1 unknown).")),
      rejected(r.AddCounter("vv_engine_rejected_total",
                            "Envelopes rejected permanently and dead-lettered.")),
      unauthenticated(r.AddCounter("vv_engine_unauthenticated_total",
                                   "Envelopes failing queue authentication (dead-lettered).")),
      transient_failures(r.AddCounter("vv_engine_transient_failures_total",
                                      "Deliveries left unacked for redelivery.")),
      ready(r.AddGauge("vv_engine_ready",
                       "1 when the engine's queue, store and audit log are usable (/readyz 200).")) {}

std::vector<std::string> AllServiceSampleNames() {
  Registry r;
  GatewayMetrics g(r);
  EngineMetrics e(r);
  ProcessMetrics p(r, "any");
  return r.SampleNames();
}

}  // namespace vv::stats
