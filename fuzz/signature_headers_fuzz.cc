// libFuzzer target: header parsing of the telemetry verification chain (SignatureCheck).
// Input format (text-friendly, so seeds are readable): the first three '\n'-separated lines are
// the values of X-Telemetry-Timestamp, X-Telemetry-Nonce and X-Telemetry-Signature, everything
// after the third '\n' is the body. Fewer lines = the later headers are absent. Values are
// passed as-is (the context strips whitespace, like the HTTP layer).
// Fixed config: one identity "spectrastrike-producer" using the default key (wire-contract A.1
// public key), skew 30 s; fixed clock at 1772107200 (the A.2 timestamp).
// Invariants: never crashes; never passes (a fuzzed signature cannot verify - the seed corpus
// therefore holds no valid signature); every rejection is a signature-stage reason with status
// 401 and a non-empty client detail; a header-level rejection leaves the context unfilled.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/gateway_config.h"
#include "crypto/crypto.h"
#include "verify/check.h"
#include "verify/checks.h"

namespace {

constexpr int64_t kNowSeconds = 1772107200;
constexpr std::string_view kIdentity = "spectrastrike-producer";
constexpr std::string_view kPublicKeyB64 = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";

class FixedClock final : public vv::Clock {
 public:
  int64_t NowMicros() const override { return kNowSeconds * 1000000; }
  int64_t MonotonicMicros() const override { return kNowSeconds * 1000000; }
};

struct Fixture {
  FixedClock clock;
  vv::verify::ConfigPtr cfg;
  std::unique_ptr<vv::verify::SignatureCheck> check;
};

const Fixture& GetFixture() {
  static const Fixture* f = [] {
    auto* fx = new Fixture;
    auto cfg = std::make_shared<vv::config::GatewayConfig>();
    auto key = vv::crypto::Ed25519PublicKey::FromBase64(kPublicKeyB64);
    if (!key.ok()) std::abort();
    cfg->default_signing_keys.push_back({"kid-a1", *key});
    vv::config::ServiceIdentity id;
    id.id = std::string(kIdentity);
    id.cert_sha256_pins.push_back(std::string(64, 'a'));
    cfg->identities.push_back(std::move(id));
    fx->cfg = cfg;
    fx->check = std::make_unique<vv::verify::SignatureCheck>(fx->cfg, fx->clock);
    return fx;
  }();
  return *f;
}

[[noreturn]] void Fail(const char* what, const vv::verify::Verdict& v) {
  std::fprintf(stderr, "signature_headers_fuzz invariant violated: %s (reason=%s status=%d "
               "detail=%s internal=%s)\n", what, vv::verify::ReasonName(v.reason), v.http_status,
               v.detail.c_str(), v.internal_detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using vv::verify::Reason;
  const Fixture& fx = GetFixture();
  std::string_view in(reinterpret_cast<const char*>(data), size);

  static constexpr const char* kNames[] = {"x-telemetry-timestamp", "x-telemetry-nonce",
                                           "x-telemetry-signature"};
  std::vector<std::pair<std::string, std::string>> headers;
  headers.emplace_back("x-service-identity", std::string(kIdentity));
  std::string_view rest = in;
  bool have_body = false;
  for (const char* name : kNames) {
    size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) {
      if (!rest.empty()) headers.emplace_back(name, std::string(rest));
      rest = {};
      break;
    }
    headers.emplace_back(name, std::string(rest.substr(0, nl)));
    rest.remove_prefix(nl + 1);
    have_body = (name == kNames[2]);
  }
  std::string body(have_body ? rest : std::string_view());

  vv::verify::RequestContext ctx;
  ctx.headers = &headers;
  ctx.body = body;
  ctx.peer_has_certificate = true;
  ctx.identity = fx.cfg->FindIdentity(kIdentity);
  if (ctx.identity == nullptr) std::abort();

  vv::verify::Verdict v = fx.check->Run(ctx);
  if (v.ok()) Fail("a fuzzed signature verified", v);
  if (v.http_status != 401 || v.detail.empty()) Fail("unexpected status or empty detail", v);
  switch (v.reason) {
    case Reason::kMissingTimestampHeader:
    case Reason::kMissingNonceHeader:
    case Reason::kMissingSignatureHeader:
    case Reason::kSignatureNotBase64:
    case Reason::kTimestampNotInteger:
    case Reason::kTimestampSkew:
    case Reason::kSignatureEncoding:
      if (!ctx.nonce.empty() || !ctx.signing_kid.empty())
        Fail("header-level rejection filled the context", v);
      break;
    case Reason::kBadSignature:
      if (ctx.timestamp < kNowSeconds - fx.cfg->allowed_clock_skew_seconds ||
          ctx.timestamp > kNowSeconds + fx.cfg->allowed_clock_skew_seconds)
        Fail("signature checked for a timestamp outside the skew window", v);
      if (!ctx.signing_kid.empty()) Fail("signing_kid set on a bad signature", v);
      break;
    default:
      Fail("rejection reason outside the signature stage", v);
  }
  return 0;
}
