#pragma once
// SpectraStrike SDK: the durable outbox (SQLite, WAL, synchronous=FULL).
//
// `send` writes every event here first (one transaction per batch) and delivery drains it: an
// event leaves the `pending` state only after the gateway answered it (accepted: `delivered`;
// final rejection: `rejected`). A producer killed mid-drain re-sends the events it had not
// recorded yet; the gateway's queue dedupes on (tenant_id, event_id), so delivery is
// at-least-once on the wire and once in the queue. Events are unique per (tenant_id,
// event_id): enqueueing one that is already spooled keeps the first copy.
// Schema (table outbox): id INTEGER PRIMARY KEY, dedupe_key TEXT UNIQUE, event_id, envelope
// (canonical JSON without timestamp/nonce), state, attempts, last_status, last_error,
// created_at, updated_at (unix seconds).
// Thread-safety: not thread-safe; one Spool per thread. Several processes may open the same
// file (SQLite locking, busy timeout 5 s).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "spectrastrike/clock.h"
#include "spectrastrike/event.h"
#include "spectrastrike/status.h"

struct sqlite3;

namespace spectrastrike {

class Producer;
struct DeliveryResult;

struct SpoolEntry {
  int64_t id = 0;
  std::string event_id;
  std::string envelope_json;
  int64_t attempts = 0;
};

struct SpoolCounts {
  int64_t pending = 0;
  int64_t delivered = 0;
  int64_t rejected = 0;
};

struct EnqueueResult {
  int64_t id = 0;
  bool inserted = false;  // false: already spooled (see state)
  std::string state;      // "pending" | "delivered" | "rejected"
};

class Spool {
 public:
  static Result<std::unique_ptr<Spool>> Open(const std::string& path, const Clock& clock);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Adds events in one transaction (all or nothing); results are in input order.
  Result<std::vector<EnqueueResult>> Enqueue(const std::vector<PreparedEvent>& events);
  // Oldest pending entries first; ids > after_id.
  Result<std::vector<SpoolEntry>> Pending(size_t limit, int64_t after_id = 0);
  Status MarkDelivered(int64_t id, int status);
  Status MarkRejected(int64_t id, int status, const std::string& reason);
  // A delivery that ran out of retries: stays pending, attempts and error recorded.
  Status MarkFailedAttempt(int64_t id, int attempts, int status, const std::string& error);
  Result<std::string> StateOf(int64_t id);
  Result<SpoolCounts> Counts();
  // Rejected entries' (event_id, last_error), newest first.
  Result<std::vector<std::pair<std::string, std::string>>> Rejections(size_t limit);

 private:
  Spool(sqlite3* db, const Clock& clock) : db_(db), clock_(clock) {}
  sqlite3* db_;
  const Clock& clock_;
};

struct DrainStats {
  int64_t accepted = 0;
  int64_t rejected = 0;
  int64_t failed = 0;      // ran out of retries (left pending)
  int64_t remaining = 0;   // still pending afterwards
};

// Delivers pending entries oldest first until none are left or one exhausts its retries
// (the gateway is unreachable: stop instead of hammering it; the rest stays pending).
// `on_result` (optional) sees every delivery. `max_events` 0 = no limit. `batch_size` > 1:
// up to that many entries go in one Producer::SendBatch request (the batch endpoint, or
// single sends when the gateway does not offer it).
Result<DrainStats> DrainSpool(
    Spool& spool, Producer& producer,
    const std::function<void(const SpoolEntry&, const DeliveryResult&)>& on_result = nullptr,
    int64_t max_events = 0, size_t batch_size = 1);

}  // namespace spectrastrike
