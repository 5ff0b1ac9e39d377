#include "evidence/aead.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <memory>

namespace vv::evidence {

namespace {

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

const EVP_CIPHER* GcmFor(size_t key_len) {
  switch (key_len) {
    case 16:
      return EVP_aes_128_gcm();
    case 24:
      return EVP_aes_192_gcm();
    case 32:
      return EVP_aes_256_gcm();
    default:
      return nullptr;
  }
}

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Starts an AES-GCM context for `key` and `iv` (encrypt or decrypt) and feeds the AAD.
Result<CipherCtx> StartGcm(std::string_view key, std::string_view iv, std::string_view aad,
                           bool encrypt) {
  const EVP_CIPHER* cipher = GcmFor(key.size());
  if (cipher == nullptr) return Status::InvalidArgument("AES-GCM key must be 16, 24 or 32 bytes");
  // OpenSSL 3's provider caps GCM IVs at 128 bytes; we only ever use 12.
  if (iv.empty() || iv.size() > kMaxGcmIvBytes)
    return Status::InvalidArgument("AES-GCM IV must be 1..128 bytes");
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return Status::Internal("EVP_CIPHER_CTX_new failed");
  auto init = encrypt ? EVP_EncryptInit_ex : EVP_DecryptInit_ex;
  if (init(ctx.get(), cipher, nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()),
                          nullptr) != 1 ||
      init(ctx.get(), nullptr, nullptr, U(key), U(iv)) != 1) {
    return Status::Internal("AES-GCM init failed");
  }
  if (!aad.empty()) {
    int outl = 0;
    auto update = encrypt ? EVP_EncryptUpdate : EVP_DecryptUpdate;
    if (update(ctx.get(), nullptr, &outl, U(aad), static_cast<int>(aad.size())) != 1)
      return Status::Internal("AES-GCM AAD failed");
  }
  return ctx;
}

}  // namespace

Result<std::string> HkdfSha256(std::string_view ikm, std::string_view salt, std::string_view info,
                               size_t length) {
  if (length == 0 || length > 255 * 32)
    return Status::InvalidArgument("HKDF-SHA256 output length must be 1..8160");
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) return Status::Internal("HKDF not available");
  EVP_KDF_CTX* kctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (kctx == nullptr) return Status::Internal("EVP_KDF_CTX_new failed");
  // OpenSSL refuses an empty key; HKDF with an empty IKM is HMAC(salt, "") and legal, so
  // fall back to the explicit extract-then-expand construction in that case.
  std::string out(length, '\0');
  bool ok = false;
  if (!ikm.empty()) {
    OSSL_PARAM params[5];
    int n = 0;
    char digest[] = "SHA256";
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                    const_cast<char*>(ikm.data()), ikm.size());
    if (!salt.empty())
      params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                      const_cast<char*>(salt.data()), salt.size());
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                    const_cast<char*>(info.data()), info.size());
    params[n] = OSSL_PARAM_construct_end();
    ok =
        EVP_KDF_derive(kctx, reinterpret_cast<unsigned char*>(out.data()), out.size(), params) == 1;
  }
  EVP_KDF_CTX_free(kctx);
  if (ikm.empty()) {
    std::string zero_salt(32, '\0');
    VV_ASSIGN_OR_RETURN(auto prk,
                        HmacSha256(salt.empty() ? std::string_view(zero_salt) : salt, ikm));
    std::string t, okm;
    for (unsigned char i = 1; okm.size() < length; ++i) {
      std::string block = t;
      block.append(info);
      block.push_back(static_cast<char>(i));
      VV_ASSIGN_OR_RETURN(auto next, HmacSha256(prk, block));
      t = next;
      okm += t;
    }
    okm.resize(length);
    std::string p = prk;
    Wipe(&p);
    return okm;
  }
  if (!ok) return Status::Internal("HKDF-SHA256 derive failed");
  return out;
}

Result<std::string> HmacSha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  static const unsigned char kEmpty = 0;
  const unsigned char* k = key.empty() ? &kEmpty : U(key);
  if (HMAC(EVP_sha256(), k, static_cast<int>(key.size()), U(data), data.size(), md, &md_len) ==
      nullptr)
    return Status::Internal("HMAC-SHA256 failed");
  return std::string(reinterpret_cast<char*>(md), md_len);
}

Result<std::string> AesGcmSeal(std::string_view key, std::string_view iv, std::string_view aad,
                               std::string_view plaintext) {
  VV_ASSIGN_OR_RETURN(auto ctx, StartGcm(key, iv, aad, /*encrypt=*/true));
  std::string out(plaintext.size() + kGcmTagBytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  int len = 0, fin = 0;
  if (!plaintext.empty() &&
      EVP_EncryptUpdate(ctx.get(), o, &len, U(plaintext), static_cast<int>(plaintext.size())) != 1)
    return Status::Internal("AES-GCM encrypt failed");
  if (EVP_EncryptFinal_ex(ctx.get(), o + len, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTagBytes, o + plaintext.size()) !=
          1)
    return Status::Internal("AES-GCM finalise failed");
  return out;
}

Result<std::string> AesGcmOpen(std::string_view key, std::string_view iv, std::string_view aad,
                               std::string_view ciphertext_and_tag) {
  if (ciphertext_and_tag.size() < kGcmTagBytes)
    return Status::InvalidArgument("AES-GCM input shorter than the tag");
  VV_ASSIGN_OR_RETURN(auto ctx, StartGcm(key, iv, aad, /*encrypt=*/false));
  size_t ct_len = ciphertext_and_tag.size() - kGcmTagBytes;
  std::string out(ct_len, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  int len = 0, fin = 0;
  if (ct_len > 0 &&
      EVP_DecryptUpdate(ctx.get(), o, &len, U(ciphertext_and_tag), static_cast<int>(ct_len)) != 1)
    return Status::Internal("AES-GCM decrypt failed");
  std::string tag(ciphertext_and_tag.substr(ct_len));
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagBytes, tag.data()) != 1)
    return Status::Internal("AES-GCM set tag failed");
  if (EVP_DecryptFinal_ex(ctx.get(), o + len, &fin) != 1) {
    Wipe(&out);
    return Status::DataLoss("AES-GCM authentication failed");
  }
  return out;
}

}  // namespace vv::evidence
