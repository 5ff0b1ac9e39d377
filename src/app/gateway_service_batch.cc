// GatewayService: POST /internal/v1/telemetry/batch (issue 15 item 2), a deliberate extension
// of the wire contract (docs/producer.md "Batched ingest", docs/design-decisions.md).
//
//   - Body: NDJSON (verify/batch_body.h), at most limits.batch_max_events lines and
//     limits.max_body_bytes bytes (413 beyond either). Content-Type application/x-ndjson (415
//     otherwise; a JSON array body is refused 422 batch_not_ndjson).
//   - ONE signature over the raw body, with the single endpoint's headers, freshness and
//     identity rules: the telemetry chain's authentication stage runs once on the whole body.
//   - ONE nonce per batch: burned once authenticated (a replay of the batch is 409 as a whole).
//   - Each line is validated by the chain's validation stage exactly like a single request's
//     body (schema, MITRE catalog, sanitisation, signed metadata, tenant, operator permission,
//     schema version); its "timestamp" and "nonce" must be the batch's signed headers.
//   - Rate limit counts EVENTS: one unit of the event's operator per valid, non-duplicate event
//     (429 for that event alone when over the limit).
//   - Dedupe per event by (tenant_id, event_id): within the batch here, across batches by the
//     queue; a duplicate is accepted (duplicate: true) and stored once.
//   - The accepted envelopes and the dead letters of 422 events go to the queue in ONE
//     PublishBatch (embedded: one SQLite commit) before the answer; a failed publish answers 503
//     for the whole batch (nonce released, rate units refunded; the retry is deduplicated).
//   - One audit record per event (telemetry.accepted / telemetry.rejected, with batch_id and
//     batch_index), so `vv-audit prove` proves each event, all of them written in event order
//     with ONE AuditSink::AppendBatch; a failed audit append of an accepted event answers 503
//     for the batch (fail closed, as the single endpoint) and counts no event accepted.
//   - Answer: 207 with one result per line, in order (docs/producer.md).

#include <spdlog/spdlog.h>

#include <map>
#include <optional>
#include <unordered_set>

#include "app/gateway_service.h"
#include "app/replies.h"
#include "app/telemetry_call.h"
#include "verify/batch_body.h"
#include "verify/checks.h"

namespace vv::app {

struct GatewayService::BatchCall : TelemetryCall {
  struct Event {
    verify::RequestContext ctx;
    verify::Verdict verdict;         // rejected when !ok()
    bool duplicate_in_batch = false;  // accepted, same (tenant, event_id) earlier in the batch
    int envelope = -1;                // index of its ingest envelope in the published batch
    bool dead_lettered = false;       // its DLQ record is in the published batch
    bool duplicate = false;           // accepted and already stored (set by FinishBatch)
  };
  std::vector<Event> events;

  void RefundAll(state::Admission& admission) {
    for (Event& e : events)
      if (e.ctx.rate_ticket) {
        admission.Refund(*e.ctx.rate_ticket);
        e.ctx.rate_ticket.reset();
      }
  }
};

void GatewayService::HandleTelemetryBatch(http::Request request, http::Responder respond) {
  auto call = std::make_shared<BatchCall>();
  auto snap = Current();
  call->Init(std::move(request), std::move(respond), snap, deps_.clock->MonotonicMicros(),
             deps_.random->Uuid4());
  verify::RequestContext& ctx = call->ctx;
  const config::GatewayConfig& cfg = *snap->config;

  // Middleware stage: media type, empty body, framing and the event limit (the byte limit is
  // the listener's, OnBodyTooLarge). Then the signature over the whole body.
  auto ct = ctx.Header("content-type");
  if (!ct || ct->find(kBatchMediaType) == std::string_view::npos) {
    Reject(call,
           verify::Verdict::Reject(verify::Reason::kUnsupportedMediaType, 415, kBatchMediaDetail),
           nullptr);
    return;
  }
  verify::BatchLines split = verify::SplitBatchBody(ctx.body, cfg.batch_max_events);
  switch (split.result) {
    case verify::BatchSplit::kOk: break;
    case verify::BatchSplit::kEmpty:
      Reject(call,
             verify::Verdict::Reject(verify::Reason::kEmptyBody, 422,
                                     "Telemetry payload is required"),
             nullptr);
      return;
    case verify::BatchSplit::kJsonArray:
      Reject(call,
             verify::Verdict::Reject(verify::Reason::kBatchNotNdjson, 422,
                                     "Telemetry batch must be NDJSON (one JSON object per line)"),
             nullptr);
      return;
    case verify::BatchSplit::kTooManyEvents:
      Reject(call,
             verify::Verdict::Reject(verify::Reason::kBatchTooManyEvents, 413,
                                     "Telemetry batch exceeds event limit",
                                     "limit=" + std::to_string(cfg.batch_max_events)),
             nullptr);
      return;
  }

  verify::Verdict v = snap->chain->Authenticate(ctx);
  if (!v.ok()) {
    Reject(call, v, nullptr);
    return;
  }
  // One nonce for the batch: registered now, so a replay of these signed bytes is 409.
  ctx.nonce_key = state::NonceKey(ctx.timestamp, ctx.nonce);
  Status ns = deps_.admission->BurnNonce(ctx.nonce_key, cfg.nonce_ttl_seconds);
  if (!ns.ok()) {
    Reject(call,
           ns.code() == StatusCode::kAlreadyExists
               ? verify::Verdict::Reject(verify::Reason::kReplay, 409,
                                         "Replay detected: nonce already used")
               : verify::Verdict::Reject(verify::Reason::kNonceStoreUnavailable, 503,
                                         "Nonce store unavailable", ns.ToString()),
           nullptr);
    return;
  }
  ctx.nonce_registered = true;

  // Pass 1: every event through the chain; the valid ones wait for their rate units.
  std::vector<queue::Envelope> envelopes;
  struct Valid {
    size_t event;           // index into call->events
    std::string dedupe_id;  // tenant_id/event_id, built once
  };
  std::vector<Valid> valid;                    // events past the chain, in order
  std::unordered_set<std::string> first;       // dedupe ids met so far
  std::map<std::string, int64_t> units_needed;  // operator -> first occurrences
  call->events.resize(split.lines.size());
  for (size_t i = 0; i < split.lines.size(); ++i) {
    BatchCall::Event& e = call->events[i];
    verify::RequestContext& ec = e.ctx;
    ec.headers = ctx.headers;
    ec.body = split.lines[i];
    ec.peer_has_certificate = ctx.peer_has_certificate;
    ec.peer_cert_sha256 = ctx.peer_cert_sha256;
    ec.request_id = deps_.random->Uuid4();
    ec.identity = ctx.identity;
    ec.identity_authenticated = ctx.identity_authenticated;
    ec.timestamp = ctx.timestamp;
    ec.nonce = ctx.nonce;
    ec.signing_kid = ctx.signing_kid;
    ec.nonce_key = ctx.nonce_key;
    e.verdict = snap->chain->Validate(ec);
    if (!e.verdict.ok()) {
      if (ec.dead_letter) {
        verify::DeadLetter dl = std::move(*ec.dead_letter);
        ec.dead_letter.reset();
        envelopes.push_back(queue::MakeDeadLetterEnvelope(dl.error_code, dl.error_message,
                                                          ec.body, std::move(dl.trace),
                                                          *deps_.clock, *deps_.random));
        e.dead_lettered = true;
      }
      e.verdict = ChargeRejectionBudget(deps_.rejection_budget, ec, e.verdict);
      continue;
    }
    valid.push_back({i, ec.tenant_id + "/" + ec.event_id});
    if (first.insert(valid.back().dedupe_id).second) ++units_needed[ec.operator_id];
  }

  // The rate units of the whole batch: one AcquireMany per operator (one lock or one Redis
  // round trip, not one per event). An operator whose window fills up mid-batch gets fewer;
  // its events past them are 429, in order, as if each had asked on its own. (A later
  // duplicate of an event refused that way asks again and is 429 too, where one-by-one it
  // could have taken a unit from another operator's window - a retryable 429 either way.)
  struct Units {
    std::vector<state::RateTicket> tickets;
    size_t next = 0;  // the next one to hand out
  };
  std::map<std::string, Units> units;  // by operator
  for (const auto& [op, n] : units_needed) {
    Status rs = deps_.limiter->AcquireMany(op, n, &units[op].tickets);
    if (!rs.ok()) {  // fail closed: the whole batch is 503 and may be retried as it is
      for (const auto& [held_op, held] : units)
        for (const state::RateTicket& t : held.tickets) deps_.admission->Refund(t);
      Reject(call,
             verify::Verdict::Reject(verify::Reason::kRateLimiterUnavailable, 503,
                                     "Rate limiter unavailable", rs.ToString()),
             nullptr);
      return;
    }
  }

  // Pass 2: in order, each valid event takes its operator's next unit and becomes an envelope.
  std::unordered_set<std::string> seen;  // tenant_id/event_id accepted earlier in this batch
  for (Valid& v : valid) {
    BatchCall::Event& e = call->events[v.event];
    verify::RequestContext& ec = e.ctx;
    std::string& dedupe_id = v.dedupe_id;
    if (seen.count(dedupe_id) != 0) {
      e.duplicate_in_batch = true;
      continue;
    }
    Units& pool = units[ec.operator_id];
    if (pool.next >= pool.tickets.size()) {
      e.verdict = verify::Verdict::Reject(verify::Reason::kRateLimited, 429,
                                          "Operator burst anomaly detected",
                                          "operator=" + ec.operator_id);
      continue;
    }
    ec.rate_ticket = std::move(pool.tickets[pool.next++]);
    seen.insert(dedupe_id);
    json::Value trace = json::Value::MakeObject();
    trace.Set("operator_id", ec.operator_id);
    trace.Set("campaign_id", ec.campaign_id);
    trace.Set("tenant_id", ec.tenant_id);
    e.envelope = static_cast<int>(envelopes.size());
    envelopes.push_back(queue::MakeIngestEnvelopeForPublish(
        std::move(ec.ingest_payload), std::move(trace), std::move(dedupe_id), *deps_.clock,
        *deps_.random));
    ec.body_json = json::Value();  // the DOM is not needed past the envelope
  }
  // Every unit is taken above (one per first occurrence); any left over goes back.
  for (const auto& [op, pool] : units)
    for (size_t k = pool.next; k < pool.tickets.size(); ++k)
      deps_.admission->Refund(pool.tickets[k]);
  deps_.metrics->verification_duration.Observe(
      static_cast<double>(deps_.clock->MonotonicMicros() - call->started_us) / 1e6);

  const int64_t publish_start_us = deps_.clock->MonotonicMicros();
  deps_.publisher->PublishBatch(
      std::move(envelopes), [this, call, publish_start_us](
                                Status s, std::vector<queue::PublishOutcome> outcomes) {
        deps_.metrics->queue_publish_duration.Observe(
            static_cast<double>(deps_.clock->MonotonicMicros() - publish_start_us) / 1e6);
        FinishBatch(call, std::move(s), outcomes);
      });
}

void GatewayService::FinishBatch(const std::shared_ptr<BatchCall>& call, Status publish_status,
                                 const std::vector<queue::PublishOutcome>& outcomes) {
  if (!publish_status.ok()) {
    // Nothing is reported stored; Reject gives the nonce back (503 is transient).
    call->RefundAll(*deps_.admission);
    Reject(call,
           verify::Verdict::Reject(verify::Reason::kQueuePublishFailed, 503,
                                   "Telemetry queue publish failed", publish_status.ToString()),
           nullptr);
    return;
  }
  const auto cfg = config();
  const std::string& batch_id = call->ctx.request_id;
  // Every event's record, in event order, written with ONE AppendBatch (one write() and at
  // most one fsync for the batch, not one per event).
  std::vector<audit::AuditEntry> records;
  records.reserve(call->events.size());
  for (size_t i = 0; i < call->events.size(); ++i) {
    BatchCall::Event& e = call->events[i];
    const verify::RequestContext& ec = e.ctx;
    json::Value details;
    if (!e.verdict.ok()) {
      details = RejectionDetails(e.verdict, ec);
      details.Set("batch_id", batch_id);
      details.Set("batch_index", static_cast<int64_t>(i));
      if (e.dead_lettered) details.Set("dlq", "stored");
      records.push_back(audit::AuditEntry{"telemetry.rejected", kActor, std::move(details)});
      continue;
    }
    e.duplicate = e.duplicate_in_batch ||
                  (e.envelope >= 0 && outcomes.at(static_cast<size_t>(e.envelope)) ==
                                          queue::PublishOutcome::kDuplicate);
    details = AcceptedDetails(ec);
    details.Set("batch_id", batch_id);
    details.Set("batch_index", static_cast<int64_t>(i));
    if (e.duplicate) details.Set("duplicate", true);
    records.push_back(audit::AuditEntry{"telemetry.accepted", kActor, std::move(details)});
  }
  const std::vector<Status> written = deps_.audit->AppendBatch(records);

  // Rejected events are answered whatever their record's fate (as the single endpoint: a
  // rejection's answer does not depend on its record); a failed record is counted and logged.
  std::optional<size_t> accepted_failure;  // the first accepted event whose record failed
  int64_t rejected = 0;
  for (size_t i = 0; i < call->events.size(); ++i) {
    BatchCall::Event& e = call->events[i];
    if (e.verdict.ok()) {
      if (!written[i].ok() && !accepted_failure) accepted_failure = i;
      continue;
    }
    rejected++;
    counters_.rejected++;
    CountRejection(*deps_.metrics, e.verdict, OperatorLabel(*cfg, e.ctx.operator_id),
                   cfg->nonce_backend);
    LogRejection("telemetry.rejected", e.verdict, e.ctx);
    if (!written[i].ok()) {
      counters_.audit_failures++;
      CountAuditAppendFailure(*deps_.metrics, written[i]);
    }
  }
  if (accepted_failure) {
    // Fail closed, as the single endpoint: no 207 listing an event as accepted without its
    // audit record. What is stored stays stored; the retry is deduplicated per event.
    counters_.audit_failures++;
    http::Response failed =
        AuditFailureResponse(*deps_.metrics, "accepted", batch_id,
                             call->events[*accepted_failure].ctx.operator_id,
                             written[*accepted_failure]);
    deps_.admission->ReleaseNonce(call->ctx.nonce_key);
    call->RefundAll(*deps_.admission);
    counters_.rejected++;
    Answer(*call, std::move(failed));
    return;
  }

  json::Array results;
  results.reserve(call->events.size());
  int64_t accepted = 0;
  for (size_t i = 0; i < call->events.size(); ++i) {
    const BatchCall::Event& e = call->events[i];
    const verify::RequestContext& ec = e.ctx;
    json::Value r = json::Value::MakeObject();
    r.Set("index", static_cast<int64_t>(i));
    r.Set("request_id", ec.request_id);
    if (!e.verdict.ok()) {
      r.Set("status", e.verdict.http_status);
      r.Set("accepted", false);
      r.Set("detail", e.verdict.detail);
      results.push_back(std::move(r));
      continue;
    }
    accepted++;
    if (e.duplicate) counters_.duplicates++;
    counters_.accepted++;
    deps_.metrics->requests_accepted.Inc();
    r.Set("status", 202);
    r.Set("accepted", true);
    r.Set("event_id", ec.event_id);
    if (e.duplicate) r.Set("duplicate", true);
    results.push_back(std::move(r));
  }
  json::Value body = json::Value::MakeObject();
  body.Set("batch_id", batch_id);
  body.Set("accepted", accepted);
  body.Set("rejected", rejected);
  body.Set("results", json::Value(std::move(results)));
  Answer(*call, http::Response{207, json::Canonical(body), "application/json"});
}

}  // namespace vv::app
