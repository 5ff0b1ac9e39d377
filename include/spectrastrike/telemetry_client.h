#pragma once
// SpectraStrike SDK: signed calls to the VectorVue gateway (wire contract section 1.1).
//
// TelemetryClient adds the identity and signature headers to a pre-serialised JSON body and
// POSTs it over an HttpsClient: X-Service-Identity, X-Client-Cert-Sha256 (only when a
// fingerprint is configured: our gateway takes the real one from the TLS session),
// X-Telemetry-Timestamp, X-Telemetry-Nonce, X-Telemetry-Signature, Content-Type:
// application/json (+ Idempotency-Key when given). The body is sent byte for byte as signed.
// Thread-safety: as HttpsClient (one per thread). Ownership: borrows the signer and the
// client; both must outlive the TelemetryClient.

#include <cstdint>
#include <string>

#include "spectrastrike/https_client.h"
#include "spectrastrike/signer.h"

namespace spectrastrike {

inline constexpr char kTelemetryPath[] = "/internal/v1/telemetry";

class TelemetryClient {
 public:
  // cert_sha256: optional client-certificate fingerprint (hex, any case, colons allowed);
  // empty = do not send X-Client-Cert-Sha256.
  TelemetryClient(std::string service_identity, std::string cert_sha256, const RequestSigner& signer,
                  HttpsClient& http);

  // POST /internal/v1/telemetry.
  HttpResponse SendTelemetry(int64_t timestamp, const std::string& nonce, const std::string& body,
                             const std::string& idempotency_key = "");
  // Any signed endpoint (execution-graph, feedback query ...).
  HttpResponse PostSigned(const std::string& target, int64_t timestamp, const std::string& nonce,
                          const std::string& body, const HeaderList& extra_headers = {});
  // The header list PostSigned sends (exposed for tests and tooling).
  HeaderList BuildHeaders(int64_t timestamp, const std::string& nonce, const std::string& body) const;

 private:
  std::string service_identity_;
  std::string cert_sha256_;  // normalised: lowercase, no colons, may be empty
  const RequestSigner& signer_;
  HttpsClient& http_;
};

}  // namespace spectrastrike
