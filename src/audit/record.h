#pragma once
// The audit record encoding shared by the writer and the verifier (wire-contract section 8):
// a line is the canonical JSON of {actor, details, entry_hash, event_type, index,
// previous_hash, timestamp}; entry_hash = sha256 hex of the canonical JSON of the same object
// without entry_hash. The encoders splice pre-sorted keys, so the output is byte-identical to
// json::Canonical of the full object (tested against it).
// Thread-safety: pure functions.

#include <cstdint>
#include <string>
#include <string_view>

#include "json/json.h"

namespace vv::audit {

struct RecordFields {
  std::string_view index_text;  // decimal integer text
  std::string_view timestamp;
  std::string_view event_type;
  std::string_view actor;
  std::string_view details_canonical;  // canonical JSON of the details object
  std::string_view previous_hash;
};

// Whatever a client sent ends up in details (header values, paths, subjects): every string
// value or key that is not valid UTF-8 is replaced (invalid bytes -> U+FFFD, common/text.h)
// and its location recorded in details["untrusted_bytes_replaced"] (a sorted array of paths
// such as "path" or "headers.x-service-identity"), so the record says that it does not hold
// the client's exact bytes. Valid details are left untouched. Returns true if it replaced.
bool ReplaceInvalidUtf8(json::Value* details);
inline constexpr const char* kUntrustedBytesReplacedKey = "untrusted_bytes_replaced";

// Canonical JSON of the six hashed keys.
std::string HashInput(const RecordFields& f);
// sha256 hex of HashInput(f).
std::string EntryHash(const RecordFields& f);
// The full record line (canonical JSON with entry_hash) followed by '\n', appended to *out.
void AppendRecordLine(const RecordFields& f, std::string_view entry_hash, std::string* out);

}  // namespace vv::audit
