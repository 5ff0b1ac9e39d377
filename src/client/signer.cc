#include "spectrastrike/signer.h"

#include "client/status_bridge.h"
#include "common/encoding.h"
#include "crypto/crypto.h"

namespace spectrastrike {

class RequestSigner::Impl {
 public:
  explicit Impl(vv::crypto::Ed25519PrivateKey key) : key_(std::move(key)) {}
  const vv::crypto::Ed25519PrivateKey& key() const { return key_; }

 private:
  vv::crypto::Ed25519PrivateKey key_;
};

std::vector<std::pair<std::string, std::string>> SignedHeaders::ToHeaders() const {
  return {{"X-Telemetry-Timestamp", timestamp},
          {"X-Telemetry-Nonce", nonce},
          {"X-Telemetry-Signature", signature}};
}

Result<RequestSigner> RequestSigner::FromSeed(std::string_view seed32) {
  auto key = vv::crypto::Ed25519PrivateKey::FromSeed(seed32);
  if (!key.ok()) return Public(key.status());
  return RequestSigner(std::make_unique<Impl>(std::move(key).value()));
}

Result<RequestSigner> RequestSigner::FromKeyFile(const std::string& path, bool check_permissions) {
  auto key = vv::crypto::Ed25519PrivateKey::LoadFile(path, check_permissions);
  if (!key.ok()) return Public(key.status());
  return RequestSigner(std::make_unique<Impl>(std::move(key).value()));
}

RequestSigner::RequestSigner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RequestSigner::RequestSigner(RequestSigner&&) noexcept = default;
RequestSigner& RequestSigner::operator=(RequestSigner&&) noexcept = default;
RequestSigner::~RequestSigner() = default;

std::string RequestSigner::SignatureB64(int64_t ts, const std::string& nonce,
                                        const std::string& body) const {
  std::string message = std::to_string(ts);
  message.reserve(message.size() + nonce.size() + body.size() + 2);
  message.push_back('.');
  message.append(nonce);
  message.push_back('.');
  message.append(body);
  return vv::Base64Encode(impl_->key().Sign(message));
}

std::string RequestSigner::SignMessageB64(std::string_view message) const {
  return vv::Base64Encode(impl_->key().Sign(message));
}

SignedHeaders RequestSigner::Sign(int64_t ts, const std::string& nonce,
                                  const std::string& body) const {
  return SignedHeaders{std::to_string(ts), nonce, SignatureB64(ts, nonce, body)};
}

std::string RequestSigner::PublicKeyB64() const { return impl_->key().PublicKey().ToBase64(); }

}  // namespace spectrastrike
