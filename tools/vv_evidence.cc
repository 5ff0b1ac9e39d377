// vv-evidence: operator tool for the evidence store (same config file as vv-engine).
//   vv-evidence list   --config FILE --tenant T [--limit N] [--after-seq S]
//   vv-evidence show   --config FILE --tenant T --event-id E
//   vv-evidence rewrap --config FILE --tenant T [--to-key K]   (default: the active key)
//   vv-evidence pkcs11-keygen --config FILE --key-id K            (new root key in the token)
//   vv-evidence init-postgres --admin-url URL --owner-role R --app-role A
//   vv-evidence init-postgres-graphs --admin-url URL --owner-role R --app-role A
// list/show decrypt with the configured root key provider and print JSON to stdout: records
// with their metadata, the decrypted payload and whether SHA-256(plaintext) still equals the
// recorded integrity hash. Exit status: 0 ok, 1 not found / failure, 2 configuration error.

#include <CLI/CLI.hpp>
#include <iostream>

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
  v.Set("integrity_ok", vv::crypto::Sha256Hex(*pt) == r.integrity_hash);
  auto payload = vv::json::Parse(*pt);
  v.Set("payload", payload.ok() ? std::move(payload).value() : Value(*pt));
  return v;
}

int Fail(const std::string& m, int code = 1) {
  std::cerr << "vv-evidence: " << m << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"VectorVue evidence store operator tool"};
  cli.require_subcommand(1);
  std::string config_path, tenant, event_id, to_key, key_id, admin_url, owner_role, app_role;
  int limit = 1000;
  int64_t after_seq = 0;
  auto* list = cli.add_subcommand("list", "decrypt and print a tenant's evidence records");
  list->add_option("--config", config_path)->required();
  list->add_option("--tenant", tenant)->required();
  list->add_option("--limit", limit);
  list->add_option("--after-seq", after_seq);
  auto* show = cli.add_subcommand("show", "decrypt and print one evidence record");
  show->add_option("--config", config_path)->required();
  show->add_option("--tenant", tenant)->required();
  show->add_option("--event-id", event_id)->required();
  auto* rewrap = cli.add_subcommand("rewrap", "move a tenant's DEKs to another root key");
  rewrap->add_option("--config", config_path)->required();
  rewrap->add_option("--tenant", tenant)->required();
  rewrap->add_option("--to-key", to_key, "target key id (default: the active key)");
  auto* keygen = cli.add_subcommand("pkcs11-keygen", "create a root key inside the PKCS#11 token");
  keygen->add_option("--config", config_path)->required();
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
  CLI11_PARSE(cli, argc, argv);

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

  auto cfg = vv::config::LoadEngineConfig(config_path, vv::config::ProcessEnv());
  if (!cfg.ok()) return Fail(cfg.status().message(), 2);
  auto env = vv::ProcessEnv();

  if (keygen->parsed()) {
    if (cfg->root_key_provider != "pkcs11") return Fail("root_key_provider is not pkcs11", 2);
    auto p = vv::engine::MakeRootKeyProvider(*cfg, env, /*require_active_key=*/false);
    if (!p.ok()) return Fail(p.status().ToString(), 2);
    auto* hsm = static_cast<vv::evidence::Pkcs11RootKeyProvider*>(p->get());
    vv::Status s = hsm->GenerateRootKey(key_id);
    if (!s.ok()) return Fail(s.ToString());
    std::cout << "{\"generated\":" << vv::json::Canonical(Value(key_id)) << "}" << std::endl;
    return 0;
  }

  auto provider = vv::engine::MakeRootKeyProvider(*cfg, env);
  if (!provider.ok()) return Fail(provider.status().ToString(), 2);
  auto store = vv::engine::MakeEvidenceStore(*cfg);
  if (!store.ok()) return Fail(store.status().ToString(), 2);
  vv::SystemRandom random;
  vv::evidence::EvidenceCipher cipher(**provider, random);

  if (show->parsed()) {
    auto r = (*store)->Get(tenant, event_id);
    if (!r.ok()) return Fail(r.status().ToString());
    if (!r->has_value())
      return Fail("no evidence record for tenant " + tenant + " event " + event_id);
    bool ok = true;
    std::cout << vv::json::Canonical(RecordJson(**r, cipher, &ok)) << std::endl;
    return ok ? 0 : 1;
  }
  if (list->parsed()) {
    auto rs = (*store)->List(tenant, after_seq, limit);
    if (!rs.ok()) return Fail(rs.status().ToString());
    Value arr = Value::MakeArray();
    bool ok = true;
    for (const auto& r : *rs) arr.Push(RecordJson(r, cipher, &ok));
    std::cout << vv::json::Canonical(arr) << std::endl;
    return ok ? 0 : 1;
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
