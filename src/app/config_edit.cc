#include "app/config_edit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "crypto/crypto.h"

namespace vv::app::config_edit {

namespace {
Status Invalid(const std::string& m) { return Status::InvalidArgument(m); }
}  // namespace

Result<std::string> ApplyToText(const std::string& yaml_text, const Edit& e,
                                const config::EnvLookup& env, const std::string& base_dir,
                                bool validate) {
  try {
    YAML::Node root = YAML::Load(yaml_text);
    YAML::Node sec = root["vectorvue"]["telemetry_gateway"];
    if (!sec.IsMap()) return Invalid("config: missing mapping vectorvue.telemetry_gateway");
    YAML::Node ids = sec["allowed_service_identities"];
    if (!ids.IsMap()) return Invalid("config: allowed_service_identities is not a mapping");
    YAML::Node ident = ids[e.identity];
    if (!ident.IsDefined() || ident.IsNull())
      return Status::NotFound("identity '" + e.identity + "' is not in allowed_service_identities");
    if (ident.IsScalar()) {
      std::string pin = ident.Scalar();
      YAML::Node m(YAML::NodeType::Map);
      YAML::Node pins(YAML::NodeType::Sequence);
      pins.push_back(pin);
      m["cert_sha256"] = pins;
      ids[e.identity] = m;
      ident = ids[e.identity];
    }
    if (!ident.IsMap()) return Invalid("identity '" + e.identity + "' has an unexpected form");

    // Pins as a list.
    YAML::Node pins = ident["cert_sha256"];
    std::vector<std::string> pin_list;
    if (pins.IsScalar()) pin_list.push_back(pins.Scalar());
    else if (pins.IsSequence())
      for (const auto& p : pins) pin_list.push_back(p.Scalar());
    std::vector<std::string> normalized;
    for (const auto& p : pin_list) {
      auto n = config::NormalizeCertPin(p, "cert_sha256");
      normalized.push_back(n.ok() ? *n : p);
    }

    switch (e.op) {
      case Op::kStagePin:
      case Op::kRetirePin: {
        auto pin = config::NormalizeCertPin(e.pin, "--pin");
        if (!pin.ok()) return pin.status();
        auto it = std::find(normalized.begin(), normalized.end(), *pin);
        if (e.op == Op::kStagePin) {
          if (it != normalized.end()) return Status::AlreadyExists("pin already staged");
          normalized.push_back(*pin);
        } else {
          if (it == normalized.end()) return Status::NotFound("pin is not configured for " + e.identity);
          if (normalized.size() == 1)
            return Invalid("refusing to retire the last pin of " + e.identity +
                           " (stage the new pin first; use the kill switch to revoke)");
          normalized.erase(it);
        }
        YAML::Node seq(YAML::NodeType::Sequence);
        for (const auto& p : normalized) seq.push_back(p);
        ident["cert_sha256"] = seq;
        break;
      }
      case Op::kStageKey:
      case Op::kRetireKey: {
        if (e.kid.empty()) return Invalid("--kid is required");
        YAML::Node keys = ident["signing_keys"];
        if (keys.IsDefined() && !keys.IsNull() && !keys.IsMap())
          return Invalid("signing_keys of " + e.identity + " is not a mapping");
        if (!keys.IsMap()) keys = YAML::Node(YAML::NodeType::Map);
        if (e.op == Op::kStageKey) {
          auto pk = crypto::Ed25519PublicKey::FromBase64(e.public_key_b64);
          if (!pk.ok()) return Invalid("--public-key: " + pk.status().message());
          if (keys[e.kid].IsDefined() && !keys[e.kid].IsNull())
            return Status::AlreadyExists("kid '" + e.kid + "' already exists for " + e.identity);
          keys[e.kid] = e.public_key_b64;
        } else {
          if (!keys[e.kid].IsDefined() || keys[e.kid].IsNull())
            return Status::NotFound("kid '" + e.kid + "' is not configured for " + e.identity);
          if (keys.size() == 1)
            return Invalid("refusing to retire the last signing key of " + e.identity +
                           " (stage the new key first; use the kill switch to revoke)");
          keys.remove(e.kid);
        }
        ident["signing_keys"] = keys;
        break;
      }
    }
    YAML::Emitter out;
    out << root;
    if (!out.good()) return Invalid(std::string("config: cannot emit YAML: ") + out.GetLastError());
    std::string text = std::string(out.c_str()) + "\n";
    if (validate) {
      auto cfg = config::ParseGatewayConfig(text, env, base_dir);
      if (!cfg.ok())
        return Status(cfg.status().code(),
                      "the edited config would not validate: " + cfg.status().message());
    }
    return text;
  } catch (const YAML::Exception& ex) {
    return Invalid(std::string("config: invalid YAML: ") + ex.what());
  }
}

Status WriteFileAtomic(const std::string& path, const std::string& content, int mode) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, mode);
  if (fd < 0) return Status::Unavailable("cannot create " + tmp);
  ::fchmod(fd, static_cast<mode_t>(mode));
  bool ok = ::write(fd, content.data(), content.size()) ==
                static_cast<ssize_t>(content.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status::Unavailable("cannot write " + path);
  }
  return Status::Ok();
}

Status ApplyToFile(const std::string& path, const Edit& edit, const config::EnvLookup& env) {
  auto text = crypto::ReadFileBytes(path);
  if (!text.ok()) return text.status();
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  std::string base = ec ? std::string() : abs.parent_path().string();
  auto next = ApplyToText(*text, edit, env, base);
  if (!next.ok()) return next.status();
  struct stat st {};
  int mode = ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : 0600;
  return WriteFileAtomic(path, *next, mode);
}

}  // namespace vv::app::config_edit
