#pragma once
// Dead-letter queue inspection and redrive for operators (vvctl dlq list|show|redrive), on
// both queue backends.
//
// A DLQ envelope's payload is {error_code, error_message, raw_body} (queue.h). raw_body is
// either an ingest envelope the engine dead-lettered (integrity/tenant/auth rejection, max
// deliveries) or a request body the gateway refused (never an envelope).
// Redrive puts the ORIGINAL envelope bytes back on the ingest subject, unchanged (so the
// gateway's signature still verifies), but only when raw_body parses as an ingest envelope
// whose integrity_hash matches its payload; anything else is refused with the reason. The
// engine re-checks everything (auth, tenant mapping) and its store is idempotent on
// (tenant_id, event_id), so a redrive of an already stored event is a duplicate, not a
// second record. After the ingest publish is durable, the DLQ entry is retired (embedded:
// acked in the same transaction; JetStream: deleted from the DLQ stream after the publish
// ack; a crash between the two leaves the entry listed, and a second redrive of it is
// deduplicated by the stream for the duplicate window, then by the evidence store).
//
// Thread-safety: not thread-safe (one operator command at a time). Ownership: borrows the
// queue it was made with.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "json/json.h"
#include "queue/queue.h"

namespace vv::queue {

class EmbeddedQueue;
class JetStreamPublisher;

struct DeadLetterEntry {
  int64_t sequence = 0;
  std::string message_id;
  std::string created_at;
  std::string error_code;
  std::string error_message;
  std::string raw_body;  // as stored (UTF-8 text, or base64 of non-UTF-8 bytes)
  json::Value trace;
  // Whether raw_body can be redriven, and if not why ("" = it can).
  std::string not_redrivable;
};

// Parses a stored DLQ message; DataLoss when it is not a DLQ envelope.
Result<DeadLetterEntry> ParseDeadLetter(const StoredMessage& m);
// The original ingest envelope inside `entry`, integrity checked; InvalidArgument with the
// reason otherwise.
Result<Envelope> RedrivableEnvelope(const DeadLetterEntry& entry);

class DeadLetterAdmin {
 public:
  virtual ~DeadLetterAdmin() = default;
  // Live (not yet redriven) entries with sequence > after, oldest first, at most `limit`.
  virtual Result<std::vector<DeadLetterEntry>> List(int64_t after, int limit) = 0;
  // NotFound for an unknown or already redriven sequence.
  virtual Result<DeadLetterEntry> Show(int64_t sequence) = 0;
  // Returns the ingest sequence of the redriven message.
  virtual Result<int64_t> Redrive(int64_t sequence) = 0;
};

std::unique_ptr<DeadLetterAdmin> MakeEmbeddedDeadLetterAdmin(EmbeddedQueue& queue);
std::unique_ptr<DeadLetterAdmin> MakeJetStreamDeadLetterAdmin(JetStreamPublisher& publisher);

}  // namespace vv::queue
