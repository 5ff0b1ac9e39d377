#include "audit/checkpoint.h"

#include <sys/stat.h>

#include <utility>

#include "common/encoding.h"

namespace vv::audit {

namespace {

bool ParseDecimal(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

// Splits '\n'-terminated lines; false when the text does not end in '\n'.
bool SplitTerminatedLines(std::string_view text, std::vector<std::string_view>* lines) {
  if (text.empty() || text.back() != '\n') return false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    lines->push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return true;
}

bool HasControlOrSpace(std::string_view s) {
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return true;
  }
  return false;
}

}  // namespace

std::string CheckpointBody(const Checkpoint& cp) {
  return cp.origin + "\n" + std::to_string(cp.tree_size) + "\n" + Base64Encode(cp.root_hash) +
         "\n";
}

Result<Checkpoint> ParseCheckpointBody(std::string_view body) {
  std::vector<std::string_view> lines;
  if (!SplitTerminatedLines(body, &lines) || lines.size() < 3) {
    return Status::InvalidArgument("checkpoint body needs origin, size and root lines");
  }
  Checkpoint cp;
  if (lines[0].empty()) return Status::InvalidArgument("checkpoint origin is empty");
  cp.origin = std::string(lines[0]);
  if (!ParseDecimal(lines[1], &cp.tree_size)) {
    return Status::InvalidArgument("checkpoint size is not a canonical decimal integer");
  }
  auto root = Base64DecodeStrict(lines[2]);
  if (!root.has_value() || root->size() != 32) {
    return Status::InvalidArgument("checkpoint root is not base64 of 32 bytes");
  }
  cp.root_hash = std::move(*root);
  for (size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty()) return Status::InvalidArgument("empty checkpoint extension line");
  }
  return cp;
}

std::string NoteKeyId(std::string_view key_name, const crypto::Ed25519PublicKey& key) {
  std::string in(key_name);
  in.push_back('\x0a');
  in.push_back('\x01');
  in.append(key.raw());
  return crypto::Sha256(in).substr(0, 4);
}

std::string NoteVerifierKey(std::string_view key_name, const crypto::Ed25519PublicKey& key) {
  return std::string(key_name) + "+" + HexEncode(NoteKeyId(key_name, key)) + "+" +
         Base64Encode(std::string("\x01", 1) + key.raw());
}

bool IsValidKeyName(std::string_view name) {
  return !name.empty() && !HasControlOrSpace(name) && name.find('+') == std::string_view::npos;
}

Result<SignedNote> ParseSignedNote(std::string_view text) {
  if (text.size() > 1 << 20) return Status::InvalidArgument("signed note too large");
  // The signature block starts after the last blank line ("\n\n").
  size_t sep = text.rfind("\n\n");
  if (sep == std::string_view::npos) {
    return Status::InvalidArgument("signed note has no blank line before the signatures");
  }
  SignedNote note;
  note.body = std::string(text.substr(0, sep + 1));
  std::string_view sigs = text.substr(sep + 2);
  if (sigs.empty()) return note;  // unsigned
  std::vector<std::string_view> lines;
  if (!SplitTerminatedLines(sigs, &lines)) {
    return Status::InvalidArgument("signature lines must end in a newline");
  }
  const std::string prefix = std::string(kSignatureDash) + " ";
  for (std::string_view line : lines) {
    if (line.substr(0, prefix.size()) != prefix) {
      return Status::InvalidArgument("signature line does not start with an em dash and space");
    }
    std::string_view rest = line.substr(prefix.size());
    size_t sp = rest.find(' ');
    if (sp == std::string_view::npos) return Status::InvalidArgument("signature line has no key");
    std::string_view name = rest.substr(0, sp);
    if (!IsValidKeyName(name)) return Status::InvalidArgument("invalid signature key name");
    auto blob = Base64DecodeStrict(rest.substr(sp + 1));
    if (!blob.has_value() || blob->size() < 5) {
      return Status::InvalidArgument("signature is not base64 of a key id and a signature");
    }
    note.signatures.push_back({std::string(name), blob->substr(0, 4), blob->substr(4)});
  }
  return note;
}

Status VerifyNoteSignature(const SignedNote& note, std::string_view key_name,
                           const crypto::Ed25519PublicKey& key) {
  const std::string key_id = NoteKeyId(key_name, key);
  bool found = false;
  for (const NoteSignature& s : note.signatures) {
    if (s.key_name != key_name || s.key_id != key_id) continue;
    found = true;
    if (s.signature.size() == 64 && key.Verify(note.body, s.signature)) return Status::Ok();
  }
  if (!found) {
    return Status::NotFound("no signature by key " + std::string(key_name) + "+" +
                            HexEncode(key_id));
  }
  return Status::DataLoss("signature by key " + std::string(key_name) + "+" + HexEncode(key_id) +
                          " does not verify");
}

SealSigner::SealSigner(std::string key_name, crypto::Ed25519PublicKey public_key)
    : key_name_(std::move(key_name)),
      public_key_(std::move(public_key)),
      key_id_(NoteKeyId(key_name_, public_key_)) {}

std::string SealSigner::SignatureLine(std::string_view signature) const {
  return std::string(kSignatureDash) + " " + key_name_ + " " +
         Base64Encode(key_id_ + std::string(signature)) + "\n";
}

CheckpointSigner::CheckpointSigner(std::string key_name, crypto::Ed25519PrivateKey key)
    : SealSigner(std::move(key_name), key.PublicKey()), key_(std::move(key)) {}

Result<std::string> CheckpointSigner::Sign(std::string_view body) const { return key_.Sign(body); }

Result<crypto::Ed25519PrivateKey> LoadSealKey(const std::string& path) {
  return crypto::Ed25519PrivateKey::LoadFile(path, /*check_permissions=*/true);
}

Result<crypto::Ed25519PublicKey> ParsePublicKeyArg(const std::string& arg) {
  std::string text = arg;
  struct stat st;
  if (::stat(arg.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    if (st.st_size > 64 * 1024) return Status::InvalidArgument("public key file too large");
    VV_ASSIGN_OR_RETURN(auto bytes, crypto::ReadFileBytes(arg));
    if (bytes.size() == 32) return crypto::Ed25519PublicKey::FromRaw(bytes);
    text = bytes;
  }
  std::string_view t = StripAsciiWhitespace(text);
  if (t.find("PRIVATE KEY") != std::string_view::npos) {
    return Status::InvalidArgument(
        "this is a private key; give the public key (vv-audit public-key --key FILE prints it)");
  }
  // Note verifier key: name+hexid+base64(0x01||key) (the name has no '+').
  size_t p1 = t.find('+');
  if (p1 != std::string_view::npos && p1 > 0 && t.size() > p1 + 10 && t[p1 + 9] == '+' &&
      IsHex(t.substr(p1 + 1, 8), 8) && t.find("-----") == std::string_view::npos) {
    auto blob = Base64DecodeStrict(t.substr(p1 + 10));
    if (blob.has_value() && blob->size() == 33 && (*blob)[0] == '\x01') {
      auto key = crypto::Ed25519PublicKey::FromRaw(blob->substr(1));
      if (!key.ok()) return key.status();
      if (HexEncode(NoteKeyId(t.substr(0, p1), *key)) != ToLowerAscii(t.substr(p1 + 1, 8))) {
        return Status::InvalidArgument("verifier key id does not match its key");
      }
      return key;
    }
  }
  return crypto::Ed25519PublicKey::FromPemOrBase64(t);
}

}  // namespace vv::audit
