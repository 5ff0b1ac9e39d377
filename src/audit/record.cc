#include "audit/record.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>
#include <vector>

#include "common/text.h"
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
void ReplaceIn(json::Value* v, const std::string& path, std::vector<std::string>* where) {
  switch (v->type()) {
    case json::Type::kString:
      if (!text::IsValidUtf8(v->as_string())) {
        v->as_string() = text::ReplaceInvalidUtf8(v->as_string());
        where->push_back(path.empty() ? "." : path);
      }
      return;
    case json::Type::kArray: {
      size_t i = 0;
      for (auto& e : v->as_array()) {
        ReplaceIn(&e, path + "[" + std::to_string(i++) + "]", where);
      }
      return;
    }
    case json::Type::kDouble:
      // NaN/Infinity have no JSON form: the record would not parse back.
      if (!std::isfinite(v->as_double())) {
        *v = json::Value(json::PythonFloatRepr(v->as_double()));
        where->push_back(path.empty() ? "." : path);
      }
      return;
    case json::Type::kObject: {
      auto& obj = v->as_object();
      bool renamed = false;
      for (auto& m : obj) {
        if (!text::IsValidUtf8(m.first)) {
          m.first = text::ReplaceInvalidUtf8(m.first);
          where->push_back((path.empty() ? "" : path + ".") + m.first + " (key)");
          renamed = true;
        }
        ReplaceIn(&m.second, path.empty() ? m.first : path + "." + m.first, where);
      }
      if (renamed) {
        // Two keys that differed only in invalid bytes may now be equal: keep the first (a
        // canonical record must not hold duplicate keys; the verifier's parser refuses them).
        std::unordered_set<std::string> seen;
        obj.erase(std::remove_if(obj.begin(), obj.end(),
                                 [&](const json::Member& m) { return !seen.insert(m.first).second; }),
                  obj.end());
      }
      return;
    }
    default:
      return;
  }
}
// True when some string value or key needs replacing; no allocation (the common case on every
// append is valid details, so the path-building walk below runs only when it must).
bool NeedsReplacing(const json::Value& v) {
  switch (v.type()) {
    case json::Type::kString:
      return !text::IsValidUtf8(v.as_string());
    case json::Type::kDouble:
      return !std::isfinite(v.as_double());
    case json::Type::kArray:
      for (const auto& e : v.as_array())
        if (NeedsReplacing(e)) return true;
      return false;
    case json::Type::kObject:
      for (const auto& m : v.as_object())
        if (!text::IsValidUtf8(m.first) || NeedsReplacing(m.second)) return true;
      return false;
    default:
      return false;
  }
}
}  // namespace

bool ReplaceInvalidUtf8(json::Value* details) {
  if (!NeedsReplacing(*details)) return false;
  std::vector<std::string> where;
  ReplaceIn(details, "", &where);
  if (where.empty()) return false;
  std::sort(where.begin(), where.end());
  json::Value list = json::Value::MakeArray();
  for (auto& w : where) list.Push(std::move(w));
  if (details->is_object()) details->Set(kUntrustedBytesReplacedKey, std::move(list));
  return true;
}

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
