#include "config/identity_edit.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/encoding.h"
#include "common/file.h"
#include "config/identities_file.h"
#include "crypto/crypto.h"

namespace vv::config::identity {

namespace {

Status Invalid(const std::string& m) { return Status::InvalidArgument(m); }

Status EditPins(const Edit& e, ServiceIdentity* ident) {
  VV_ASSIGN_OR_RETURN(auto pin, NormalizeCertPin(e.pin, "--pin"));
  auto& pins = ident->cert_sha256_pins;
  auto it = std::find(pins.begin(), pins.end(), pin);
  if (e.op == Op::kStagePin) {
    if (it != pins.end()) return Status::AlreadyExists("pin already staged");
    pins.push_back(std::move(pin));
    return Status::Ok();
  }
  if (it == pins.end()) return Status::NotFound("pin is not configured for " + e.identity);
  if (pins.size() == 1)
    return Invalid("refusing to retire the last pin of " + e.identity +
                   " (stage the new pin first; use the kill switch to revoke)");
  pins.erase(it);
  return Status::Ok();
}

Status EditKeys(const Edit& e, ServiceIdentity* ident) {
  const std::string kid(StripAsciiWhitespace(e.kid));
  if (kid.empty()) return Invalid("--kid is required");
  auto& keys = ident->signing_keys;
  auto it = std::find_if(keys.begin(), keys.end(), [&](const SigningKey& k) { return k.kid == kid; });
  if (e.op == Op::kStageKey) {
    VV_ASSIGN_OR_RETURN(auto sk, ParseSigningKey(kid, e.public_key_b64, "--public-key"));
    if (it != keys.end())
      return Status::AlreadyExists("kid '" + kid + "' already exists for " + e.identity);
    keys.push_back(std::move(sk));
    return Status::Ok();
  }
  if (it == keys.end())
    return Status::NotFound("kid '" + kid + "' is not configured for " + e.identity);
  if (keys.size() == 1)
    return Invalid("refusing to retire the last signing key of " + e.identity +
                   " (stage the new key first; use the kill switch to revoke)");
  keys.erase(it);
  return Status::Ok();
}

Status EditOperators(const Edit& e, ServiceIdentity* ident) {
  // Validation (the whole config) refuses operators missing from operator_tenant_map.
  if (e.operators.empty())
    return Invalid("--operator is required (the operators " + e.identity + " may act for)");
  ServiceIdentity replaced;
  VV_RETURN_IF_ERROR(AddOperators(e.operators, "--operator", &replaced));
  ident->operators = std::move(replaced.operators);
  return Status::Ok();
}

// The config file's directory, as LoadGatewayConfig resolves relative paths against it.
std::string BaseDirOf(const std::string& path) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  return ec ? std::string() : abs.parent_path().string();
}

// An exclusive flock on the directory holding `path`, held while the object lives.
class DirectoryLock {
 public:
  static Result<DirectoryLock> Take(const std::string& path) {
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) dir = ".";
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid())
      return Status::Unavailable("cannot open " + dir.string() + ": " + std::strerror(errno));
    while (::flock(fd.get(), LOCK_EX) != 0)
      if (errno != EINTR)
        return Status::Unavailable("cannot lock " + dir.string() + ": " + std::strerror(errno));
    return DirectoryLock(std::move(fd));
  }

 private:
  explicit DirectoryLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;  // closing it releases the lock
};

}  // namespace

Status Apply(const Edit& edit, std::vector<ServiceIdentity>* identities) {
  auto it = std::find_if(identities->begin(), identities->end(),
                         [&](const ServiceIdentity& i) { return i.id == edit.identity; });
  if (it == identities->end())
    return Status::NotFound("identity '" + edit.identity + "' is not in the identities file");
  ServiceIdentity edited = *it;  // the list changes only when the edit succeeds
  switch (edit.op) {
    case Op::kStagePin:
    case Op::kRetirePin: VV_RETURN_IF_ERROR(EditPins(edit, &edited)); break;
    case Op::kStageKey:
    case Op::kRetireKey: VV_RETURN_IF_ERROR(EditKeys(edit, &edited)); break;
    case Op::kSetOperators: VV_RETURN_IF_ERROR(EditOperators(edit, &edited)); break;
  }
  *it = std::move(edited);
  return Status::Ok();
}

Result<Written> ApplyToConfig(const std::string& config_path, const Edit& edit,
                              const EnvLookup& env) {
  auto text = crypto::ReadFileBytes(config_path);
  if (!text.ok()) return Status(text.status().code(), "config file: " + text.status().message());
  GatewayConfigDraft d = DraftGatewayConfig(*text, env, BaseDirOf(config_path));
  const std::string path = d.config.identities_file;
  if (path.empty()) {
    // Beside the config, where `identities_file: identities.json` resolves.
    const std::string beside =
        (std::filesystem::path(BaseDirOf(config_path)) / "identities.json").string();
    return Status::InvalidArgument(
        "the identities of " + config_path +
        " are inline (allowed_service_identities or VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON); "
        "vvctl edits only a machine-owned identities file: run `vvctl identity export --config " +
        config_path + " --out " + beside + "`, replace allowed_service_identities with "
        "`identities_file: identities.json`, reload, then repeat this command");
  }
  if (!d.parse_errors.empty()) {
    table::Violations v;
    for (auto& s : d.parse_errors) v.Add(std::move(s));
    return v.ToStatus();
  }
  VV_ASSIGN_OR_RETURN(auto lock, DirectoryLock::Take(path));
  // Read again under the lock: another vvctl may have written it since the draft.
  VV_ASSIGN_OR_RETURN(d.config.identities, LoadIdentitiesFile(path));
  VV_RETURN_IF_ERROR(Apply(edit, &d.config.identities));
  VV_RETURN_IF_ERROR(ValidateGatewayConfig(d.config));
  struct stat st {};
  const int mode = ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : 0644;
  VV_RETURN_IF_ERROR(WriteIdentitiesFile(path, d.config.identities, mode));
  return Written{path, d.config.identities.size()};
}

Result<Written> Export(const std::string& config_path, const std::string& out, bool overwrite,
                       const EnvLookup& env) {
  VV_ASSIGN_OR_RETURN(auto cfg, LoadGatewayConfig(config_path, env));
  if (out.empty()) return Invalid("--out is required");
  std::error_code ec;
  if (!overwrite && std::filesystem::exists(out, ec))
    return Status::AlreadyExists(out + " exists (pass --force to replace it)");
  VV_RETURN_IF_ERROR(WriteIdentitiesFile(out, cfg.identities, 0644));
  // Absolute: the config resolves a relative identities_file against its own directory, not
  // against the directory vvctl ran in.
  std::filesystem::path abs = std::filesystem::absolute(out, ec);
  return Written{ec ? out : abs.lexically_normal().string(), cfg.identities.size()};
}

}  // namespace vv::config::identity
