// vv-evidence: operator tool for the evidence store (same config file as vv-engine).
//   vv-evidence list   --config FILE --tenant T [--limit N] [--after-seq S]
//   vv-evidence show   --config FILE --tenant T --event-id E
//   vv-evidence rewrap --config FILE --tenant T [--to-key K]   (default: the active key)
//   vv-evidence pkcs11-keygen --config FILE --key-id K            (new root key in the token)
//   vv-evidence init-postgres --admin-url URL --owner-role R --app-role A
//   vv-evidence init-postgres-graphs --admin-url URL --owner-role R --app-role A
// list/show decrypt with the configured root key provider and print JSON to stdout: records
// with their metadata, the decrypted payload and whether SHA-256(plaintext) still equals the
// recorded integrity hash. Exit status (tools/cli/cli.h, docs/cli.md): 0 ok, 1 not found /
// failure, 2 usage or configuration error, 3 a record does not decrypt or its integrity hash
// does not match (verification failed). --config is accepted before or after the subcommand.

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/cli.h"
#include "cognitive/postgres_graph_store.h"

#include "common/clock.h"
#include "config/engine_config.h"
#include "crypto/crypto.h"
#include "engine/wiring.h"
#include "evidence/evidence_cipher.h"
#include "evidence/pkcs11_root_key_provider.h"
#include "evidence/postgres_evidence_store.h"
#include "json/json.h"

namespace {

using vv::json::Value;

Value RecordJson(const vv::evidence::EvidenceRecord& r, const vv::evidence::EvidenceCipher& cipher,
                 bool* all_ok) {
  Value v = Value::MakeObject();
  v.Set("seq", r.seq);
  v.Set("tenant_id", r.tenant_id);
  v.Set("event_id", r.event_id);
  v.Set("message_id", r.message_id);
  v.Set("integrity_hash", r.integrity_hash);
  v.Set("key_id", r.key_id);
  v.Set("created_at", r.created_at);
  v.Set("stored_at", vv::IsoFormatUtcMicros(r.stored_at_micros));
  auto env = vv::evidence::ParseEnvelopeJson(r.envelope_json);
  if (!env.ok()) {
    v.Set("error", env.status().message());
    *all_ok = false;
    return v;
  }
  v.Set("envelope_version", env->version);
  auto pt = cipher.Decrypt(r.tenant_id, *env);
  if (!pt.ok()) {
    v.Set("error", pt.status().ToString());
    *all_ok = false;
    return v;
  }
  const bool integrity_ok = vv::crypto::Sha256Hex(*pt) == r.integrity_hash;
  v.Set("integrity_ok", integrity_ok);
  if (!integrity_ok) *all_ok = false;
  auto payload = vv::json::Parse(*pt);
  v.Set("payload", payload.ok() ? std::move(payload).value() : Value(*pt));
  return v;
}

bool g_json = false;

// stderr names the problem (and the fix); with --json also {"ok":false,...} on stdout.
int Fail(const std::string& m, int code = vv::cli::kExitFailed, const std::string& fix = "") {
  if (g_json) {
    Value v = Value::MakeObject();
    v.Set("ok", false);
    v.Set("error", m);
    v.Set("exit_code", code);
    std::cout << vv::json::Canonical(v) << std::endl;
  }
  return vv::cli::Error("vv-evidence", m, fix, code);
}

constexpr char kConfigFix[] = "correct the engine config file given with --config";

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"VectorVue evidence store operator tool"};
  vv::cli::Setup(cli, {"vv-evidence",
                       "  vv-evidence list --config engine.yaml --tenant 10000000-0000-0000-0000-000000000001\n"
                       "  vv-evidence --config engine.yaml show --tenant T --event-id evt-1\n"
                       "  vv-evidence rewrap --config engine.yaml --tenant T --to-key root-2",
                       "  1: no such record, or a store/key operation failed.\n"
                       "  3: a record does not decrypt or its integrity hash does not match."});
  cli.require_subcommand(1);
  std::string config_path, tenant, event_id, to_key, key_id, admin_url, owner_role, app_role;
  cli.add_option("--config", config_path, "engine YAML config (also accepted after the subcommand)");
  cli.add_flag("--json", g_json, "errors as JSON too (results are always JSON)");
  int limit = 1000;
  int64_t after_seq = 0;
  auto* list = cli.add_subcommand("list", "decrypt and print a tenant's evidence records");
  list->add_option("--config", config_path, "engine YAML config file");
  list->add_option("--tenant", tenant)->required();
  list->add_option("--limit", limit);
  list->add_option("--after-seq", after_seq);
  auto* show = cli.add_subcommand("show", "decrypt and print one evidence record");
  show->add_option("--config", config_path, "engine YAML config file");
  show->add_option("--tenant", tenant)->required();
  show->add_option("--event-id", event_id)->required();
  auto* rewrap = cli.add_subcommand("rewrap", "move a tenant's DEKs to another root key");
  rewrap->add_option("--config", config_path, "engine YAML config file");
  rewrap->add_option("--tenant", tenant)->required();
  rewrap->add_option("--to-key", to_key, "target key id (default: the active key)");
  auto* keygen = cli.add_subcommand("pkcs11-keygen", "create a root key inside the PKCS#11 token");
  keygen->add_option("--config", config_path, "engine YAML config file");
  keygen->add_option("--key-id", key_id)->required();
  auto* initpg = cli.add_subcommand("init-postgres", "create the evidence table with RLS");
  initpg->add_option("--admin-url", admin_url)->required();
  initpg->add_option("--owner-role", owner_role)->required();
  initpg->add_option("--app-role", app_role)->required();
  auto* initgraphs = cli.add_subcommand(
      "init-postgres-graphs",
      "create the gateway's execution-graph table with RLS, owned by --owner-role");
  initgraphs->add_option("--admin-url", admin_url)->required();
  initgraphs->add_option("--owner-role", owner_role)->required();
  initgraphs->add_option("--app-role", app_role)->required();
  if (int rc = vv::cli::Parse(cli, argc, argv); rc >= 0) return rc;

  if (initgraphs->parsed()) {
    vv::Status s =
        vv::cognitive::PostgresGraphStore::InstallSchema(admin_url, owner_role, app_role);
    if (!s.ok()) return Fail(s.ToString());
    std::cout << "{\"schema\":\"installed\"}" << std::endl;
    return 0;
  }
  if (initpg->parsed()) {
    vv::Status s =
        vv::evidence::PostgresEvidenceStore::InstallSchema(admin_url, owner_role, app_role);
    if (!s.ok()) return Fail(s.ToString());
    std::cout << "{\"schema\":\"installed\"}" << std::endl;
    return 0;
  }

  if (config_path.empty())
    return Fail("--config FILE is required for this command", vv::cli::kExitUsage,
                "pass the engine's config file: --config engine.yaml");
  auto cfg = vv::config::LoadEngineConfig(config_path, vv::config::ProcessEnv());
  if (!cfg.ok()) return Fail(cfg.status().message(), vv::cli::kExitUsage, kConfigFix);
  auto env = vv::ProcessEnv();

  if (keygen->parsed()) {
    if (cfg->root_key_provider != "pkcs11") return Fail("root_key_provider is not pkcs11", vv::cli::kExitUsage,
                  "set root_key_provider: pkcs11 in the engine config");
    auto p = vv::engine::MakeRootKeyProvider(*cfg, env, /*require_active_key=*/false);
    if (!p.ok()) return Fail(p.status().ToString(), vv::cli::kExitUsage, kConfigFix);
    auto* hsm = static_cast<vv::evidence::Pkcs11RootKeyProvider*>(p->get());
    vv::Status s = hsm->GenerateRootKey(key_id);
    if (!s.ok()) return Fail(s.ToString());
    std::cout << "{\"generated\":" << vv::json::Canonical(Value(key_id)) << "}" << std::endl;
    return 0;
  }

  auto provider = vv::engine::MakeRootKeyProvider(*cfg, env);
  if (!provider.ok()) return Fail(provider.status().ToString(), vv::cli::kExitUsage, kConfigFix);
  auto store = vv::engine::MakeEvidenceStore(*cfg);
  if (!store.ok()) return Fail(store.status().ToString(), vv::cli::kExitUsage, kConfigFix);
  vv::SystemRandom random;
  vv::evidence::EvidenceCipher cipher(**provider, random);

  if (show->parsed()) {
    auto r = (*store)->Get(tenant, event_id);
    if (!r.ok()) return Fail(r.status().ToString());
    if (!r->has_value())
      return Fail("no evidence record for tenant " + tenant + " event " + event_id);
    bool ok = true;
    std::cout << vv::json::Canonical(RecordJson(**r, cipher, &ok)) << std::endl;
    return ok ? vv::cli::kExitOk : vv::cli::kExitVerifyFailed;
  }
  if (list->parsed()) {
    auto rs = (*store)->List(tenant, after_seq, limit);
    if (!rs.ok()) return Fail(rs.status().ToString());
    Value arr = Value::MakeArray();
    bool ok = true;
    for (const auto& r : *rs) arr.Push(RecordJson(r, cipher, &ok));
    std::cout << vv::json::Canonical(arr) << std::endl;
    return ok ? vv::cli::kExitOk : vv::cli::kExitVerifyFailed;
  }
  // rewrap
  const std::string target = to_key.empty() ? (*provider)->active_key_id() : to_key;
  int64_t moved = 0, skipped = 0, failed = 0;
  int64_t cursor = 0;
  for (;;) {
    auto rs = (*store)->List(tenant, cursor, 500);
    if (!rs.ok()) return Fail(rs.status().ToString());
    if (rs->empty()) break;
    for (const auto& r : *rs) {
      cursor = r.seq;
      if (r.key_id == target) {
        ++skipped;
        continue;
      }
      auto e = vv::evidence::ParseEnvelopeJson(r.envelope_json);
      auto w = e.ok() ? cipher.Rewrap(r.tenant_id, *e, target)
                      : vv::Result<vv::evidence::EvidenceEnvelope>(e.status());
      if (!w.ok() ||
          !(*store)->ReplaceEnvelope(r.tenant_id, r.event_id, w->key_id, w->Serialize()).ok()) {
        std::cerr << "vv-evidence: rewrap failed for " << r.event_id << ": "
                  << (w.ok() ? "store update failed" : w.status().ToString()) << "\n";
        ++failed;
        continue;
      }
      ++moved;
    }
  }
  Value out = Value::MakeObject();
  out.Set("tenant_id", tenant);
  out.Set("to_key", target);
  out.Set("rewrapped", moved);
  out.Set("already_on_key", skipped);
  out.Set("failed", failed);
  std::cout << vv::json::Canonical(out) << std::endl;
  return failed == 0 ? 0 : 1;
}
