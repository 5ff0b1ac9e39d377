// vv-demo-producer: the README demo's producer. Sends four real signed telemetry events over
// mTLS through the SpectraStrike producer library and prints each outcome:
//   1. a valid event            -> 202 (queued, audited)
//   2. the same bytes replayed  -> 409 Replay detected
//   3. a forged signature       -> 401 Invalid telemetry signature
//   4. a cross-tenant event     -> 403 Operator tenant mapping violation
// Exit status (tools/cli/cli.h): 0 only when every outcome is the expected one, 1 otherwise,
// 2 on a usage or configuration error (bad signing key).

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>

#include "cli/cli.h"
#include "common/clock.h"
#include "demo_event.h"
#include "crypto/crypto.h"
#include "json/json.h"
#include "spectrastrike/https_client.h"
#include "spectrastrike/signer.h"
#include "spectrastrike/telemetry_client.h"

namespace {

vv::json::Value Event(int64_t ts, const std::string& nonce, const std::string& event_id,
                      const std::string& tenant) {
  return vv::tools::DemoTelemetryRequest(
      ts, nonce, event_id, tenant, "Observed suspicious process chain <powershell -enc ...>");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"README demo producer"};
  vv::cli::Setup(cli, {"vv-demo-producer",
                       "  vv-demo-producer --port 8443 --ca ca.crt --cert producer.crt \\\n"
                       "      --key producer.key --signing-key producer_ed25519.key",
                       "  1: at least one outcome differed from the expected one."});
  std::string host = "127.0.0.1", ca, cert, key, signing_key, identity = "spectrastrike-producer";
  std::string tenant = "10000000-0000-0000-0000-000000000001";
  std::string other_tenant = "20000000-0000-0000-0000-000000000002";
  uint16_t port = 8443;
  cli.add_option("--host", host);
  cli.add_option("--port", port)->required();
  cli.add_option("--ca", ca)->required();
  cli.add_option("--cert", cert)->required();
  cli.add_option("--key", key)->required();
  cli.add_option("--signing-key", signing_key, "Ed25519 private key (PEM or raw seed, 0600)")
      ->required();
  cli.add_option("--identity", identity);
  bool json = false;
  cli.add_flag("--json", json, "one JSON object with every outcome instead of the text lines");
  if (int rc = vv::cli::Parse(cli, argc, argv); rc >= 0) return rc;

  auto signer = spectrastrike::RequestSigner::FromKeyFile(signing_key);
  if (!signer.ok()) {
    return vv::cli::Error("vv-demo-producer", "signing key: " + signer.status().message(),
                          "give --signing-key an Ed25519 key file with mode 0400 or 0600");
  }
  auto forger = spectrastrike::RequestSigner::FromSeed(
      vv::crypto::Ed25519PrivateKey::Generate().Seed());
  spectrastrike::TlsClientConfig tls;
  tls.ca_path = ca;
  tls.cert_path = cert;
  tls.key_path = key;
  tls.server_name = "localhost";
  spectrastrike::HttpsClient http(host, port, tls);
  spectrastrike::TelemetryClient client(identity, "", *signer, http);
  spectrastrike::TelemetryClient forged_client(identity, "", *forger, http);

  vv::SystemRandom random;
  int64_t now = vv::SystemClock().NowSeconds();
  auto nonce = [&] { return random.TokenUrlSafe(18); };
  std::string event_id = "evt-demo-" + random.TokenUrlSafe(6);
  int failures = 0;
  vv::json::Value results = vv::json::Value::MakeArray();
  auto show = [&](const char* what, int expect, const spectrastrike::HttpResponse& r) {
    bool ok = r.transport_ok && r.status == expect;
    failures += !ok;
    if (json) {
      vv::json::Value v = vv::json::Value::MakeObject();
      v.Set("check", what);
      v.Set("expected", expect);
      v.Set("ok", ok);
      if (r.transport_ok) v.Set("status", r.status);
      else v.Set("error", r.error);
      results.Push(std::move(v));
      return;
    }
    std::cout << (ok ? "  ok   " : "  FAIL ") << what << ": ";
    if (!r.transport_ok) std::cout << "transport error: " << r.error << "\n";
    else std::cout << r.status << " " << r.body << "\n";
  };

  std::string n1 = nonce();
  std::string body = vv::json::Canonical(Event(now, n1, event_id, tenant));
  show("valid signed event        (expect 202)", 202, client.SendTelemetry(now, n1, body));
  show("same bytes replayed       (expect 409)", 409, client.SendTelemetry(now, n1, body));
  std::string n3 = nonce();
  show("forged signature          (expect 401)", 401,
       forged_client.SendTelemetry(now, n3, vv::json::Canonical(Event(now, n3, event_id + "-f", tenant))));
  std::string n4 = nonce();
  show("cross-tenant injection    (expect 403)", 403,
       client.SendTelemetry(now, n4, vv::json::Canonical(Event(now, n4, event_id + "-x", other_tenant))));
  if (json) {
    vv::json::Value out = vv::json::Value::MakeObject();
    out.Set("ok", failures == 0);
    out.Set("results", std::move(results));
    std::cout << vv::json::Canonical(out) << std::endl;
  }
  return failures == 0 ? vv::cli::kExitOk : vv::cli::kExitFailed;
}
