#include "schema/fields.h"

#include "common/encoding.h"
#include "schema/text.h"

namespace vv::schema::fields {

namespace {
std::string Name(std::string_view path, std::string_view key) {
  std::string n(path);
  n.append(key);
  return n;
}
}  // namespace

std::string BoundedKey(std::string_view key) {
  return key.size() <= 64 ? std::string(key) : std::string(key.substr(0, 64)) + "...";
}

Status OnlyKeys(const json::Value& obj, std::initializer_list<std::string_view> allowed,
                std::string_view path) {
  if (!obj.is_object()) {
    if (path.empty()) return Status::InvalidArgument("body must be a JSON object");
    std::string_view name = path.substr(0, path.size() - (path.back() == '.' ? 1 : 0));
    return Status::InvalidArgument(std::string(name) + ": must be an object");
  }
  for (const auto& [k, v] : obj.as_object()) {
    bool known = false;
    for (std::string_view a : allowed) known |= (k == a);
    if (!known)
      return Status::InvalidArgument("extra field not permitted: " + Name(path, BoundedKey(k)));
  }
  return Status::Ok();
}

Result<std::string> Str(const json::Value& obj, std::string_view key, size_t min_chars,
                        size_t max_chars, std::string_view path, bool forbid_pipe) {
  const json::Value* v = obj.Find(key);
  if (v == nullptr) return Status::InvalidArgument(Name(path, key) + ": field required");
  if (!v->is_string()) return Status::InvalidArgument(Name(path, key) + ": must be a string");
  const std::string& s = v->as_string();
  const size_t n = CodePointCount(s);
  if (n < min_chars || n > max_chars)
    return Status::InvalidArgument(Name(path, key) + ": length must be " +
                                   std::to_string(min_chars) + ".." + std::to_string(max_chars));
  if (ContainsControlChar(s, /*allow_line_breaks=*/false) ||
      (forbid_pipe && s.find('|') != std::string::npos))
    return Status::InvalidArgument(Name(path, key) + ": contains a forbidden character");
  return s;
}

Result<int64_t> Int(const json::Value& obj, std::string_view key, std::string_view path) {
  const json::Value* v = obj.Find(key);
  if (v == nullptr) return Status::InvalidArgument(Name(path, key) + ": field required");
  if (!v->is_int()) return Status::InvalidArgument(Name(path, key) + ": must be an integer");
  auto i = v->as_int64();
  if (!i) return Status::InvalidArgument(Name(path, key) + ": integer out of range");
  return *i;
}

Result<std::string> Hex64Lower(const json::Value& obj, std::string_view key,
                               std::string_view path) {
  VV_ASSIGN_OR_RETURN(std::string s, Str(obj, key, 64, 64, path));
  if (!IsHex(s, 64)) return Status::InvalidArgument(Name(path, key) + ": must be 64 hex chars");
  return ToLowerAscii(s);
}

}  // namespace vv::schema::fields
