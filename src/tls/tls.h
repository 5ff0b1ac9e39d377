#pragma once
// TLS building blocks shared by the gateway listener and the producer client: server and
// client boost::asio::ssl::context construction (TLS 1.2 minimum, 1.3 preferred, mTLS, CRL)
// and peer-certificate inspection.
// Thread-safety: the builders are pure functions; a built context is immutable afterwards and
// may be shared by all connections/threads (OpenSSL SSL_CTX is thread-safe for that use).
// Ownership: the returned context is owned by the caller and must outlive every stream using it.

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "common/status.h"

namespace vv::tls {

struct ServerTlsOptions {
  std::string cert_path;  // server certificate chain (PEM, leaf first)
  std::string key_path;   // server private key (PEM)
  std::string ca_path;    // CA bundle used to verify client certificates (PEM)
  std::string crl_path;   // optional: CRL file (PEM, may hold several CRLs); enables CRL checks
  bool require_client_cert = true;
  int verify_depth = 2;
};

// Builds the server context: TLS >= 1.2, verify client chain against ca_path (and the CRLs when
// given: EVERY certificate of the chain below the trust anchor is checked, so a revoked
// intermediate CA fails the handshake as a revoked leaf does; each issuing CA then needs its
// CRL in crl_path), session cache + tickets on. Errors name the file.
Result<std::unique_ptr<boost::asio::ssl::context>> BuildServerContext(const ServerTlsOptions& o);

// Verifies a client certificate again, now, against a server context's trust store (CA, CRLs,
// validity period, client purpose, verify depth): for a resumed session (OpenSSL does not
// re-verify on resumption) and for open connections after a CRL reload. `untrusted` may be
// null. Returns PermissionDenied naming the X509 verify error.
Status VerifyClientCertificate(SSL_CTX* ctx, X509* leaf, STACK_OF(X509)* untrusted);

// Expiry facts of a server context, for the vv_gateway_tls_* metrics (unix seconds; 0 = none).
struct ContextExpiry {
  int64_t server_cert_not_after = 0;  // the server certificate
  int64_t ca_not_after = 0;           // the earliest-expiring trusted CA certificate
  int64_t crl_next_update = 0;        // the earliest nextUpdate among the loaded CRLs
};
ContextExpiry DescribeServerContext(SSL_CTX* ctx);
// The earliest notAfter (unix seconds) among the PEM certificates in `pem_path` (e.g. a
// backend's CA bundle: nats_tls_ca_path, redis_tls_ca_path). Error when the file cannot be
// read or holds no certificate.
Result<int64_t> EarliestCertificateExpiry(const std::string& pem_path);

struct ClientTlsOptions {
  std::string ca_path;    // trust anchors for the server certificate (empty: system default)
  std::string cert_path;  // optional client certificate chain (PEM)
  std::string key_path;   // optional client private key (PEM)
  bool verify_peer = true;
};

// Builds a client context: TLS >= 1.2, verifies the server chain when verify_peer, loads the
// client certificate/key when both paths are non-empty.
Result<std::unique_ptr<boost::asio::ssl::context>> BuildClientContext(const ClientTlsOptions& o);

// Facts about the peer of an established connection.
struct PeerCertificate {
  bool present = false;   // the peer sent a certificate
  bool verified = false;  // ... and its chain verified (SSL_get_verify_result == X509_V_OK)
  std::string sha256_hex; // SHA-256 of the leaf DER, lowercase hex ("" when absent)
  std::string subject;    // one-line subject ("" when absent)
};
PeerCertificate InspectPeer(SSL* ssl);

// SHA-256 (lowercase hex) of a certificate's DER encoding; "" if x is null or not encodable.
std::string CertSha256Hex(X509* x);
// SHA-256 of the leaf certificate the client presented on this connection, recorded during
// verification (so also after a refused handshake); "" when none was presented.
std::string PresentedLeafSha256(SSL* ssl);

// Text of the last OpenSSL error(s) on this thread's queue (drains the queue).
std::string DrainOpenSslErrors();

}  // namespace vv::tls
