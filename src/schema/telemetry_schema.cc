#include "schema/telemetry_schema.h"

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/encoding.h"
#include "schema/py_datetime.h"
#include "schema/text.h"

namespace vv::schema {
namespace {

// ---- error collection ------------------------------------------------------------------------

// A location inside the document, as a chain of stack-allocated nodes: building one costs
// nothing; it is only turned into JSON/text when an error is reported. A child must not outlive
// its parent (children are passed down as arguments or held in locals of the same scope).
class Path {
 public:
  Path() = default;  // the root
  Path Child(std::string_view key) const { return Path(this, key, 0, Kind::kKey); }
  Path Child(size_t index) const { return Path(this, {}, index, Kind::kIndex); }

  json::Value ToJson() const {
    json::Array parts;
    Collect(&parts);
    return json::Value(std::move(parts));
  }
  std::string ToString() const {
    json::Array parts;
    Collect(&parts);
    std::string out;
    for (const auto& part : parts) {
      if (!out.empty()) out += '.';
      out += part.is_string() ? part.as_string() : part.int_text();
    }
    return out;
  }

 private:
  enum class Kind { kRoot, kKey, kIndex };
  Path(const Path* parent, std::string_view key, size_t index, Kind kind)
      : parent_(parent), key_(key), index_(index), kind_(kind) {}

  void Collect(json::Array* out) const {
    if (parent_ != nullptr) parent_->Collect(out);
    if (kind_ == Kind::kKey) out->emplace_back(key_);
    if (kind_ == Kind::kIndex) out->emplace_back(static_cast<int64_t>(index_));
  }

  const Path* parent_ = nullptr;
  std::string_view key_;
  size_t index_ = 0;
  Kind kind_ = Kind::kRoot;
};

class ErrorList {
 public:
  void Add(std::string_view type, const Path& loc, std::string msg) {
    if (count_ == 0) {
      std::string where = loc.ToString();
      first_ = where.empty() ? msg : where + ": " + msg;
    }
    ++count_;
    json::Object e;
    e.emplace_back("type", json::Value(std::string(type)));
    e.emplace_back("loc", loc.ToJson());
    e.emplace_back("msg", json::Value(std::move(msg)));
    errors_.Push(json::Value(std::move(e)));
  }
  void AddValueError(const Path& loc, std::string_view msg) {
    Add("value_error", loc, "Value error, " + std::string(msg));
  }
  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }

  ValidationFailure ToFailure(Stage stage) && {
    ValidationFailure f;
    f.stage = stage;
    f.summary = first_;
    if (count_ > 1) f.summary += " (+" + std::to_string(count_ - 1) + " more)";
    f.errors = std::move(errors_);
    return f;
  }

 private:
  json::Value errors_ = json::Value::MakeArray();
  std::string first_;
  size_t count_ = 0;
};

std::string Plural(size_t n, const char* unit) {
  return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
}

// ---- field checks ----------------------------------------------------------------------------

// Reports keys of `obj` not in `allowed` as extra_forbidden.
template <size_t N>
void CheckExtraKeys(const json::Value& obj, const std::array<std::string_view, N>& allowed,
                    const Path& path, ErrorList* errs) {
  for (const auto& [key, value] : obj.as_object()) {
    bool known = false;
    for (std::string_view a : allowed) {
      if (key == a) {
        known = true;
        break;
      }
    }
    if (!known) errs->Add("extra_forbidden", path.Child(key), "Extra inputs are not permitted");
  }
}

// Checks a string field with pydantic min/max length (code points). `v` may be null (absent):
// then "missing" when required. Returns the string when valid.
// Identifiers and enum-like strings never carry control characters; free text (description)
// may carry TAB/LF/CR (allow_line_breaks), nothing else below U+0020 (issue 12 item 15).
const std::string* CheckString(const json::Value* v, const Path& loc, size_t min_len,
                               size_t max_len, ErrorList* errs, bool allow_line_breaks = false) {
  if (v == nullptr) {
    errs->Add("missing", loc, "Field required");
    return nullptr;
  }
  if (!v->is_string()) {
    errs->Add("string_type", loc, "Input should be a valid string");
    return nullptr;
  }
  size_t len = CodePointCount(v->as_string());
  if (len < min_len) {
    errs->Add("string_too_short", loc,
              "String should have at least " + Plural(min_len, "character"));
    return nullptr;
  }
  if (len > max_len) {
    errs->Add("string_too_long", loc,
              "String should have at most " + Plural(max_len, "character"));
    return nullptr;
  }
  if (ContainsControlChar(v->as_string(), allow_line_breaks)) {
    errs->Add("string_pattern_mismatch", loc, "String must not contain control characters");
    return nullptr;
  }
  return &v->as_string();
}

bool IsIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

// ^[A-Za-z0-9._:-]+$ with length bounds.
const std::string* CheckIdString(const json::Value* v, const Path& loc, size_t max_len,
                                 ErrorList* errs) {
  const std::string* s = CheckString(v, loc, 1, max_len, errs);
  if (s == nullptr) return nullptr;
  for (char c : *s) {
    if (!IsIdChar(c)) {
      errs->Add("string_pattern_mismatch", loc,
                "String should match pattern '^[A-Za-z0-9._:-]+$'");
      return nullptr;
    }
  }
  return s;
}

bool IsHexChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!IsHexChar(c)) return false;
  }
  return true;
}

bool IsCanonicalUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!IsHexChar(s[i])) {
      return false;
    }
  }
  return true;
}

const std::string* CheckUuid(const json::Value* v, const Path& loc, ErrorList* errs) {
  const std::string* s = CheckString(v, loc, 36, 36, errs);
  if (s == nullptr) return nullptr;
  if (!IsCanonicalUuid(*s)) {
    errs->Add("string_pattern_mismatch", loc,
              "String should be a canonical UUID (8-4-4-4-12 hex digits)");
    return nullptr;
  }
  return s;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

// T\d{4}(\.\d{3})?
bool IsTechniqueFormat(std::string_view s) {
  if (s.size() == 5) return s[0] == 'T' && AllDigits(s.substr(1));
  return s.size() == 9 && s[0] == 'T' && AllDigits(s.substr(1, 4)) && s[5] == '.' &&
         AllDigits(s.substr(6));
}
bool IsSubtechniqueFormat(std::string_view s) { return s.size() == 9 && IsTechniqueFormat(s); }
// TA\d{4}
bool IsTacticFormat(std::string_view s) {
  return s.size() == 6 && s[0] == 'T' && s[1] == 'A' && AllDigits(s.substr(2));
}

std::string UpperAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// Checks a catalog technique id (already in T####[.###] form).
bool CheckTechniqueInCatalog(const std::string& id, const MitreCatalog& catalog, const Path& loc,
                             std::string_view what, ErrorList* errs) {
  const TechniqueInfo* t = catalog.FindTechnique(id);
  if (t == nullptr) {
    errs->AddValueError(loc, std::string(what) + " " + id + " is not in the MITRE ATT&CK catalog");
    return false;
  }
  if (t->revoked) {
    errs->AddValueError(loc, std::string(what) + " " + id + " is revoked in the MITRE ATT&CK catalog");
    return false;
  }
  if (t->deprecated) {
    errs->AddValueError(loc,
                        std::string(what) + " " + id + " is deprecated in the MITRE ATT&CK catalog");
    return false;
  }
  return true;
}

// mitre_techniques / mitre_tactics: list of strings, stripped + uppercased, format + catalog.
// Returns false on any error; `out` gets the normalised ids.
bool CheckMitreList(const json::Value* v, const Path& loc, bool techniques, size_t min_items,
                    const MitreCatalog& catalog, std::vector<std::string>* out, ErrorList* errs) {
  if (v == nullptr) {
    if (min_items > 0) {
      errs->Add("missing", loc, "Field required");
      return false;
    }
    return true;  // default []
  }
  if (!v->is_array()) {
    errs->Add("list_type", loc, "Input should be a valid list");
    return false;
  }
  const json::Array& items = v->as_array();
  if (items.size() < min_items) {
    errs->Add("too_short", loc,
              "List should have at least " + Plural(min_items, "item") +
                  " after validation, not " + std::to_string(items.size()));
    return false;
  }
  if (items.size() > 32) {
    errs->Add("too_long", loc,
              "List should have at most 32 items after validation, not " +
                  std::to_string(items.size()));
    return false;
  }
  const char* field = techniques ? "mitre_techniques" : "mitre_tactics";
  bool ok = true;
  for (size_t i = 0; i < items.size(); ++i) {
    Path item_loc = loc.Child(i);
    if (!items[i].is_string()) {
      errs->Add("string_type", item_loc, "Input should be a valid string");
      ok = false;
      continue;
    }
    const std::string& raw = items[i].as_string();
    if (raw.empty()) {
      errs->AddValueError(item_loc, std::string(field) + " entries must be non-empty strings");
      ok = false;
      continue;
    }
    std::string id = UpperAscii(PyStrip(raw));
    if (techniques) {
      if (!IsTechniqueFormat(id)) {
        errs->AddValueError(item_loc, "mitre_techniques entries must match T#### or T####.###");
        ok = false;
        continue;
      }
      if (!CheckTechniqueInCatalog(id, catalog, item_loc, "mitre_techniques entry", errs)) {
        ok = false;
        continue;
      }
    } else {
      if (!IsTacticFormat(id)) {
        errs->AddValueError(item_loc, "mitre_tactics entries must match TA####");
        ok = false;
        continue;
      }
      if (!catalog.TacticExists(id)) {
        errs->AddValueError(item_loc,
                            "mitre_tactics entry " + id + " is not in the MITRE ATT&CK catalog");
        ok = false;
        continue;
      }
    }
    out->push_back(std::move(id));
  }
  return ok;
}

// ---- sanitisation (wire-contract 7) ----------------------------------------------------------

// The reference truncates attribute strings to 2048 and keys to 80 characters after escaping.
// Truncation silently changes signed content (and can cut an HTML entity in half), so we
// REJECT over-long values and keys instead (DESIGN-DECISIONS 6). The limits stay the same.
constexpr size_t kMaxAttributeValueChars = 2048;
constexpr size_t kMaxAttributeKeyChars = 80;

bool SanitizeString(const std::string& raw, const Path& loc, size_t max_chars, const char* what,
                    std::string* out, ErrorList* errs, bool allow_line_breaks) {
  // Values are free text (TAB/LF/CR allowed); keys are names (no control characters at all).
  if (ContainsControlChar(raw, allow_line_breaks)) {
    errs->AddValueError(loc, std::string(what) + " must not contain control characters");
    return false;
  }
  if (ContainsInjectionPattern(raw)) {
    errs->AddValueError(loc, "Potential injection pattern detected");
    return false;
  }
  *out = SanitizeText(raw);
  size_t len = CodePointCount(*out);
  if (len > max_chars) {
    errs->AddValueError(loc, std::string(what) + " exceeds " + std::to_string(max_chars) +
                                 " characters after escaping (" + std::to_string(len) +
                                 "); rejected instead of truncated");
    return false;
  }
  return true;
}

// Returns false (one error added) on the first problem, like the reference's raise.
bool SanitizeValue(const json::Value& in, const Path& loc, json::Value* out, ErrorList* errs) {
  switch (in.type()) {
    case json::Type::kString: {
      std::string clean;
      if (!SanitizeString(in.as_string(), loc, kMaxAttributeValueChars, "attribute value", &clean,
                          errs, /*allow_line_breaks=*/true)) {
        return false;
      }
      *out = json::Value(std::move(clean));
      return true;
    }
    case json::Type::kArray: {
      json::Array arr;
      arr.reserve(in.as_array().size());
      for (size_t i = 0; i < in.as_array().size(); ++i) {
        json::Value item;
        if (!SanitizeValue(in.as_array()[i], loc.Child(i), &item, errs)) return false;
        arr.push_back(std::move(item));
      }
      *out = json::Value(std::move(arr));
      return true;
    }
    case json::Type::kObject: {
      json::Value obj = json::Value::MakeObject();
      for (const auto& [key, value] : in.as_object()) {
        // Keys are checked against the deny-list too (the reference only escapes them).
        std::string clean_key;
        if (!SanitizeString(key, loc.Child(key), kMaxAttributeKeyChars, "attribute key",
                            &clean_key, errs, /*allow_line_breaks=*/false)) {
          return false;
        }
        if (obj.Find(clean_key) != nullptr) {
          // The reference would silently keep only the last value.
          errs->AddValueError(loc.Child(key),
                              "attribute key collides with another key after sanitisation");
          return false;
        }
        json::Value clean_value;
        if (!SanitizeValue(value, loc.Child(key), &clean_value, errs)) return false;
        obj.as_object().emplace_back(std::move(clean_key), std::move(clean_value));
      }
      *out = std::move(obj);
      return true;
    }
    default:
      *out = in;  // numbers, booleans, null pass through
      return true;
  }
}

// ---- contract v2 (wire-contract 1.3) ---------------------------------------------------------

enum class Kind { kString, kLifecycle, kDateTime, kBool, kNonNegInt, kScore };
enum class Pattern { kNone, kTechnique, kTactic, kSubtechnique };

struct FieldSpec {
  std::string_view name;
  Kind kind;
  bool required;
  size_t min_len = 0;
  size_t max_len = 0;
  Pattern pattern = Pattern::kNone;
};

struct BlockSpec {
  std::string_view name;
  std::string_view model;
  std::vector<FieldSpec> fields;
};

const std::vector<BlockSpec>& V2Blocks() {
  static const std::vector<BlockSpec>* const kBlocks = new std::vector<BlockSpec>{
      {"execution",
       "ExecutionMetadataV2",
       {{"execution_id", Kind::kString, true, 1, 128},
        {"lifecycle_state", Kind::kLifecycle, true},
        {"previous_lifecycle_state", Kind::kLifecycle, false},
        {"started_at", Kind::kDateTime, true},
        {"completed_at", Kind::kDateTime, false},
        {"failure_reason", Kind::kString, false, 0, 1024},
        {"correlation_id", Kind::kString, false, 0, 128}}},
      {"asset",
       "AssetMetadataV2",
       {{"asset_id", Kind::kString, true, 1, 128},
        {"asset_ref", Kind::kString, true, 1, 512},
        {"hostname", Kind::kString, false, 0, 255},
        {"ip_address", Kind::kString, false, 0, 64},
        {"platform", Kind::kString, false, 0, 64},
        {"environment", Kind::kString, false, 0, 64}}},
      {"identity",
       "IdentityMetadataV2",
       {{"principal_id", Kind::kString, true, 1, 256},
        {"principal_type", Kind::kString, true, 1, 64},
        {"privilege_level", Kind::kString, true, 1, 64},
        {"account_domain", Kind::kString, false, 0, 255}}},
      {"ttp",
       "TTPMetadataV2",
       {{"technique_id", Kind::kString, true, 0, SIZE_MAX, Pattern::kTechnique},
        {"tactic_id", Kind::kString, true, 0, SIZE_MAX, Pattern::kTactic},
        {"subtechnique_id", Kind::kString, false, 0, SIZE_MAX, Pattern::kSubtechnique},
        {"procedure", Kind::kString, false, 0, 1024}}},
      {"detection",
       "DetectionMetadataV2",
       {{"detected", Kind::kBool, true},
        {"detection_source", Kind::kString, false, 0, 128},
        {"detection_latency_seconds", Kind::kNonNegInt, false},
        {"alert_id", Kind::kString, false, 0, 256},
        {"alert_severity", Kind::kString, false, 0, 32}}},
      {"response",
       "ResponseMetadataV2",
       {{"responded", Kind::kBool, true},
        {"response_action", Kind::kString, false, 0, 256},
        {"response_latency_seconds", Kind::kNonNegInt, false},
        {"contained", Kind::kBool, false},
        {"containment_latency_seconds", Kind::kNonNegInt, false}}},
      {"control",
       "ControlMetadataV2",
       {{"control_id", Kind::kString, true, 1, 128},
        {"control_type", Kind::kString, true, 1, 64},
        {"control_vendor", Kind::kString, false, 0, 128},
        {"control_version", Kind::kString, false, 0, 64},
        {"effectiveness_score", Kind::kScore, false}}},
  };
  return *kBlocks;
}

constexpr std::array<std::string_view, 7> kLifecycleStates = {
    "planned", "queued", "dispatched", "running", "succeeded", "failed", "canceled"};

bool IsLifecycleState(std::string_view s) {
  for (auto st : kLifecycleStates) {
    if (s == st) return true;
  }
  return false;
}

bool TransitionAllowed(std::string_view from, std::string_view to) {
  if (from == "planned") return to == "queued" || to == "canceled";
  if (from == "queued") return to == "dispatched" || to == "canceled";
  if (from == "dispatched") return to == "running" || to == "failed" || to == "canceled";
  if (from == "running") return to == "succeeded" || to == "failed" || to == "canceled";
  return false;  // succeeded, failed, canceled are terminal
}

bool CheckV2Field(const FieldSpec& spec, const json::Value* v, const Path& loc, ErrorList* errs) {
  if (v == nullptr) {
    if (spec.required) {
      errs->Add("missing", loc, "Field required");
      return false;
    }
    return true;
  }
  if (v->is_null() && !spec.required) return true;  // Optional[...] = None
  switch (spec.kind) {
    case Kind::kString: {
      const std::string* s = CheckString(v, loc, spec.min_len, spec.max_len, errs);
      if (s == nullptr) return false;
      bool ok = true;
      const char* pattern = "";
      switch (spec.pattern) {
        case Pattern::kNone: break;
        case Pattern::kTechnique:
          ok = IsTechniqueFormat(*s);
          pattern = "^T\\d{4}(?:\\.\\d{3})?$";
          break;
        case Pattern::kTactic:
          ok = IsTacticFormat(*s);
          pattern = "^TA\\d{4}$";
          break;
        case Pattern::kSubtechnique:
          ok = IsSubtechniqueFormat(*s);
          pattern = "^T\\d{4}\\.\\d{3}$";
          break;
      }
      if (!ok) {
        errs->Add("string_pattern_mismatch", loc,
                  std::string("String should match pattern '") + pattern + "'");
      }
      return ok;
    }
    case Kind::kLifecycle:
      if (!v->is_string() || !IsLifecycleState(v->as_string())) {
        errs->Add("enum", loc,
                  "Input should be 'planned', 'queued', 'dispatched', 'running', 'succeeded', "
                  "'failed' or 'canceled'");
        return false;
      }
      return true;
    case Kind::kDateTime: {
      if (!v->is_string() && !v->is_number()) {
        errs->Add("datetime_type", loc, "Input should be a valid datetime");
        return false;
      }
      std::string why;
      if (!ParsePyDateTime(*v, &why)) {
        errs->Add("datetime_parsing", loc, "Input should be a valid datetime, " + why);
        return false;
      }
      return true;
    }
    case Kind::kBool:
      if (!v->is_bool()) {
        errs->Add("bool_type", loc, "Input should be a valid boolean");
        return false;
      }
      return true;
    case Kind::kNonNegInt: {
      if (!v->is_int()) {
        errs->Add("int_type", loc, "Input should be a valid integer");
        return false;
      }
      std::optional<int64_t> i = v->as_int64();
      if (!i) {
        errs->Add("int_parsing_size", loc,
                  "Unable to parse input string as an integer, exceeded maximum size");
        return false;
      }
      if (*i < 0) {
        errs->Add("greater_than_equal", loc, "Input should be greater than or equal to 0");
        return false;
      }
      return true;
    }
    case Kind::kScore: {
      if (!v->is_number()) {
        errs->Add("float_type", loc, "Input should be a valid number");
        return false;
      }
      double d = v->as_double();
      if (d < 0.0) {
        errs->Add("greater_than_equal", loc, "Input should be greater than or equal to 0");
        return false;
      }
      if (d > 1.0) {
        errs->Add("less_than_equal", loc, "Input should be less than or equal to 1");
        return false;
      }
      return true;
    }
  }
  return false;
}

// The ExecutionMetadataV2 model validator (runs only when its fields are valid).
void CheckExecutionRules(const json::Value& block, const Path& loc, ErrorList* errs) {
  const std::string& state = block.Find("lifecycle_state")->as_string();
  const json::Value* prev = block.Find("previous_lifecycle_state");
  if (prev != nullptr && !prev->is_null() && !TransitionAllowed(prev->as_string(), state)) {
    errs->AddValueError(loc, "Invalid execution lifecycle transition: " + prev->as_string() +
                                 " -> " + state);
    return;
  }
  const json::Value* completed = block.Find("completed_at");
  if (completed != nullptr && !completed->is_null()) {
    std::string why;
    std::optional<PyDateTime> end = ParsePyDateTime(*completed, &why);
    std::optional<PyDateTime> start = ParsePyDateTime(*block.Find("started_at"), &why);
    if (end && start) {
      if (end->has_offset != start->has_offset) {
        // The reference raises TypeError here (a 500); we report it.
        errs->AddValueError(loc, "execution.completed_at and execution.started_at must both be "
                                 "timezone-aware or both naive");
        return;
      }
      if (end->ToUtcMicros() < start->ToUtcMicros()) {
        errs->AddValueError(loc,
                            "execution.completed_at cannot be earlier than execution.started_at");
        return;
      }
    }
  }
  const json::Value* reason = block.Find("failure_reason");
  if (reason != nullptr && reason->is_string() && !reason->as_string().empty() &&
      state != "failed") {
    errs->AddValueError(loc, "execution.failure_reason is allowed only when lifecycle_state=failed");
  }
}

void CheckTtpCatalog(const json::Value& block, const Path& loc, const MitreCatalog& catalog,
                     ErrorList* errs) {
  const std::string& technique = block.Find("technique_id")->as_string();
  if (!CheckTechniqueInCatalog(technique, catalog, loc.Child("technique_id"), "technique_id",
                               errs)) {
    return;
  }
  const std::string& tactic = block.Find("tactic_id")->as_string();
  if (!catalog.TacticExists(tactic)) {
    errs->AddValueError(loc.Child("tactic_id"),
                        "tactic_id " + tactic + " is not in the MITRE ATT&CK catalog");
  } else if (!catalog.TacticBelongsToTechnique(tactic, technique)) {
    errs->AddValueError(loc.Child("tactic_id"),
                        "tactic_id " + tactic + " does not belong to technique " + technique);
  }
  const json::Value* sub = block.Find("subtechnique_id");
  if (sub != nullptr && sub->is_string()) {
    const std::string& s = sub->as_string();
    if (s.compare(0, technique.size() + 1, technique + ".") != 0) {
      errs->AddValueError(loc.Child("subtechnique_id"),
                          "subtechnique_id must start with technique_id + '.'");
    } else {
      CheckTechniqueInCatalog(s, catalog, loc.Child("subtechnique_id"), "subtechnique_id", errs);
    }
  }
}

void ValidateContractV2(const json::Value& v2, const MitreCatalog& catalog, ErrorList* errs) {
  const Path root;
  static constexpr std::array<std::string_view, 7> kBlockNames = {
      "execution", "asset", "identity", "ttp", "detection", "response", "control"};
  for (const BlockSpec& block : V2Blocks()) {
    Path bloc = root.Child(block.name);
    const json::Value* b = v2.Find(block.name);
    if (b == nullptr) {
      errs->Add("missing", bloc, "Field required");
      continue;
    }
    if (!b->is_object()) {
      errs->Add("model_type", bloc,
                "Input should be a valid dictionary or instance of " + std::string(block.model));
      continue;
    }
    size_t before = errs->size();
    for (const FieldSpec& f : block.fields) {
      CheckV2Field(f, b->Find(f.name), bloc.Child(f.name), errs);
    }
    for (const auto& [key, value] : b->as_object()) {
      bool known = false;
      for (const FieldSpec& f : block.fields) {
        if (key == f.name) {
          known = true;
          break;
        }
      }
      if (!known) errs->Add("extra_forbidden", bloc.Child(key), "Extra inputs are not permitted");
    }
    if (errs->size() != before) continue;
    if (block.name == "execution") CheckExecutionRules(*b, bloc, errs);
    if (block.name == "ttp") CheckTtpCatalog(*b, bloc, catalog, errs);
  }
  CheckExtraKeys(v2, kBlockNames, root, errs);
}

constexpr std::array<std::string_view, 8> kTopLevelKeys = {
    "operator_id", "campaign_id", "tenant_id", "execution_hash",
    "timestamp",   "nonce",       "signed_metadata", "payload"};
constexpr std::array<std::string_view, 3> kSignedMetadataKeys = {"tenant_id", "operator_id",
                                                                 "campaign_id"};
constexpr std::array<std::string_view, 9> kPayloadKeys = {
    "event_id",         "event_type",    "source_system", "severity",  "observed_at",
    "mitre_techniques", "mitre_tactics", "description",   "attributes"};

}  // namespace

const char* DlqErrorCode(Stage stage) {
  switch (stage) {
    case Stage::kTopLevel: return "schema_validation_failed";
    case Stage::kCanonical: return "canonical_schema_failed";
    case Stage::kContractV2Schema: return "contract_v2_schema_failed";
    case Stage::kContractV2Validation: return "contract_v2_validation_failed";
  }
  return "schema_validation_failed";
}

const char* DetailFor(Stage stage) {
  switch (stage) {
    case Stage::kTopLevel: return "Telemetry schema validation failed";
    case Stage::kCanonical: return "Canonical telemetry schema validation failed";
    case Stage::kContractV2Schema: return "Telemetry contract v2 schema validation failed";
    case Stage::kContractV2Validation: return "Telemetry contract v2 validation failed";
  }
  return "Telemetry schema validation failed";
}

const char* TraceReason(Stage stage) {
  switch (stage) {
    case Stage::kTopLevel: return "schema_validation";
    case Stage::kCanonical: return "canonical_schema";
    case Stage::kContractV2Schema: return "contract_v2_schema";
    case Stage::kContractV2Validation: return "contract_v2_validation";
  }
  return "schema_validation";
}

Validated<TopLevel> ValidateTopLevel(const json::Value& body) {
  ErrorList errs;
  const Path root;
  if (!body.is_object()) {
    errs.Add("model_type", root,
             "Input should be a valid dictionary or instance of TelemetryIngestRequest");
    return std::move(errs).ToFailure(Stage::kTopLevel);
  }
  TopLevel out;
  if (auto* s = CheckString(body.Find("operator_id"), root.Child("operator_id"), 1, 128, &errs)) {
    out.operator_id = *s;
  }
  if (auto* s = CheckString(body.Find("campaign_id"), root.Child("campaign_id"), 1, 128, &errs)) {
    out.campaign_id = *s;
  }
  // Tenant ids are canonicalised (lowercase) once, here at the edge (issue 12 item 7): two
  // spellings of one tenant are one tenant for the tenant map, the (tenant_id, event_id)
  // dedupe key, the envelope and the engine's re-validation.
  if (auto* s = CheckUuid(body.Find("tenant_id"), root.Child("tenant_id"), &errs)) {
    out.tenant_id = ToLowerAscii(*s);
  }
  if (auto* s = CheckString(body.Find("execution_hash"), root.Child("execution_hash"), 64, 64,
                            &errs)) {
    if (IsHex64(*s)) {
      out.execution_hash = *s;
    } else {
      errs.Add("string_pattern_mismatch", root.Child("execution_hash"),
               "String should match pattern '^[a-fA-F0-9]{64}$'");
    }
  }
  const json::Value* ts = body.Find("timestamp");
  if (ts == nullptr) {
    errs.Add("missing", root.Child("timestamp"), "Field required");
  } else if (!ts->is_int()) {
    // Strict: no "1772107200", 1772107200.0 or true (pydantic lax mode would coerce them).
    errs.Add("int_type", root.Child("timestamp"), "Input should be a valid integer");
  } else if (std::optional<int64_t> t = ts->as_int64()) {
    out.timestamp = *t;
  } else {
    errs.Add("int_parsing_size", root.Child("timestamp"),
             "Unable to parse input string as an integer, exceeded maximum size");
  }
  if (auto* s = CheckString(body.Find("nonce"), root.Child("nonce"), 8, 128, &errs)) {
    out.nonce = *s;
  }
  const json::Value* sm = body.Find("signed_metadata");
  Path sm_loc = root.Child("signed_metadata");
  if (sm == nullptr) {
    errs.Add("missing", sm_loc, "Field required");
  } else if (!sm->is_object()) {
    errs.Add("model_type", sm_loc, "Input should be a valid dictionary or instance of SignedMetadata");
  } else {
    if (auto* s = CheckUuid(sm->Find("tenant_id"), sm_loc.Child("tenant_id"), &errs)) {
      out.signed_metadata.tenant_id = ToLowerAscii(*s);
    }
    if (auto* s = CheckString(sm->Find("operator_id"), sm_loc.Child("operator_id"), 1, 128, &errs)) {
      out.signed_metadata.operator_id = *s;
    }
    if (auto* s = CheckString(sm->Find("campaign_id"), sm_loc.Child("campaign_id"), 1, 128, &errs)) {
      out.signed_metadata.campaign_id = *s;
    }
    CheckExtraKeys(*sm, kSignedMetadataKeys, sm_loc, &errs);
  }
  const json::Value* payload = body.Find("payload");
  if (payload == nullptr) {
    errs.Add("missing", root.Child("payload"), "Field required");
  } else if (!payload->is_object()) {
    errs.Add("dict_type", root.Child("payload"), "Input should be a valid dictionary");
  } else {
    out.payload = payload;
  }
  CheckExtraKeys(body, kTopLevelKeys, root, &errs);
  if (!errs.empty()) return std::move(errs).ToFailure(Stage::kTopLevel);
  return out;
}

Validated<CanonicalPayload> ValidateCanonicalPayload(const json::Value& payload,
                                                     const MitreCatalog& catalog) {
  ErrorList errs;
  const Path root;
  if (!payload.is_object()) {
    errs.Add("model_type", root,
             "Input should be a valid dictionary or instance of CanonicalTelemetryPayload");
    return std::move(errs).ToFailure(Stage::kCanonical);
  }
  CanonicalPayload out;

  // --- field validation (all errors collected, like pydantic) ---
  const std::string* event_id =
      CheckIdString(payload.Find("event_id"), root.Child("event_id"), 128, &errs);
  const std::string* event_type =
      CheckIdString(payload.Find("event_type"), root.Child("event_type"), 64, &errs);
  const std::string* source_system =
      CheckIdString(payload.Find("source_system"), root.Child("source_system"), 64, &errs);

  std::string severity;
  // Length bounds apply to the raw value, then strip + lowercase (reference field_validator).
  if (const std::string* s =
          CheckString(payload.Find("severity"), root.Child("severity"), 2, 16, &errs)) {
    severity = ToLowerAscii(PyStrip(*s));
    if (severity != "info" && severity != "low" && severity != "medium" && severity != "high" &&
        severity != "critical") {
      errs.AddValueError(root.Child("severity"),
                         "severity must be one of info|low|medium|high|critical");
    }
  }

  std::string observed_at;
  const json::Value* obs = payload.Find("observed_at");
  if (obs == nullptr) {
    errs.Add("missing", root.Child("observed_at"), "Field required");
  } else if (!obs->is_string() && !obs->is_number()) {
    errs.Add("datetime_type", root.Child("observed_at"), "Input should be a valid datetime");
  } else {
    std::string why;
    if (std::optional<PyDateTime> dt = ParsePyDateTime(*obs, &why)) {
      observed_at = dt->ToJson();
    } else {
      errs.Add("datetime_parsing", root.Child("observed_at"),
               "Input should be a valid datetime, " + why);
    }
  }

  std::vector<std::string> techniques;
  std::vector<std::string> tactics;
  bool techniques_ok = CheckMitreList(payload.Find("mitre_techniques"),
                                      root.Child("mitre_techniques"), true, 1, catalog,
                                      &techniques, &errs);
  bool tactics_ok = CheckMitreList(payload.Find("mitre_tactics"), root.Child("mitre_tactics"),
                                   false, 0, catalog, &tactics, &errs);
  if (techniques_ok && tactics_ok) {
    // Every tactic must belong to at least one listed technique (catalog rows; a sub-technique
    // carries its own tactics).
    for (size_t i = 0; i < tactics.size(); ++i) {
      bool belongs = false;
      for (const auto& t : techniques) {
        if (catalog.TacticBelongsToTechnique(tactics[i], t)) {
          belongs = true;
          break;
        }
      }
      if (!belongs) {
        errs.AddValueError(root.Child("mitre_tactics").Child(i),
                           "mitre_tactics entry " + tactics[i] +
                               " does not belong to any listed technique");
      }
    }
  }

  const json::Value* desc = payload.Find("description");
  if (desc != nullptr && !desc->is_null()) {
    CheckString(desc, root.Child("description"), 0, 2048, &errs, /*allow_line_breaks=*/true);
  }
  const json::Value* attrs = payload.Find("attributes");
  if (attrs != nullptr && !attrs->is_object()) {
    errs.Add("dict_type", root.Child("attributes"), "Input should be a valid dictionary");
  }
  CheckExtraKeys(payload, kPayloadKeys, root, &errs);
  if (!errs.empty()) return std::move(errs).ToFailure(Stage::kCanonical);

  // --- model validator: sanitise and block injection (stops at the first error) ---
  json::Value description;  // null
  if (desc != nullptr && desc->is_string()) {
    const std::string& raw = desc->as_string();
    if (raw.empty()) {
      description = json::Value(std::string());  // left as is, like the reference
    } else {
      if (ContainsInjectionPattern(raw)) {
        errs.AddValueError(root.Child("description"), "Potential injection pattern detected");
        return std::move(errs).ToFailure(Stage::kCanonical);
      }
      description = json::Value(SanitizeText(raw));
    }
  }
  json::Value attributes = json::Value::MakeObject();
  if (attrs != nullptr) {
    if (!SanitizeValue(*attrs, root.Child("attributes"), &attributes, &errs)) {
      return std::move(errs).ToFailure(Stage::kCanonical);
    }
  }
  const json::Value* att = attributes.Find("attestation_measurement_hash");
  if (att == nullptr || !att->is_string() || !IsHex64(PyStrip(att->as_string()))) {
    errs.AddValueError(root.Child("attributes").Child("attestation_measurement_hash"),
                       "attributes.attestation_measurement_hash must be 64-char sha256 hex");
    return std::move(errs).ToFailure(Stage::kCanonical);
  }
  if (const json::Value* sv = attributes.Find("schema_version")) {
    if (!sv->is_string()) {
      errs.AddValueError(root.Child("attributes").Child("schema_version"),
                         "attributes.schema_version must be a string");
      return std::move(errs).ToFailure(Stage::kCanonical);
    }
    out.schema_version = std::string(PyStrip(sv->as_string()));
  }

  // --- contract v2 ---
  if (out.schema_version.compare(0, 2, "2.") == 0) {
    out.contract_v2_validated = true;
    const json::Value* v2 = attributes.Find("contract_v2");
    if (v2 == nullptr || !v2->is_object()) {
      ValidationFailure f;
      f.stage = Stage::kContractV2Validation;
      f.summary = "attributes.contract_v2 must be an object when schema_version is 2.x";
      json::Object e;
      e.emplace_back("type", json::Value("value_error"));
      e.emplace_back("loc", json::Value(json::Array{json::Value("attributes"),
                                                    json::Value("contract_v2")}));
      e.emplace_back("msg", json::Value("Value error, " + f.summary));
      f.errors.Push(json::Value(std::move(e)));
      return f;
    }
    ValidateContractV2(*v2, catalog, &errs);
    if (!errs.empty()) return std::move(errs).ToFailure(Stage::kContractV2Schema);
  }

  json::Array techniques_json;
  techniques_json.reserve(techniques.size());
  for (auto& t : techniques) techniques_json.emplace_back(std::move(t));
  json::Array tactics_json;
  tactics_json.reserve(tactics.size());
  for (auto& t : tactics) tactics_json.emplace_back(std::move(t));

  out.event_id = *event_id;
  json::Object norm;
  norm.reserve(9);
  norm.emplace_back("event_id", json::Value(*event_id));
  norm.emplace_back("event_type", json::Value(*event_type));
  norm.emplace_back("source_system", json::Value(*source_system));
  norm.emplace_back("severity", json::Value(std::move(severity)));
  norm.emplace_back("observed_at", json::Value(std::move(observed_at)));
  norm.emplace_back("mitre_techniques", json::Value(std::move(techniques_json)));
  norm.emplace_back("mitre_tactics", json::Value(std::move(tactics_json)));
  norm.emplace_back("description", std::move(description));
  norm.emplace_back("attributes", std::move(attributes));
  out.normalized = json::Value(std::move(norm));
  return out;
}

json::Value BuildNormalizedRequest(const TopLevel& top, const CanonicalPayload& canonical) {
  CanonicalPayload copy = canonical;
  return BuildNormalizedRequest(top, std::move(copy));
}

json::Value BuildNormalizedRequest(const TopLevel& top, CanonicalPayload&& canonical) {
  json::Object sm;
  sm.reserve(3);
  sm.emplace_back("tenant_id", json::Value(top.signed_metadata.tenant_id));
  sm.emplace_back("operator_id", json::Value(top.signed_metadata.operator_id));
  sm.emplace_back("campaign_id", json::Value(top.signed_metadata.campaign_id));
  json::Object o;
  o.reserve(8);
  o.emplace_back("operator_id", json::Value(top.operator_id));
  o.emplace_back("campaign_id", json::Value(top.campaign_id));
  o.emplace_back("tenant_id", json::Value(top.tenant_id));
  o.emplace_back("execution_hash", json::Value(top.execution_hash));
  o.emplace_back("timestamp", json::Value(top.timestamp));
  o.emplace_back("nonce", json::Value(top.nonce));
  o.emplace_back("signed_metadata", json::Value(std::move(sm)));
  o.emplace_back("payload", std::move(canonical.normalized));
  return json::Value(std::move(o));
}

}  // namespace vv::schema
