#include "audit/record.h"

#include "crypto/crypto.h"
#include "json/json.h"

namespace vv::audit {

namespace {
// Keys in code-point order; entry_hash sorts between details and event_type.
void AppendFields(const RecordFields& f, const std::string_view* entry_hash, std::string* out) {
  out->append("{\"actor\":");
  json::AppendQuoted(f.actor, out);
  out->append(",\"details\":");
  out->append(f.details_canonical);
  if (entry_hash != nullptr) {
    out->append(",\"entry_hash\":");
    json::AppendQuoted(*entry_hash, out);
  }
  out->append(",\"event_type\":");
  json::AppendQuoted(f.event_type, out);
  out->append(",\"index\":");
  out->append(f.index_text);
  out->append(",\"previous_hash\":");
  json::AppendQuoted(f.previous_hash, out);
  out->append(",\"timestamp\":");
  json::AppendQuoted(f.timestamp, out);
  out->push_back('}');
}
}  // namespace

std::string HashInput(const RecordFields& f) {
  std::string s;
  s.reserve(128 + f.details_canonical.size());
  AppendFields(f, nullptr, &s);
  return s;
}

std::string EntryHash(const RecordFields& f) { return crypto::Sha256Hex(HashInput(f)); }

void AppendRecordLine(const RecordFields& f, std::string_view entry_hash, std::string* out) {
  AppendFields(f, &entry_hash, out);
  out->push_back('\n');
}

}  // namespace vv::audit
