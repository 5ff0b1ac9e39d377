#include "common/encoding.h"
#include "verify/checks.h"

namespace vv::verify {

Verdict IdentityCheck::Run(RequestContext& ctx) const {
  auto id = ctx.Header("x-service-identity");
  if (!id || id->empty())
    return Verdict::Reject(Reason::kMissingIdentityHeader, 401,
                           "Missing required header: X-Service-Identity");
  auto fp_header = ctx.Header("x-client-cert-sha256");
  std::string claimed;
  if (fp_header && !fp_header->empty()) {
    if (!IsHex(*fp_header, 64))
      return Verdict::Reject(Reason::kBadFingerprintFormat, 401,
                             "Invalid client certificate fingerprint format");
    claimed = ToLowerAscii(*fp_header);
  } else if (!cfg_->require_mtls && !ctx.peer_has_certificate) {
    // Insecure dev mode without a client certificate: the reference's header contract applies.
    return Verdict::Reject(Reason::kMissingCertHeader, 401,
                           "Missing required header: X-Client-Cert-Sha256");
  }
  const config::ServiceIdentity* identity = cfg_->FindIdentity(*id);
  if (identity == nullptr)
    return Verdict::Reject(Reason::kUnknownIdentity, 401, "Unknown service identity",
                           "identity=" + BoundedEcho(*id));
  ctx.identity = identity;
  // Kill switch (SD-03): a revoked identity is refused whatever it presents.
  if (cfg_->revoked_identities.count(identity->id) != 0)
    return Verdict::Reject(Reason::kIdentityRevoked, 403, "Service identity revoked",
                           "identity=" + identity->id + " revoked by the kill switch");

  static constexpr const char* kMismatch = "Service identity certificate fingerprint mismatch";
  if (!cfg_->require_mtls) {
    // Dev mode: any well-formed fingerprint (reference behaviour with REQUIRE_MTLS off).
    ctx.identity_authenticated = true;
    return Verdict::Pass();
  }
  if (!ctx.peer_has_certificate)
    return Verdict::Reject(Reason::kNoClientCertificate, 401, kMismatch,
                           "no verified client certificate on the connection");
  // Compare every pin (no early exit, so timing does not reveal which pin matched).
  bool pinned = false;
  for (const std::string& pin : identity->cert_sha256_pins)
    pinned |= ConstantTimeEquals(pin, ctx.peer_cert_sha256);
  if (!pinned)
    return Verdict::Reject(Reason::kCertPinMismatch, 401, kMismatch,
                           "presented certificate " + std::string(ctx.peer_cert_sha256) +
                               " is not pinned for identity " + identity->id);
  if (!claimed.empty() && !ConstantTimeEquals(claimed, ctx.peer_cert_sha256))
    return Verdict::Reject(Reason::kCertHeaderMismatch, 401, kMismatch,
                           "X-Client-Cert-Sha256 differs from the presented certificate");
  ctx.identity_authenticated = true;
  return Verdict::Pass();
}

}  // namespace vv::verify
