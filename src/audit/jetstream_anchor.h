#pragma once
// JetStreamAnchorSink: the remote anchor of audit-log seals, in a NATS JetStream stream
// (libnats / nats.c 3.4). See docs/audit-format.md section 6.
//
// Stream (created at open, or verified when it exists): name `stream` (VV_AUDIT_ANCHOR),
// subjects `<subject_prefix>.>` (vectorvue.audit.anchor.>), file storage, limits retention with
// no limits (max msgs / bytes / age / msgs-per-subject unlimited: nothing is ever discarded),
// deny_delete and deny_purge (the server refuses message deletes and purges), no rollups.
// An existing stream that is not append-only this way is refused (FailedPrecondition).
// Each log appends to its own subject `<subject_prefix>.<token(origin)>`; each message is one
// AnchorRecord line (canonical JSON, exactly the anchor-file line without '\n') with headers
//   Nats-Expected-Last-Subject-Sequence: <stream sequence of the subject's last message, 0
//                                          when it has none>
//   Nats-Msg-Id: <origin>/<index>/<entry_hash>
// so the server refuses an append that does not continue the head this writer knows: a
// second writer with a different history gets "wrong last sequence" (JetStream error
// 10071), reported as DataLoss ("fork_detected: ..."); the AuditLog then stops sealing.
//
// Outage handling: the connection reconnects forever in the background (also when the server
// is down at Open: Open succeeds, Refresh() reports Unavailable until it is back). Publish
// and Refresh fail fast (Unavailable) while not connected; otherwise each is one request
// bounded by `request_timeout_ms`. After any Unavailable the head is unknown until the next
// Refresh() (the AuditLog re-reads it before republishing, see ReconcileAnchorHead).
//
// Thread-safety: all methods are thread-safe (one internal mutex; network calls are made
// under it, so concurrent callers serialise). Ownership: owns its NATS connection.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/anchor.h"
#include "audit/checkpoint.h"
#include "common/mutex.h"
#include "common/status.h"
#include "natsclient/options.h"

typedef struct __natsConnection natsConnection;
typedef struct __jsCtx jsCtx;

namespace vv::audit {

inline constexpr std::string_view kDefaultAnchorStream = "VV_AUDIT_ANCHOR";
inline constexpr std::string_view kDefaultAnchorSubjectPrefix = "vectorvue.audit.anchor";

// The anchor's connection defaults: its own connection name; Open() succeeds while NATS is
// down (require_connection = false: the anchor lags and catches up once connected).
inline natsclient::ConnectOptions DefaultAnchorConnection() {
  natsclient::ConnectOptions c;
  c.url = "nats://127.0.0.1:4222";
  c.name = "vectorvue-audit-anchor";
  c.require_connection = false;
  return c;
}

struct JetStreamAnchorOptions {
  // Seed list, credentials, TLS, timeouts and reconnect policy (natsclient/options.h). With
  // nats.require_connection, Open() fails (Unavailable) when no server can be reached instead
  // of starting with the anchor lagging and connecting in the background.
  natsclient::ConnectOptions nats = DefaultAnchorConnection();
  std::string stream = std::string(kDefaultAnchorStream);
  std::string subject_prefix = std::string(kDefaultAnchorSubjectPrefix);
  // The log's checkpoint origin; the subject is AnchorSubject(subject_prefix, origin).
  std::string origin = std::string(kDefaultCheckpointOrigin);
  // Explicit subject (must be under subject_prefix); wins over origin when set.
  std::string subject;
  int replicas = 1;
  int64_t request_timeout_ms = 2000;
  // Open() creates the stream when missing (the verifier sets false: read-only).
  bool create_stream = true;
};

// The subject token for an origin: the origin with every character outside [A-Za-z0-9_-]
// replaced by '_' (NATS subjects split on '.', and '*', '>' and whitespace are special),
// e.g. "vectorvue.local/audit-log" -> "vectorvue_local_audit-log".
std::string AnchorSubjectToken(std::string_view origin);
// subject_prefix + "." + AnchorSubjectToken(origin).
std::string AnchorSubject(std::string_view subject_prefix, std::string_view origin);
// True for nats://, tls:// (and comma lists of them): an --anchor argument naming JetStream.
bool IsNatsUrl(std::string_view s);

// Facts about the anchor stream (tests, diagnostics).
struct AnchorStreamInfo {
  bool file_storage = false;
  bool deny_delete = false;
  bool deny_purge = false;
  bool allow_rollup = false;
  int64_t max_msgs = 0, max_bytes = 0, max_age_ns = 0, max_msgs_per_subject = 0;
  uint64_t messages = 0;
  uint64_t last_sequence = 0;
  std::vector<std::string> subjects;
};

class JetStreamAnchorSink final : public AnchorSink {
 public:
  // Connects (background reconnect; see require_connection), creates or verifies the
  // stream and reads the subject's head when the server is reachable. InvalidArgument for
  // bad options, FailedPrecondition for an existing stream that is not append-only.
  static Result<std::unique_ptr<JetStreamAnchorSink>> Open(const JetStreamAnchorOptions& options);
  ~JetStreamAnchorSink() override;
  JetStreamAnchorSink(const JetStreamAnchorSink&) = delete;
  JetStreamAnchorSink& operator=(const JetStreamAnchorSink&) = delete;

  // Appends `record` after the known head (see the header comment). A record at or before
  // the head is Ok when it is the head itself (same entry_hash) or earlier, DataLoss when it
  // is at the head's index with another hash. Unknown head: Refresh() first.
  Status Publish(const AnchorRecord& record) override;
  // The head as last read or written (nullopt when none or unknown).
  std::optional<AnchorRecord> Latest() const override;
  // js_GetLastMsg on the subject. DataLoss when the last message is not an anchor record.
  Result<std::optional<AnchorRecord>> Refresh() override;
  bool remote() const override { return true; }

  // Every anchored record on the subject, in stream order (the verifier). InvalidArgument
  // naming the stream sequence when a message is not an anchor record or indices do not
  // increase.
  Result<std::vector<AnchorRecord>> ReadAll();
  Result<AnchorStreamInfo> StreamInfo();
  bool connected() const;
  const std::string& subject() const { return subject_; }
  const JetStreamAnchorOptions& options() const { return options_; }

 private:
  explicit JetStreamAnchorSink(const JetStreamAnchorOptions& options);
  Status Init();
  // Creates or verifies the stream. REQUIRES: mu_ held, connected.
  Status EnsureStreamLocked() VV_REQUIRES(mu_);
  Result<std::optional<AnchorRecord>> RefreshLocked() VV_REQUIRES(mu_);
  Status CheckConnectedLocked() const VV_REQUIRES(mu_);

  const JetStreamAnchorOptions options_;
  const std::string subject_;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;

  mutable Mutex mu_;
  bool stream_ready_ VV_GUARDED_BY(mu_) = false;
  bool head_known_ VV_GUARDED_BY(mu_) = false;
  std::optional<AnchorRecord> head_ VV_GUARDED_BY(mu_);
  uint64_t head_seq_ VV_GUARDED_BY(mu_) = 0;  // stream sequence of head_, 0 = none
};

// Reads the anchored records of one subject without creating anything (vv-audit verify).
Result<std::vector<AnchorRecord>> FetchJetStreamAnchors(const JetStreamAnchorOptions& options);

}  // namespace vv::audit
