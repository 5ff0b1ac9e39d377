#pragma once
// Process logging for the daemons (vv-gateway, vv-engine): one setup call, two formats and
// structured fields.
//  - Levels are parsed strictly: spdlog::level::from_str maps every unknown word to "off",
//    so `--log-level verbose` used to silence the process. ParseLevel refuses it instead and
//    the daemons exit 2 naming kValidLevels.
//  - log_format text: "ts level component msg key=value..."; json: one JSON object per line
//    with ts, level, component, msg and, when set, request_id, identity, reason. Every value
//    is escaped in both formats (control bytes, quotes, invalid UTF-8 -> U+FFFD) and bounded
//    (kMaxFieldBytes), so client bytes can never forge a line or a field.
//  - Structured fields ride along with one spdlog call: LogWithFields sets them for the
//    calling thread, the (synchronous) formatter reads them while formatting that record.
//  - BackendStateLog: one line per backend state change (down with the error / up again),
//    never one per request.
// Thread-safety: Setup() once at start-up before other threads; everything else is safe to
// call from any thread.

#include <spdlog/spdlog.h>

#include <map>
#include <string>
#include <string_view>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"

namespace vv::logging {

enum class Format { kText, kJson };

inline constexpr std::string_view kValidLevels = "trace, debug, info, warn, error, critical, off";
inline constexpr std::string_view kValidFormats = "text, json";
// Longest value written for one field; longer values are cut (and marked with "...").
inline constexpr size_t kMaxFieldBytes = 512;
// The same for the message (the effective-configuration line is long).
inline constexpr size_t kMaxMessageBytes = 16384;

// "trace".."off" (also "warning"); anything else: InvalidArgument naming kValidLevels.
Result<spdlog::level::level_enum> ParseLevel(std::string_view s);
// "text" | "json"; anything else: InvalidArgument naming kValidFormats.
Result<Format> ParseFormat(std::string_view s);
std::string_view FormatName(Format f);

// Optional structured fields of one record (empty = absent).
struct Fields {
  std::string_view request_id;
  std::string_view identity;
  std::string_view reason;
};

// Installs the formatter on the default logger and sets the level. `component` names the
// process in every line (e.g. "vv-gateway").
void Setup(std::string_view component, Format format, spdlog::level::level_enum level);

// The formatter Setup installs; exposed so tests can format records without a process.
std::unique_ptr<spdlog::formatter> MakeFormatter(std::string_view component, Format format);

// Logs `msg` at `level` with `fields` attached (as fields, not inside the message).
void LogWithFields(spdlog::level::level_enum level, std::string_view msg, const Fields& fields);

// Appends `s` as the body of a JSON string (no quotes): ", \, control bytes escaped,
// invalid UTF-8 replaced by U+FFFD, cut at `max_bytes` of input.
void AppendJsonEscaped(std::string_view s, std::string* out, size_t max_bytes = kMaxFieldBytes);
// Appends `s` for a text line: printable ASCII and valid UTF-8 as is, control bytes as \xNN,
// '"' and '\' escaped, invalid UTF-8 as \xNN, cut at `max_bytes` of input.
void AppendTextEscaped(std::string_view s, std::string* out, size_t max_bytes = kMaxFieldBytes);

// Logs the state of named backends on transitions only: the first failure ("<name> down:
// <error>", warn), and the first success after a failure ("<name> up again", info). The first
// observation of a healthy backend is logged once at info ("<name> up") so the start-up log
// shows every backend. Cheap to call on every request / poll.
class BackendStateLog {
 public:
  // Returns true when this observation changed the state (a line was logged).
  bool Observe(std::string_view backend, const Status& status);

 private:
  enum class State { kUnknown, kUp, kDown };
  Mutex mu_;
  std::map<std::string, State, std::less<>> states_ VV_GUARDED_BY(mu_);
};

// The process-wide instance (hooks in Redis, NATS, the evidence store, the audit anchor).
BackendStateLog& Backends();

}  // namespace vv::logging
