#include "spectrastrike/telemetry_client.h"

#include "common/encoding.h"

namespace spectrastrike {
namespace {
std::string NormaliseFingerprint(std::string_view fp) {
  std::string out;
  for (char c : vv::StripAsciiWhitespace(fp)) {
    if (c != ':') out.push_back(c);
  }
  return vv::ToLowerAscii(out);
}
}  // namespace

TelemetryClient::TelemetryClient(std::string service_identity, std::string cert_sha256,
                                 const RequestSigner& signer, HttpsClient& http)
    : service_identity_(std::move(service_identity)),
      cert_sha256_(NormaliseFingerprint(cert_sha256)),
      signer_(signer),
      http_(http) {}

HeaderList TelemetryClient::BuildHeaders(int64_t timestamp, const std::string& nonce,
                                         const std::string& body) const {
  HeaderList h;
  h.reserve(7);
  h.emplace_back("Content-Type", "application/json");
  h.emplace_back("X-Service-Identity", service_identity_);
  if (!cert_sha256_.empty()) h.emplace_back("X-Client-Cert-Sha256", cert_sha256_);
  SignedHeaders s = signer_.Sign(timestamp, nonce, body);
  h.emplace_back("X-Telemetry-Timestamp", std::move(s.timestamp));
  h.emplace_back("X-Telemetry-Nonce", std::move(s.nonce));
  h.emplace_back("X-Telemetry-Signature", std::move(s.signature));
  return h;
}

HttpResponse TelemetryClient::PostSigned(const std::string& target, int64_t timestamp,
                                         const std::string& nonce, const std::string& body,
                                         const HeaderList& extra_headers) {
  HeaderList h = BuildHeaders(timestamp, nonce, body);
  h.insert(h.end(), extra_headers.begin(), extra_headers.end());
  return http_.Post(target, h, body);
}

HttpResponse TelemetryClient::SendTelemetry(int64_t timestamp, const std::string& nonce,
                                            const std::string& body,
                                            const std::string& idempotency_key) {
  HeaderList extra;
  if (!idempotency_key.empty()) extra.emplace_back("Idempotency-Key", idempotency_key);
  return PostSigned(kTelemetryPath, timestamp, nonce, body, extra);
}

}  // namespace spectrastrike
