// vvctl: operator control tool for VectorVue (issue 8).
//   vvctl policy check CONFIG [--min-cert-days N] [--format json|text]
//       Evaluates the security policy gate (src/policy/policy_gate.h) over a gateway config
//       file, with the environment overrides the gateway would apply. Prints the report (text
//       lines with --format text) and, as the last stdout line, canonical JSON
//       {"checked":[...],"ok":bool,"violations":[{"detail","rule","severity"}]}.
// Exit 0 when ok, 1 on any violation, 2 on a usage error.
//
// Rotation (docs/operations.md, "Key and certificate rotation"):
//   vvctl keys generate --out PATH [--kid KID]     new Ed25519 key (file 0400); prints
//                                                  {"kid","path","public_key_b64"}
//   vvctl pin CERT [--json]                        SHA-256 pin of a PEM certificate
//   vvctl identity stage-key  --config F --identity ID --kid KID --public-key B64
//   vvctl identity retire-key --config F --identity ID --kid KID
//   vvctl identity stage-pin  --config F --identity ID (--pin HEX | --cert PEM)
//   vvctl identity retire-pin --config F --identity ID (--pin HEX | --cert PEM)
//   vvctl identity set-operators --config F --identity ID --operator OP [--operator OP ...]
//       edit the machine-owned identities file the config names (identities_file; validated
//       with the whole config, rewritten whole and atomically); then reload the gateway
//       (SIGHUP or POST /admin/reload). A config with inline identities is refused: first
//   vvctl identity export --config F --out FILE [--force]
//       writes its identities to FILE; replace allowed_service_identities with
//       `identities_file: FILE` and reload (vvctl never rewrites the YAML).
// Kill switch (SD-03, dual control; src/app/kill_switch.h):
//   vvctl kill-switch request --config F --action engage|release --identity ID --reason TEXT
//       prints the canonical request approvers sign (includes the current generation)
//   vvctl kill-switch approve --config F --action A --identity ID --reason TEXT
//                             --approver NAME --key KEYFILE --out FILE
//   vvctl kill-switch engage  --config F --identity ID --reason TEXT --approval A --approval B
//   vvctl kill-switch release --config F --identity ID --reason TEXT --approval A --approval B
//       (alias: disengage)
//   vvctl kill-switch status  --config F
// Dead-letter queue (issue 14; src/queue/dead_letters.h), either queue backend of the config:
//   vvctl dlq list    --config F [--after SEQ] [--limit N]   live entries, oldest first, N <= 1000
//                                                             (default 50); "next_after" pages on
//   vvctl dlq show    --config F --seq SEQ                    one entry with its reason and body
//   vvctl dlq redrive --config F --seq SEQ                    back onto the ingest subject, only
//                                                             an ingest envelope whose integrity
//                                                             hash matches (the engine re-checks)
//   Every stored (client-supplied) string is printed as escaped printable ASCII, bounded.
// Exit status of these: 0 ok, 1 refused/failed (reason on stderr and in the JSON), 2 usage.
// Common convention (tools/cli/cli.h, docs/cli.md): --help with examples, --version, options
// before or after the subcommand, --json (the default output; for policy check it selects
// --format json).

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "cli/cli.h"
#include "common/clock.h"
#include "config/gateway_config.h"
#include "policy/policy_gate.h"
#include "config/identity_edit.h"
#include "common/file.h"
#include "app/gateway_app.h"
#include "app/kill_switch.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "common/logging.h"
#include "common/text.h"
#include "json/json.h"
#include "queue/dead_letters.h"
#include "queue/embedded_queue.h"
#include "queue/jetstream_queue.h"

#include <sys/stat.h>

namespace idedit = vv::config::identity;

namespace {

int RunPolicyCheck(const std::string& config_path, int64_t min_cert_days,
                   const std::string& format) {
  vv::SystemClock clock;
  vv::policy::PolicyOptions options;
  options.min_cert_days = min_cert_days;
  auto report =
      vv::policy::CheckGatewayConfigFile(config_path, vv::config::ProcessEnv(), clock, options);
  if (format == "text") std::cout << report.ToText();
  std::cout << report.ToJson() << std::endl;
  return report.ok() ? 0 : 1;
}

int Fail(const std::string& what, const vv::Status& s) {
  std::cerr << "vvctl " << what << ": " << s.message() << "\n";
  vv::json::Value v = vv::json::Value::MakeObject();
  v.Set("ok", false);
  v.Set("error", s.message());
  std::cout << vv::json::Canonical(v) << std::endl;
  return 1;
}

int RunKeysGenerate(const std::string& out, std::string kid) {
  auto key = vv::crypto::Ed25519PrivateKey::Generate();
  const std::string pub_b64 = key.PublicKey().ToBase64();
  if (kid.empty()) kid = "k-" + vv::crypto::Sha256Hex(key.PublicKey().raw()).substr(0, 16);
  struct stat st {};
  if (::stat(out.c_str(), &st) == 0)
    return Fail("keys generate", vv::Status::AlreadyExists(out + " exists; refusing to overwrite"));
  vv::Status s = vv::WriteFileAtomic(out, key.ToPem(), 0400);
  if (!s.ok()) return Fail("keys generate", s);
  vv::json::Value v = vv::json::Value::MakeObject();
  v.Set("ok", true);
  v.Set("kid", kid);
  v.Set("path", out);
  v.Set("public_key_b64", pub_b64);
  std::cout << vv::json::Canonical(v) << std::endl;
  return 0;
}

int RunPin(const std::string& cert, bool json) {
  auto pin = vv::crypto::CertificateFingerprintFromPemFile(cert);
  if (!pin.ok()) return Fail("pin", pin.status());
  if (json) {
    vv::json::Value v = vv::json::Value::MakeObject();
    v.Set("ok", true);
    v.Set("cert", cert);
    v.Set("sha256", *pin);
    std::cout << vv::json::Canonical(v) << std::endl;
  } else {
    std::cout << *pin << std::endl;
  }
  return 0;
}

int RunIdentity(idedit::Op op, const std::string& config_path, idedit::Edit edit,
                const std::string& cert) {
  edit.op = op;
  if (!cert.empty()) {
    auto pin = vv::crypto::CertificateFingerprintFromPemFile(cert);
    if (!pin.ok()) return Fail("identity", pin.status());
    edit.pin = *pin;
  }
  auto written = idedit::ApplyToConfig(config_path, edit, vv::config::ProcessEnv());
  if (!written.ok()) return Fail("identity", written.status());
  vv::json::Value v = vv::json::Value::MakeObject();
  v.Set("ok", true);
  v.Set("config", config_path);
  v.Set("identities_file", written->path);
  v.Set("identity", edit.identity);
  v.Set("next_step", "reload the gateway: kill -HUP <pid> or POST /admin/reload");
  std::cout << vv::json::Canonical(v) << std::endl;
  return 0;
}

int RunIdentityExport(const std::string& config_path, const std::string& out, bool force) {
  auto written = idedit::Export(config_path, out, force, vv::config::ProcessEnv());
  if (!written.ok()) return Fail("identity export", written.status());
  vv::json::Value v = vv::json::Value::MakeObject();
  v.Set("ok", true);
  v.Set("config", config_path);
  v.Set("identities_file", written->path);
  v.Set("identities", static_cast<int64_t>(written->identities));
  v.Set("next_step", "replace allowed_service_identities in " + config_path +
                         " with `identities_file: " + written->path + "`, then reload");
  std::cout << vv::json::Canonical(v) << std::endl;
  return 0;
}

struct KillSwitchArgs {
  std::string config_path, action, identity, reason, approver, key_path, out;
  std::vector<std::string> approvals;
};

vv::Result<vv::config::GatewayConfig> LoadConfig(const std::string& path) {
  return vv::config::LoadGatewayConfig(path, vv::config::ProcessEnv());
}

int RunKillSwitch(const std::string& sub, KillSwitchArgs a) {
  namespace ks = vv::app::killswitch;
  auto cfg = LoadConfig(a.config_path);
  if (!cfg.ok()) return Fail("kill-switch", cfg.status());
  auto store = ks::MakeStore(*cfg);
  if (!store.ok()) return Fail("kill-switch", store.status());
  auto text = (*store)->Read();
  if (!text.ok()) return Fail("kill-switch", text.status());
  auto state = ks::ParseState(*text);
  if (!state.ok()) return Fail("kill-switch", state.status());
  if (sub == "status") {
    vv::json::Value v = vv::json::Value::MakeObject();
    v.Set("ok", true);
    v.Set("store", (*store)->Describe());
    v.Set("generation", state->generation);
    vv::json::Value ids = vv::json::Value::MakeObject();
    for (const auto& [id, r] : state->revoked) {
      vv::json::Value e = vv::json::Value::MakeObject();
      e.Set("reason", r.reason);
      e.Set("engaged_at", r.engaged_at);
      vv::json::Value names = vv::json::Value::MakeArray();
      for (const auto& ap : r.approvals) names.Push(ap.approver);
      e.Set("approvers", std::move(names));
      ids.Set(id, std::move(e));
    }
    v.Set("revoked", std::move(ids));
    std::cout << vv::json::Canonical(v) << std::endl;
    return 0;
  }
  const std::string action = sub == "request" || sub == "approve" ? a.action
                             : sub == "disengage"                  ? std::string("release")
                                                                   : sub;
  if (action != "engage" && action != "release")
    return Fail("kill-switch", vv::Status::InvalidArgument("--action must be engage or release"));
  const std::string canonical =
      ks::CanonicalRequest(action, a.identity, a.reason, state->generation);
  if (sub == "request") {
    std::cout << canonical << std::endl;
    return 0;
  }
  if (sub == "approve") {
    auto key = vv::crypto::Ed25519PrivateKey::LoadFile(a.key_path);
    if (!key.ok()) return Fail("kill-switch approve", key.status());
    ks::Approval ap = ks::Sign(canonical, a.approver, *key);
    vv::Status s = vv::WriteFileAtomic(a.out, ks::ApprovalJson(ap) + "\n", 0600);
    if (!s.ok()) return Fail("kill-switch approve", s);
    vv::json::Value v = vv::json::Value::MakeObject();
    v.Set("ok", true);
    v.Set("approval", a.out);
    v.Set("request", canonical);
    std::cout << vv::json::Canonical(v) << std::endl;
    return 0;
  }
  std::vector<ks::Approval> approvals;
  for (const auto& path : a.approvals) {
    auto bytes = vv::crypto::ReadFileBytes(path);
    if (!bytes.ok()) return Fail("kill-switch", bytes.status());
    auto ap = ks::ParseApproval(*bytes);
    if (!ap.ok()) return Fail("kill-switch", vv::Status(ap.status().code(), path + ": " + ap.status().message()));
    approvals.push_back(std::move(ap).value());
  }
  vv::SystemClock clock;
  auto next = ks::Apply(**store, *cfg, action, a.identity, a.reason, approvals, clock);
  if (!next.ok()) return Fail("kill-switch " + action, next.status());
  vv::json::Value v = vv::json::Value::MakeObject();
  v.Set("ok", true);
  v.Set("action", action);
  v.Set("identity", a.identity);
  v.Set("generation", next->generation);
  v.Set("store", (*store)->Describe());
  std::cout << vv::json::Canonical(v) << std::endl;
  return 0;
}

}  // namespace

struct DlqArgs {
  std::string config_path;
  int64_t after = 0;
  int64_t limit = 50;
  int64_t seq = 0;
};

// Stored strings came from clients (or from an attacker with queue access): escaped, bounded.
vv::json::Value DlqEntryJson(const vv::queue::DeadLetterEntry& e, bool full) {
  using vv::text::PrintableAscii;
  vv::json::Value v = vv::json::Value::MakeObject();
  v.Set("seq", e.sequence);
  v.Set("message_id", PrintableAscii(e.message_id, 64));
  v.Set("created_at", PrintableAscii(e.created_at, 64));
  v.Set("error_code", PrintableAscii(e.error_code, 64));
  v.Set("error_message", PrintableAscii(e.error_message, full ? 2000 : 200));
  v.Set("raw_body_bytes", static_cast<int64_t>(e.raw_body.size()));
  v.Set("raw_body_sha256", vv::crypto::Sha256Hex(e.raw_body));
  v.Set("redrivable", e.not_redrivable.empty());
  if (!e.not_redrivable.empty()) v.Set("not_redrivable", e.not_redrivable);
  if (full) {
    v.Set("raw_body", PrintableAscii(e.raw_body, 1 << 20));
    v.Set("trace", PrintableAscii(vv::json::Canonical(e.trace), 4000));
  }
  return v;
}

int RunDlq(const std::string& sub, const DlqArgs& a) {
  const std::string what = "dlq " + sub;
  // stdout carries the JSON only: library log lines (backend up/down) go to stderr.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("vvctl"));
  vv::logging::Setup("vvctl", vv::logging::Format::kText, spdlog::level::warn);
  auto cfg = vv::config::LoadGatewayConfig(a.config_path, vv::config::ProcessEnv());
  if (!cfg.ok()) return Fail(what, cfg.status());
  std::unique_ptr<vv::queue::EmbeddedQueue> embedded;
  std::unique_ptr<vv::queue::JetStreamPublisher> js;
  std::unique_ptr<vv::queue::DeadLetterAdmin> admin;
  if (cfg->queue_backend == vv::config::QueueBackend::kNats) {
    vv::queue::JetStreamOptions o;
    vv::app::FillJetStreamOptions(*cfg, &o);
    o.nats.name = "vvctl";
    o.reconcile_existing = false;  // an inspection tool never rewrites the streams
    auto p = vv::queue::JetStreamPublisher::Create(o);
    if (!p.ok()) return Fail(what, p.status());
    js = std::move(p).value();
    admin = vv::queue::MakeJetStreamDeadLetterAdmin(*js);
  } else {
    struct stat st {};
    if (::stat(cfg->queue_path.c_str(), &st) != 0)  // never create an empty queue by mistake
      return Fail(what, vv::Status::NotFound("queue_path " + cfg->queue_path + " does not exist"));
    vv::queue::EmbeddedQueueOptions qo;
    qo.on_notice = [](const std::string& m) { std::cerr << "vvctl: " << m << "\n"; };
    auto q = vv::queue::EmbeddedQueue::Open(cfg->queue_path, qo);
    if (!q.ok()) return Fail(what, q.status());
    embedded = std::move(q).value();
    admin = vv::queue::MakeEmbeddedDeadLetterAdmin(*embedded);
  }
  vv::json::Value out = vv::json::Value::MakeObject();
  if (sub == "list") {
    auto entries = admin->List(a.after, static_cast<int>(a.limit));
    if (!entries.ok()) return Fail(what, entries.status());
    vv::json::Value arr = vv::json::Value::MakeArray();
    for (const auto& e : *entries) arr.Push(DlqEntryJson(e, /*full=*/false));
    out.Set("entries", std::move(arr));
    if (static_cast<int64_t>(entries->size()) == a.limit)
      out.Set("next_after", entries->back().sequence);
    else
      out.Set("next_after", vv::json::Value());
  } else if (sub == "show") {
    auto e = admin->Show(a.seq);
    if (!e.ok()) return Fail(what, e.status());
    out = DlqEntryJson(*e, /*full=*/true);
  } else {
    auto ingest_seq = admin->Redrive(a.seq);
    if (!ingest_seq.ok()) return Fail(what, ingest_seq.status());
    out.Set("ok", true);
    out.Set("redriven", a.seq);
    out.Set("ingest_seq", *ingest_seq);
    std::cerr << "vvctl dlq redrive: entry " << a.seq << " is back on the ingest queue (seq "
              << *ingest_seq << "); the engine re-checks and stores it once\n";
  }
  std::cout << vv::json::Canonical(out) << std::endl;
  return 0;
}

int main(int argc, char** argv) {
  CLI::App app{"vvctl: VectorVue operator control"};
  vv::cli::Setup(app, {"vvctl",
                       "  vvctl policy check /etc/vectorvue/gateway.yaml --format text\n"
                       "  vvctl keys generate --out producer-2026q3.key\n"
                       "  vvctl identity stage-key --config gateway.yaml --identity spectrastrike-producer \\\n"
                       "      --kid k2 --public-key <B64>\n"
                       "  vvctl identity export --config gateway.yaml --out identities.json\n"
                       "  vvctl kill-switch status --config gateway.yaml\n"
                       "  vvctl dlq list --config gateway.yaml --limit 20\n"
                       "  vvctl dlq redrive --config gateway.yaml --seq 42",
                       "  1: a policy violation, or the edit/kill-switch operation was refused."});
  bool json_flag = false;
  app.add_flag("--json", json_flag,
               "JSON output (the default; policy check: --format json; pin: a JSON object)");
  app.require_subcommand(1);

  auto* policy = app.add_subcommand("policy", "Security policy gate");
  policy->require_subcommand(1);
  auto* check = policy->add_subcommand("check", "Check a gateway config against the policy");
  std::string config_path;
  int64_t min_cert_days = 30;
  std::string format = "json";
  check->add_option("CONFIG", config_path, "gateway YAML config file")->required();
  check
      ->add_option("--min-cert-days", min_cert_days,
                   "fail if a certificate expires within N days (default 30)")
      ->check(CLI::Range(int64_t{0}, int64_t{36500}));
  check->add_option("--format", format, "output format: json (default) or text")
      ->check(CLI::IsMember({"json", "text"}));

  // keys generate
  auto* keys = app.add_subcommand("keys", "Signing key helpers");
  keys->require_subcommand(1);
  auto* keys_gen = keys->add_subcommand("generate", "Generate an Ed25519 signing key (file 0400)");
  std::string key_out, key_kid;
  keys_gen->add_option("--out", key_out, "private key file to create")->required();
  keys_gen->add_option("--kid", key_kid, "key id (default: k-<sha256(pub)[:16]>)");
  // pin
  auto* pin = app.add_subcommand("pin", "Print the SHA-256 pin of a PEM certificate");
  std::string pin_cert;
  pin->add_option("CERT", pin_cert, "PEM certificate")->required();
  // identity
  auto* identity = app.add_subcommand(
      "identity", "Stage/retire an identity's keys and pins in the machine-owned identities file");
  identity->require_subcommand(1);
  std::string id_config, id_cert;
  idedit::Edit edit{};
  std::vector<std::pair<CLI::App*, idedit::Op>> id_cmds;
  struct IdCommand {
    const char* name;
    idedit::Op op;
    const char* what;
  };
  for (auto [name, op, what] : std::vector<IdCommand>{
           {"stage-key", idedit::Op::kStageKey, "Add a signing key (old and new verify)"},
           {"retire-key", idedit::Op::kRetireKey, "Remove a signing key (never the last)"},
           {"stage-pin", idedit::Op::kStagePin, "Add a certificate pin"},
           {"retire-pin", idedit::Op::kRetirePin, "Remove a certificate pin (never the last)"},
           {"set-operators", idedit::Op::kSetOperators,
            "Replace the operators (tenants) the identity may act for"}}) {
    auto* c = identity->add_subcommand(name, what);
    c->add_option("--config", id_config, "gateway YAML config file (names identities_file)")->required();
    c->add_option("--identity", edit.identity, "service identity id")->required();
    if (op == idedit::Op::kSetOperators) {
      c->add_option("--operator", edit.operators, "operator id (repeat for several)")->required();
    } else if (op == idedit::Op::kStageKey ||
               op == idedit::Op::kRetireKey) {
      c->add_option("--kid", edit.kid, "key id")->required();
      if (op == idedit::Op::kStageKey)
        c->add_option("--public-key", edit.public_key_b64, "base64 Ed25519 public key")
            ->required();
    } else {
      auto* p = c->add_option("--pin", edit.pin, "SHA-256 certificate pin (hex)");
      auto* ce = c->add_option("--cert", id_cert, "PEM certificate to pin");
      p->excludes(ce);
    }
    id_cmds.emplace_back(c, op);
  }
  auto* id_export = identity->add_subcommand(
      "export", "Write the config's identities to a new machine-owned identities file");
  std::string export_out;
  bool export_force = false;
  id_export->add_option("--config", id_config, "gateway YAML config file")->required();
  id_export->add_option("--out", export_out, "identities file to create (JSON)")->required();
  id_export->add_flag("--force", export_force, "replace an existing file");
  // kill-switch
  auto* kill = app.add_subcommand("kill-switch", "Dual-controlled identity revocation (SD-03)");
  kill->require_subcommand(1);
  KillSwitchArgs ka;
  std::vector<std::pair<CLI::App*, std::string>> ks_cmds;
  for (const char* name : {"request", "approve", "engage", "release", "disengage", "status"}) {
    auto* c = kill->add_subcommand(name, name);
    const std::string n = name;
    c->add_option("--config", ka.config_path, "gateway YAML config file")->required();
    if (n != "status") {
      c->add_option("--identity", ka.identity, "service identity id")->required();
      c->add_option("--reason", ka.reason, "reason (part of the signed request)")->required();
    }
    if (n == "request" || n == "approve")
      c->add_option("--action", ka.action, "engage or release")->required();
    if (n == "approve") {
      c->add_option("--approver", ka.approver, "approver name (kill_switch_approvers)")
          ->required();
      c->add_option("--key", ka.key_path, "approver's Ed25519 private key file")->required();
      c->add_option("--out", ka.out, "approval file to write")->required();
    }
    if (n == "engage" || n == "release" || n == "disengage")
      c->add_option("--approval", ka.approvals, "approval file (two distinct approvers)")
          ->required();
    ks_cmds.emplace_back(c, n);
  }

  auto* dlq = app.add_subcommand("dlq", "Dead-letter queue: list, show, redrive");
  dlq->require_subcommand(1);
  DlqArgs da;
  std::vector<std::pair<CLI::App*, std::string>> dlq_cmds;
  for (const char* name : {"list", "show", "redrive"}) {
    auto* c = dlq->add_subcommand(name, name);
    const std::string n = name;
    c->add_option("--config", da.config_path, "gateway YAML config file (queue settings)")
        ->required();
    if (n == "list") {
      c->add_option("--after", da.after, "list entries after this sequence (paging)")
          ->check(CLI::Range(int64_t{0}, INT64_MAX));
      c->add_option("--limit", da.limit, "entries per page, 1..1000 (default 50)")
          ->check(CLI::Range(int64_t{1}, int64_t{1000}));
    } else {
      c->add_option("--seq", da.seq, "DLQ sequence (from list)")
          ->required()
          ->check(CLI::Range(int64_t{1}, INT64_MAX));
    }
    dlq_cmds.emplace_back(c, n);
  }

  if (int rc = vv::cli::Parse(app, argc, argv); rc >= 0) return rc;
  if (json_flag) format = "json";
  if (check->parsed()) return RunPolicyCheck(config_path, min_cert_days, format);
  if (keys_gen->parsed()) return RunKeysGenerate(key_out, key_kid);
  if (pin->parsed()) return RunPin(pin_cert, json_flag);
  for (auto& [c, op] : id_cmds)
    if (c->parsed()) return RunIdentity(op, id_config, edit, id_cert);
  if (id_export->parsed()) return RunIdentityExport(id_config, export_out, export_force);
  for (auto& [c, n] : ks_cmds)
    if (c->parsed()) return RunKillSwitch(n, ka);
  for (auto& [c, n] : dlq_cmds)
    if (c->parsed()) return RunDlq(n, da);
  std::cerr << app.help();
  return 2;
}
