// What one audit seal signature costs: an Ed25519 key held in the process (key file) against
// the same signature made inside a PKCS#11 token (SoftHSM2, CKM_EDDSA), measured in the same
// run. The seal is signed under the audit log's lock, every audit_seal_every entries, so the
// ratio tells how much a seal in the HSM stalls appends compared with a key file.
//
//   build/bin/seal_sign_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
// The PKCS#11 case creates a throwaway SoftHSM2 token in /tmp (softhsm2-util); it is skipped
// when SoftHSM2 is not installed.

#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "audit/checkpoint.h"
#include "audit/pkcs11_seal_signer.h"
#include "crypto/crypto.h"

namespace {

using namespace vv;

// A checkpoint body of the size the log signs.
const std::string& Body() {
  static const std::string body =
      "vectorvue.local/audit-log\n1000000\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
  return body;
}

void BM_SealSignKeyFile(benchmark::State& state) {
  audit::CheckpointSigner signer("vectorvue.local/audit-log",
                                 crypto::Ed25519PrivateKey::Generate());
  for (auto _ : state) benchmark::DoNotOptimize(signer.Sign(Body()));
}
BENCHMARK(BM_SealSignKeyFile);

// A fresh token in a temp dir with one Ed25519 seal key pair; nullptr when unavailable.
std::unique_ptr<audit::Pkcs11SealSigner> MakeTokenSigner(std::string* why) {
  const char* module = pkcs11::kDefaultModule;
  if (access(module, R_OK) != 0 || access("/usr/bin/softhsm2-util", X_OK) != 0) {
    *why = "SoftHSM2 not installed";
    return nullptr;
  }
  const std::string dir = "/tmp/vv-seal-bench-" + std::to_string(getpid());
  std::filesystem::create_directories(dir + "/tokens");
  const std::string conf = dir + "/softhsm2.conf";
  std::ofstream(conf) << "directories.tokendir = " << dir << "/tokens\n"
                      << "objectstore.backend = file\nlog.level = ERROR\n";
  setenv("SOFTHSM2_CONF", conf.c_str(), 1);
  const std::string init = "/usr/bin/softhsm2-util --init-token --free --label vv-bench "
                           "--so-pin 5678 --pin 1234 >/dev/null 2>&1";
  if (std::system(init.c_str()) != 0) {
    *why = "softhsm2-util --init-token failed";
    return nullptr;
  }
  pkcs11::TokenOptions o;
  o.module_path = module;
  o.token_label = "vv-bench";
  o.pin = "1234";
  auto admin = pkcs11::Token::Open(o);
  if (!admin.ok()) {
    *why = admin.status().ToString();
    return nullptr;
  }
  auto pub = audit::Pkcs11SealSigner::GenerateKeyPair(**admin, "bench-seal");
  if (!pub.ok()) {
    *why = pub.status().ToString();
    return nullptr;
  }
  auto signer = audit::Pkcs11SealSigner::Open("vectorvue.local/audit-log", std::move(*admin),
                                              "bench-seal");
  if (!signer.ok()) {
    *why = signer.status().ToString();
    return nullptr;
  }
  return std::move(signer).value();
}

void BM_SealSignPkcs11(benchmark::State& state) {
  std::string why;
  static std::unique_ptr<audit::Pkcs11SealSigner> signer = MakeTokenSigner(&why);
  if (signer == nullptr) {
    state.SkipWithError(why.c_str());
    return;
  }
  for (auto _ : state) {
    auto sig = signer->Sign(Body());
    if (!sig.ok()) {
      state.SkipWithError(sig.status().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(sig);
  }
}
BENCHMARK(BM_SealSignPkcs11);

}  // namespace

BENCHMARK_MAIN();
