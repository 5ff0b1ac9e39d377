#include "tls/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <ctime>
#include <filesystem>
#include <string_view>

#include "crypto/crypto.h"

namespace vv::tls {
namespace {

namespace ssl = boost::asio::ssl;

constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr unsigned char kSessionIdContext[] = "vectorvue-gateway";

Status CheckReadable(const std::string& what, const std::string& path) {
  if (path.empty()) return Status::InvalidArgument(what + " path is empty");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::NotFound(what + " file not found: " + path);
  }
  return Status::Ok();
}

Status Fail(const std::string& what, const std::string& path) {
  return Status::InvalidArgument("cannot load " + what + " " + path + ": " + DrainOpenSslErrors());
}

// Common hardening for both sides.
Status ApplyBaseline(SSL_CTX* ctx) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
    return Status::Internal("cannot set TLS protocol range: " + DrainOpenSslErrors());
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    return Status::Internal("cannot set TLS 1.2 ciphers: " + DrainOpenSslErrors());
  }
  return Status::Ok();
}

Status LoadCertAndKey(SSL_CTX* ctx, const std::string& cert_path, const std::string& key_path) {
  VV_RETURN_IF_ERROR(CheckReadable("certificate", cert_path));
  VV_RETURN_IF_ERROR(CheckReadable("private key", key_path));
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_path.c_str()) != 1) {
    return Fail("certificate", cert_path);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Fail("private key", key_path);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Status::InvalidArgument("private key " + key_path + " does not match certificate " +
                                   cert_path + ": " + DrainOpenSslErrors());
  }
  return Status::Ok();
}

Result<std::unique_ptr<ssl::context>> NewContext(ssl::context::method m) {
  try {
    return std::make_unique<ssl::context>(m);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("cannot create TLS context: ") + e.what());
  }
}

}  // namespace

std::string DrainOpenSslErrors() {
  std::string out;
  unsigned long e;
  char buf[256];
  while ((e = ERR_get_error()) != 0) {
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

namespace {
// ex_data slot holding the SHA-256 of the leaf certificate the client presented, recorded
// during verification so that a REFUSED handshake can still be attributed (audit) - OpenSSL
// does not keep the peer certificate of a failed handshake.
int LeafSlot() {
  static const int idx = SSL_get_ex_new_index(
      0, nullptr, nullptr, nullptr,
      [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
        delete static_cast<std::string*>(ptr);
      });
  return idx;
}

int RememberLeafCallback(int preverified, X509_STORE_CTX* store) {
  if (X509_STORE_CTX_get_error_depth(store) == 0) {
    SSL* ssl = static_cast<SSL*>(
        X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    X509* leaf = X509_STORE_CTX_get_current_cert(store);
    if (ssl != nullptr && leaf != nullptr && SSL_get_ex_data(ssl, LeafSlot()) == nullptr)
      SSL_set_ex_data(ssl, LeafSlot(), new std::string(CertSha256Hex(leaf)));
  }
  return preverified;  // the decision stays OpenSSL's
}
}  // namespace

std::string PresentedLeafSha256(SSL* ssl) {
  auto* s = static_cast<std::string*>(SSL_get_ex_data(ssl, LeafSlot()));
  return s ? *s : std::string();
}

Result<std::unique_ptr<ssl::context>> BuildServerContext(const ServerTlsOptions& o) {
  ERR_clear_error();
  VV_ASSIGN_OR_RETURN(std::unique_ptr<ssl::context> ctx, NewContext(ssl::context::tls_server));
  SSL_CTX* c = ctx->native_handle();
  VV_RETURN_IF_ERROR(ApplyBaseline(c));
  VV_RETURN_IF_ERROR(LoadCertAndKey(c, o.cert_path, o.key_path));

  // Client verification.
  VV_RETURN_IF_ERROR(CheckReadable("CA", o.ca_path));
  if (SSL_CTX_load_verify_locations(c, o.ca_path.c_str(), nullptr) != 1) {
    return Fail("CA", o.ca_path);
  }
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca_path.c_str())) {
    SSL_CTX_set_client_CA_list(c, names);  // takes ownership
  }
  ERR_clear_error();
  if (!o.crl_path.empty()) {
    VV_RETURN_IF_ERROR(CheckReadable("CRL", o.crl_path));
    X509_STORE* store = SSL_CTX_get_cert_store(c);
    X509_LOOKUP* lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
    if (lookup == nullptr || X509_load_crl_file(lookup, o.crl_path.c_str(), X509_FILETYPE_PEM) <= 0) {
      return Fail("CRL", o.crl_path);
    }
    // CRL_CHECK_ALL: the whole chain, not only the leaf (issue 12 item 6).
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }
  int mode = SSL_VERIFY_PEER;
  if (o.require_client_cert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(c, mode, RememberLeafCallback);
  SSL_CTX_set_verify_depth(c, o.verify_depth);

  // Resumption: server-side session cache + (default-on) stateless tickets. A session id
  // context is mandatory for resumption when client certificates are verified. OpenSSL does not
  // verify the client certificate again on resumption, so the server does it after every
  // resumed handshake (VerifyClientCertificate: validity and the CRL in force); a reload builds
  // a new context, whose empty cache and fresh ticket keys refuse the old sessions.
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
  SSL_CTX_set_session_id_context(c, kSessionIdContext, sizeof(kSessionIdContext) - 1);
  SSL_CTX_set_timeout(c, 3600);
  return ctx;
}

Result<std::unique_ptr<ssl::context>> BuildClientContext(const ClientTlsOptions& o) {
  ERR_clear_error();
  VV_ASSIGN_OR_RETURN(std::unique_ptr<ssl::context> ctx, NewContext(ssl::context::tls_client));
  SSL_CTX* c = ctx->native_handle();
  VV_RETURN_IF_ERROR(ApplyBaseline(c));
  if (o.verify_peer) {
    if (o.ca_path.empty()) {
      if (SSL_CTX_set_default_verify_paths(c) != 1) {
        return Status::Internal("cannot load default CA paths: " + DrainOpenSslErrors());
      }
    } else {
      VV_RETURN_IF_ERROR(CheckReadable("CA", o.ca_path));
      if (SSL_CTX_load_verify_locations(c, o.ca_path.c_str(), nullptr) != 1) {
        return Fail("CA", o.ca_path);
      }
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
  }
  if (!o.cert_path.empty() || !o.key_path.empty()) {
    VV_RETURN_IF_ERROR(LoadCertAndKey(c, o.cert_path, o.key_path));
  }
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  return ctx;
}

std::string CertSha256Hex(X509* x) {
  if (x == nullptr) return "";
  unsigned char* der = nullptr;
  int len = i2d_X509(x, &der);
  if (len <= 0 || der == nullptr) return "";
  std::string out = crypto::CertificateFingerprintFromDer(
      std::string_view(reinterpret_cast<const char*>(der), static_cast<size_t>(len)));
  OPENSSL_free(der);
  return out;
}

Status VerifyClientCertificate(SSL_CTX* ctx, X509* leaf, STACK_OF(X509)* untrusted) {
  if (ctx == nullptr || leaf == nullptr) return Status::PermissionDenied("no client certificate");
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  X509_STORE_CTX* sc = X509_STORE_CTX_new();
  if (sc == nullptr) return Status::Internal("out of memory");
  Status out = Status::Ok();
  if (X509_STORE_CTX_init(sc, store, leaf, untrusted) != 1) {
    out = Status::Internal("cannot verify client certificate: " + DrainOpenSslErrors());
  } else {
    // The same purpose and depth as the handshake's verification.
    X509_STORE_CTX_set_default(sc, "ssl_client");
    X509_VERIFY_PARAM_set_depth(X509_STORE_CTX_get0_param(sc), SSL_CTX_get_verify_depth(ctx));
    if (X509_verify_cert(sc) != 1) {
      int err = X509_STORE_CTX_get_error(sc);
      out = Status::PermissionDenied(std::string("client certificate no longer verifies: ") +
                                     X509_verify_cert_error_string(err));
    }
  }
  X509_STORE_CTX_free(sc);
  ERR_clear_error();
  return out;
}

namespace {
int64_t ToUnix(const ASN1_TIME* t) {
  if (t == nullptr) return 0;
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}
void KeepEarliest(int64_t v, int64_t* out) {
  if (v != 0 && (*out == 0 || v < *out)) *out = v;
}
}  // namespace

ContextExpiry DescribeServerContext(SSL_CTX* ctx) {
  ContextExpiry e;
  if (ctx == nullptr) return e;
  if (X509* cert = SSL_CTX_get0_certificate(ctx)) e.server_cert_not_after = ToUnix(X509_get0_notAfter(cert));
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  if (store == nullptr) return e;
  STACK_OF(X509_OBJECT)* objs = X509_STORE_get0_objects(store);
  for (int i = 0; i < sk_X509_OBJECT_num(objs); ++i) {
    X509_OBJECT* o = sk_X509_OBJECT_value(objs, i);
    if (X509* x = X509_OBJECT_get0_X509(o)) {
      KeepEarliest(ToUnix(X509_get0_notAfter(x)), &e.ca_not_after);
    } else if (X509_CRL* crl = X509_OBJECT_get0_X509_CRL(o)) {
      KeepEarliest(ToUnix(X509_CRL_get0_nextUpdate(crl)), &e.crl_next_update);
    }
  }
  return e;
}

Result<int64_t> EarliestCertificateExpiry(const std::string& pem_path) {
  VV_ASSIGN_OR_RETURN(auto bytes, crypto::ReadFileBytes(pem_path));
  BIO* bio = BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size()));
  if (bio == nullptr) return Status::Internal("out of memory");
  int64_t earliest = 0;
  while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    KeepEarliest(ToUnix(X509_get0_notAfter(x)), &earliest);
    X509_free(x);
  }
  BIO_free(bio);
  ERR_clear_error();  // the end of the PEM stream reads as an error
  if (earliest == 0) return Status::InvalidArgument(pem_path + ": no PEM certificate");
  return earliest;
}

PeerCertificate InspectPeer(SSL* ssl) {
  PeerCertificate p;
  if (ssl == nullptr) return p;
  X509* x = SSL_get0_peer_certificate(ssl);
  if (x == nullptr) return p;
  p.present = true;
  p.verified = SSL_get_verify_result(ssl) == X509_V_OK;
  p.sha256_hex = CertSha256Hex(x);
  if (X509_NAME* name = X509_get_subject_name(x)) {
    char buf[512];
    if (X509_NAME_oneline(name, buf, sizeof(buf)) != nullptr) p.subject = buf;
  }
  return p;
}

}  // namespace vv::tls
