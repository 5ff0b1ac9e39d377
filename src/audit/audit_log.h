#pragma once
// The tamper-evident audit log (reference record format, wire-contract section 8):
// a JSONL file, one canonical-JSON record per line with keys
//   index, timestamp, event_type, actor, details, previous_hash, entry_hash
// entry_hash = SHA-256 hex of the canonical JSON of the six other keys; previous_hash = the
// previous line's entry_hash ("" for the first). Unlike the reference, indices increase by
// exactly one per line (seal lines included), appends are O(1) (the writer keeps the last
// index and hash in memory after reading the tail once at open), and one process-wide writer
// holds an exclusive lock on the file.
// Thread-safety: AuditLog::Append may be called from any thread.

#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "json/json.h"

namespace vv::audit {

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Appends one record. Returns a non-OK Status when the record could not be written (the
  // caller fails closed). Never blocks on another record's fsync under kBatch.
  virtual Status Append(std::string_view event_type, std::string_view actor,
                        json::Value details) = 0;
};

}  // namespace vv::audit
