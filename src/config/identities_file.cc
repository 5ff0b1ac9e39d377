#include "config/identities_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/encoding.h"
#include "common/file.h"
#include "crypto/crypto.h"

namespace vv::config {

namespace {

Status Invalid(const std::string& m) { return Status::InvalidArgument(m); }
std::string Trim(std::string_view s) { return std::string(StripAsciiWhitespace(s)); }

void AddPin(std::string pin, ServiceIdentity* ident) {
  auto& pins = ident->cert_sha256_pins;
  if (std::find(pins.begin(), pins.end(), pin) == pins.end()) pins.push_back(std::move(pin));
}

// `"<text>"` with JSON escaping.
std::string Quoted(std::string_view s) {
  std::string out;
  json::AppendQuoted(s, &out);
  return out;
}

// `[` items `]` one per line at `indent` (+2 inside), or `[]`.
void AppendStringList(const std::vector<std::string>& items, const std::string& indent,
                      std::string* out) {
  if (items.empty()) {
    *out += "[]";
    return;
  }
  *out += "[\n";
  for (std::size_t i = 0; i < items.size(); ++i) {
    *out += indent + "  " + Quoted(items[i]);
    *out += i + 1 < items.size() ? ",\n" : "\n";
  }
  *out += indent + "]";
}

}  // namespace

Result<SigningKey> ParseSigningKey(const std::string& kid, std::string_view b64,
                                   const std::string& key) {
  if (Trim(kid).empty()) return Invalid(key + ": key id must not be empty");
  auto k = crypto::Ed25519PublicKey::FromBase64(b64);
  if (!k.ok())
    return Invalid(key + ": " + k.status().message() + " (expected standard base64 of a raw " +
                   "32-byte Ed25519 public key)");
  return SigningKey{Trim(kid), std::move(k).value()};
}

Status AddOperators(const std::vector<std::string>& raw, const std::string& key,
                    ServiceIdentity* ident) {
  for (const auto& r : raw) {
    std::string op = Trim(r);
    if (op.empty()) return Invalid(key + ": operator ids must not be empty");
    if (std::find(ident->operators.begin(), ident->operators.end(), op) == ident->operators.end())
      ident->operators.push_back(std::move(op));
  }
  return Status::Ok();
}

Result<ServiceIdentity> ParseJsonIdentity(const std::string& id, const json::Value& v,
                                          const std::string& name) {
  ServiceIdentity ident;
  ident.id = Trim(id);
  if (ident.id.empty()) return Invalid(name + ": service identity id must not be empty");
  if (v.is_string()) {
    VV_ASSIGN_OR_RETURN(auto pin, NormalizeCertPin(v.as_string(), name));
    ident.cert_sha256_pins.push_back(std::move(pin));
    return ident;
  }
  if (!v.is_object())
    return Invalid(name + ": identity '" + ident.id + "' must map to a fingerprint string");
  for (const auto& [k, mv] : v.as_object()) {
    if (k == "cert_sha256") {
      std::vector<const json::Value*> raw;
      if (mv.is_string())
        raw.push_back(&mv);
      else if (mv.is_array())
        for (const auto& e : mv.as_array()) raw.push_back(&e);
      else
        return Invalid(name + ": cert_sha256 of '" + ident.id + "' must be a string or an array");
      for (const auto* r : raw) {
        if (!r->is_string()) return Invalid(name + ": cert_sha256 entries must be strings");
        VV_ASSIGN_OR_RETURN(auto pin, NormalizeCertPin(r->as_string(), name));
        AddPin(std::move(pin), &ident);
      }
    } else if (k == "signing_keys") {
      if (!mv.is_object()) return Invalid(name + ": signing_keys must be an object");
      for (const auto& [kid, kv] : mv.as_object()) {
        if (!kv.is_string())
          return Invalid(name + ": signing key '" + kid + "' must be a string");
        VV_ASSIGN_OR_RETURN(auto sk, ParseSigningKey(kid, kv.as_string(), name));
        for (const auto& have : ident.signing_keys)
          if (have.kid == sk.kid)
            return Invalid(name + ": duplicate signing key id '" + sk.kid + "' for '" + ident.id +
                           "'");
        ident.signing_keys.push_back(std::move(sk));
      }
    } else if (k == "operators") {
      if (!mv.is_array())
        return Invalid(name + ": operators of '" + ident.id + "' must be an array");
      std::vector<std::string> raw;
      for (const auto& e : mv.as_array()) {
        if (!e.is_string())
          return Invalid(name + ": operators of '" + ident.id + "' must be strings");
        raw.push_back(e.as_string());
      }
      VV_RETURN_IF_ERROR(
          AddOperators(raw, name + ": identity '" + ident.id + "' operators", &ident));
    } else {
      return Invalid(name + ": unknown key '" + k + "' for identity '" + ident.id + "'");
    }
  }
  return ident;
}

Result<std::vector<ServiceIdentity>> ParseIdentitiesJson(std::string_view text,
                                                         const std::string& name) {
  if (text.size() > kMaxIdentitiesFileBytes)
    return Invalid(name + ": larger than " + std::to_string(kMaxIdentitiesFileBytes) + " bytes");
  auto doc = json::Parse(text);
  if (!doc.ok()) return Invalid(name + ": not valid JSON: " + doc.status().message());
  if (!doc->is_object()) return Invalid(name + ": must be a JSON object");
  const json::Value* format = nullptr;
  const json::Value* identities = nullptr;
  for (const auto& [k, v] : doc->as_object()) {
    if (k == "format")
      format = &v;
    else if (k == "identities")
      identities = &v;
    else
      return Invalid(name + ": unknown key '" + k + "' (expected format and identities)");
  }
  if (format == nullptr || !format->is_string() || format->as_string() != kIdentitiesFileFormat)
    return Invalid(name + ": \"format\" must be \"" + std::string(kIdentitiesFileFormat) + "\"");
  if (identities == nullptr || !identities->is_object())
    return Invalid(name + ": \"identities\" must be an object of identity id to identity");
  std::vector<ServiceIdentity> out;
  for (const auto& [id, v] : identities->as_object()) {
    VV_ASSIGN_OR_RETURN(auto ident, ParseJsonIdentity(id, v, name));
    for (const auto& o : out)
      if (o.id == ident.id) return Invalid(name + ": duplicate identity '" + ident.id + "'");
    out.push_back(std::move(ident));
  }
  return out;
}

std::string SerializeIdentities(const std::vector<ServiceIdentity>& identities) {
  std::string out = "{\n  \"format\": " + Quoted(kIdentitiesFileFormat) + ",\n  \"identities\": ";
  if (identities.empty()) out += "{}";
  for (std::size_t i = 0; i < identities.size(); ++i) {
    const ServiceIdentity& ident = identities[i];
    out += i == 0 ? "{\n" : "";
    out += "    " + Quoted(ident.id) + ": {\n      \"cert_sha256\": ";
    AppendStringList(ident.cert_sha256_pins, "      ", &out);
    out += ",\n      \"operators\": ";
    AppendStringList(ident.operators, "      ", &out);
    out += ",\n      \"signing_keys\": ";
    if (ident.signing_keys.empty()) out += "{}";
    for (std::size_t k = 0; k < ident.signing_keys.size(); ++k) {
      out += k == 0 ? "{\n" : "";
      out += "        " + Quoted(ident.signing_keys[k].kid) + ": " +
             Quoted(ident.signing_keys[k].key.ToBase64());
      out += k + 1 < ident.signing_keys.size() ? ",\n" : "\n      }";
    }
    out += "\n    }";
    out += i + 1 < identities.size() ? ",\n" : "\n  }";
  }
  out += "\n}\n";
  return out;
}

Result<std::vector<ServiceIdentity>> LoadIdentitiesFile(const std::string& path) {
  const std::string name = "identities_file " + path;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) {
    const int e = errno;
    const std::string why = name + ": cannot open: " + std::strerror(e);
    return e == ENOENT ? Status::NotFound(why) : Status::PermissionDenied(why);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Status::Unavailable(name + ": fstat failed");
  if (!S_ISREG(st.st_mode)) return Invalid(name + ": not a regular file");
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    return Status::PermissionDenied(name + ": writable by group or others (chmod go-w " + path +
                                    "): whoever can write it can admit a producer");
  if (static_cast<uint64_t>(st.st_size) > kMaxIdentitiesFileBytes)
    return Invalid(name + ": larger than " + std::to_string(kMaxIdentitiesFileBytes) + " bytes");
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Unavailable(name + ": read failed: " + std::strerror(errno));
    if (n == 0) break;  // truncated under us: parse what is there (the parser refuses a torso)
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  return ParseIdentitiesJson(text, name);
}

Status WriteIdentitiesFile(const std::string& path,
                           const std::vector<ServiceIdentity>& identities, int mode) {
  if ((mode & (S_IWGRP | S_IWOTH)) != 0)
    return Invalid("identities_file " + path + ": mode must not let group or others write");
  return WriteFileAtomic(path, SerializeIdentities(identities), mode);
}

}  // namespace vv::config
