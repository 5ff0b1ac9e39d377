#include "audit/sealer.h"

#include <utility>

#include "audit/record.h"
#include "audit/verifier.h"
#include "common/encoding.h"
#include "json/json.h"

namespace vv::audit {

Result<Sealer> Sealer::Make(std::string origin, std::string actor,
                            std::shared_ptr<const SealSigner> signer,
                            std::shared_ptr<const crypto::Ed25519PrivateKey> key,
                            const std::string& key_path) {
  if (!IsValidKeyName(origin)) {
    return Status::InvalidArgument("audit checkpoint origin must be non-empty, without spaces "
                                   "or '+': \"" + origin + "\"");
  }
  if (signer != nullptr) {
    if (signer->key_name() != origin) {
      return Status::InvalidArgument("audit seal signer key name '" + signer->key_name() +
                                     "' differs from the checkpoint origin '" + origin + "'");
    }
  } else if (key != nullptr) {
    signer = std::make_shared<CheckpointSigner>(origin, *key);
  } else if (!key_path.empty()) {
    auto loaded = LoadSealKey(key_path);
    if (!loaded.ok()) {
      return Status(loaded.status().code(), "audit seal key: " + loaded.status().message());
    }
    signer = std::make_shared<CheckpointSigner>(origin, std::move(loaded).value());
  }
  return Sealer(std::move(origin), std::move(actor), std::move(signer));
}

Result<std::string> Sealer::BuildLine(const At& at, std::string* out, AnchorRecord* info) const {
  const std::string index_text = std::to_string(at.seal_index);
  Checkpoint cp{origin_, at.tree->size(), at.tree->Root()};
  const std::string root_b64 = Base64Encode(cp.root_hash);
  const std::string body = CheckpointBody(cp);
  std::string note = body + "\n";
  std::string signature_b64, key_id_hex, public_key_b64;
  if (signer_ != nullptr) {
    auto signed_body = signer_->Sign(body);
    if (!signed_body.ok()) {
      return Status::Unavailable("cannot sign the seal (" + std::string(signer_->kind()) +
                                 "): " + signed_body.status().message());
    }
    const std::string& sig = *signed_body;
    note += signer_->SignatureLine(sig);
    signature_b64 = Base64Encode(sig);
    key_id_hex = HexEncode(signer_->key_id());
    public_key_b64 = signer_->public_key().ToBase64();
  }
  json::Value details = json::Value::MakeObject();
  details.Set("sealed_index", at.sealed_index);
  details.Set("last_entry_hash", *at.sealed_hash);
  details.Set("sealed_at", at.sealed_at);
  details.Set("tree_size", static_cast<int64_t>(at.tree->size()));
  details.Set("root_hash", root_b64);
  details.Set("previous_seal_hash", *at.previous_seal_hash);
  details.Set("checkpoint", note);
  details.Set("public_key", public_key_b64);
  details.Set("key_id", key_id_hex);
  details.Set("signature", signature_b64);
  const std::string details_canonical = json::Canonical(details);
  RecordFields f{index_text, at.sealed_at, kSealEventType, actor_, details_canonical,
                 *at.sealed_hash};
  std::string hash = EntryHash(f);
  AppendRecordLine(f, hash, out);
  info->segment = at.segment;
  info->index = at.seal_index;
  info->entry_hash = hash;
  info->tree_size = static_cast<int64_t>(at.tree->size());
  info->root_hash = root_b64;
  info->checkpoint = std::move(note);
  info->public_key = public_key_b64;
  info->sealed_at = at.sealed_at;
  info->previous_seal_hash = *at.previous_seal_hash;
  return hash;
}

}  // namespace vv::audit
