// The config table kit (config_table.h) and the two tables built with it: one row per key drives
// YAML parsing, environment overrides, validation (all violations at once) and the printer.
#include "config/config_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "config/effective_config.h"
#include "config/engine_config.h"
#include "config/gateway_config.h"

namespace vv::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

EnvLookup MapEnv(std::map<std::string, std::string> m) {
  return [m](const std::string& n) -> std::optional<std::string> {
    auto it = m.find(n);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}

// A toy section exercising the kit itself.
struct Toy {
  std::string url;
  std::string token;
  int64_t count = 3;
  bool flag = false;
  std::string mode = "a";
  std::string path;
};

const table::Table<Toy>& ToyTable() {
  namespace t = table;
  static const t::Table<Toy> kTable(
      "toy",
      {t::Str<Toy>("url", t::F(&Toy::url)).Env({"TOY_URL"}).Url(),
       t::Str<Toy>("token", t::F(&Toy::token)).Env({"TOY_TOKEN"}).Secret(),
       t::Int<Toy>("limits.count", t::F(&Toy::count), t::Range{1})
           .Env({"TOY_COUNT_OLD", "TOY_COUNT"})
           .Check([](const Toy& c, t::Violations* v) {
             if (c.count > 10) v->Add(Status::InvalidArgument("limits.count must be <= 10"));
           }),
       t::Bool<Toy>("flag", t::F(&Toy::flag)).Env({"TOY_FLAG"}),
       t::Choice<Toy>("mode", t::F(&Toy::mode), {{"alias", "b"}}).Check(
           [](const Toy& c, t::Violations* v) {
             if (c.mode != "a" && c.mode != "b") v->Add(Status::InvalidArgument("mode must be a or b"));
           }),
       t::Path<Toy>("path", t::F(&Toy::path))},
      {[](const Toy& c, t::Violations* v) {
        if (c.flag && c.url.empty()) v->Add(Status::InvalidArgument("flag needs url"));
      }});
  return kTable;
}

Toy Apply(const std::string& yaml, const EnvLookup& env, table::Violations* errors) {
  Toy c;
  ToyTable().ApplyYaml(YAML::Load(yaml), table::Source{"/etc/toy", ""}, &c, errors);
  ToyTable().ApplyEnv(env, &c, errors);
  return c;
}

TEST(ConfigTableKitTest, EnvironmentBeatsYamlAndLaterVariableBeatsEarlier) {
  table::Violations e;
  Toy c = Apply("url: nats://yaml:4222\nlimits: {count: 4}\nmode: ALIAS\npath: rel/x\n",
                MapEnv({{"TOY_URL", " nats://env:4222 "}, {"TOY_COUNT_OLD", "5"},
                        {"TOY_COUNT", "6"}}),
                &e);
  ASSERT_TRUE(e.empty()) << e.ToStatus().message();
  EXPECT_EQ(c.url, "nats://env:4222");
  EXPECT_EQ(c.count, 6);
  EXPECT_EQ(c.mode, "b");                // lowercased, alias mapped
  EXPECT_EQ(c.path, "/etc/toy/rel/x");  // YAML paths resolve against the file's directory
  table::Violations e2;
  Toy d = Apply("url: nats://yaml:4222\n", MapEnv({}), &e2);
  EXPECT_EQ(d.url, "nats://yaml:4222");
  EXPECT_EQ(d.count, 3);  // the struct's default
}

TEST(ConfigTableKitTest, UnknownKeysAreAllNamedAndDuplicatesRefused) {
  table::Violations e;
  Apply("url: x\nurk: 1\nlimits: {count: 2, cuont: 3}\n", MapEnv({}), &e);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_THAT(e.ToStatus().message(), HasSubstr("unknown key(s) in toy: urk, limits.cuont"));
  table::Violations dup;
  Apply("url: x\nurl: y\n", MapEnv({}), &dup);
  EXPECT_THAT(dup.ToStatus().message(), HasSubstr("duplicate key 'url'"));
}

TEST(ConfigTableKitTest, ParseErrorsOfYamlAndEnvironmentReportedTogether) {
  table::Violations e;
  Apply("limits: {count: 0}\nflag: maybe\n", MapEnv({{"TOY_COUNT", "x"}}), &e);
  ASSERT_EQ(e.size(), 3u) << e.ToStatus().message();
  const std::string m = e.ToStatus().message();
  EXPECT_THAT(m, HasSubstr("3 config errors: "));
  EXPECT_THAT(m, HasSubstr("limits.count must be >= 1"));
  EXPECT_THAT(m, HasSubstr("flag must be a boolean"));
  EXPECT_THAT(m, HasSubstr("TOY_COUNT must be an integer"));
}

TEST(ConfigTableKitTest, ValidationReturnsEveryViolation) {
  Toy c;
  c.count = 11;
  c.mode = "z";
  c.flag = true;
  table::Violations v = ToyTable().Validate(c);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_THAT(v.ToStatus().message(), HasSubstr("limits.count must be <= 10"));
  EXPECT_THAT(v.ToStatus().message(), HasSubstr("mode must be a or b"));
  EXPECT_THAT(v.ToStatus().message(), HasSubstr("flag needs url"));
  c = Toy();
  EXPECT_TRUE(ToyTable().Validate(c).empty());
}

TEST(ConfigTableKitTest, DescribeRedactsUrlsAndNeverPrintsSecrets) {
  Toy c;
  c.url = "redis://app:hunter2@db:6379/0";
  c.token = "t0ps3cret";
  const std::string d = ToyTable().Describe(c);
  EXPECT_THAT(d, HasSubstr("url=redis://app:***@db:6379/0"));
  EXPECT_THAT(d, Not(HasSubstr("hunter2")));
  EXPECT_THAT(d, Not(HasSubstr("t0ps3cret")));
  EXPECT_THAT(d, Not(HasSubstr("token=")));
  EXPECT_THAT(d, HasSubstr("limits.count=3"));
  EXPECT_THAT(d, HasSubstr("path=-"));
}

// Backends are enums (issue 13): names and aliases parse, case and spaces ignored; an unknown
// name is a parse error that names the key (or variable) and echoes the value bounded and
// printable; a value outside the enum fails validation; the printer shows the canonical name.
struct EnumToy {
  QueueBackend queue = QueueBackend::kEmbedded;
};

const table::Table<EnumToy>& EnumToyTable() {
  namespace t = table;
  static const t::Table<EnumToy> kTable(
      "enum_toy", {t::Enum<EnumToy>("queue", t::F(&EnumToy::queue),
                                    BackendNames<QueueBackend>::kNames, "queue must be x or y")
                       .Env({"TOY_QUEUE"})});
  return kTable;
}

TEST(ConfigTableKitTest, EnumRowParsesNamesAndAliasesAndRefusesTheRest) {
  auto apply = [](const std::string& yaml, std::map<std::string, std::string> env,
                  table::Violations* e) {
    EnumToy c;
    EnumToyTable().ApplyYaml(YAML::Load(yaml), table::Source{}, &c, e);
    EnumToyTable().ApplyEnv(MapEnv(std::move(env)), &c, e);
    return c;
  };
  table::Violations ok;
  EXPECT_EQ(apply("queue: ' NATS '\n", {}, &ok).queue, QueueBackend::kNats);
  EXPECT_EQ(apply("queue: nats\n", {{"TOY_QUEUE", "Memory"}}, &ok).queue, QueueBackend::kEmbedded);
  ASSERT_TRUE(ok.empty()) << ok.ToStatus().message();
  EXPECT_EQ(EnumToyTable().Describe(apply("queue: memory\n", {}, &ok)), "queue=embedded");

  table::Violations bad;
  EnumToy c = apply("queue: kafka\n", {{"TOY_QUEUE", std::string("k\x1b[31m") + std::string(200, 'z')}},
                    &bad);
  EXPECT_EQ(c.queue, QueueBackend::kEmbedded);  // unchanged: the default
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_EQ(bad.list()[0].message(), "queue must be x or y (got 'kafka')");
  const std::string env_msg = bad.list()[1].message();
  EXPECT_THAT(env_msg, HasSubstr("queue must be x or y (TOY_QUEUE) (got 'k?[31mzzz"));
  EXPECT_LT(env_msg.size(), 140u);  // the echoed value is bounded to 64 bytes
  EXPECT_THAT(env_msg, Not(HasSubstr("\x1b")));

  c.queue = static_cast<QueueBackend>(9);
  table::Violations v = EnumToyTable().Validate(c);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v.list()[0].message(), "queue must be x or y");
  EXPECT_EQ(Name(c.queue), "");
  EXPECT_EQ(Name(StoreBackend::kPostgres), "postgres");
}

// ---- The real tables ------------------------------------------------------------------------

constexpr char kGateway[] =
    "vectorvue:\n  telemetry_gateway:\n"
    "    nats_url: nats://from-yaml:4222\n"
    "    rate_limit_per_minute: 0\n"
    "    nonce_ttl_seconds: 5\n";

TEST(ConfigTablesTest, GatewayEnvironmentBeatsYaml) {
  auto d = DraftGatewayConfig(kGateway, MapEnv({{"VV_TG_NATS_URL", "nats://from-env:4222"}}), "/");
  ASSERT_TRUE(d.parse_errors.empty());
  EXPECT_EQ(d.config.nats_url, "nats://from-env:4222");
  EXPECT_EQ(DraftGatewayConfig(kGateway, MapEnv({}), "/").config.nats_url, "nats://from-yaml:4222");
}

TEST(ConfigTablesTest, GatewayReportsAllViolationsTogether) {
  auto r = ParseGatewayConfig(kGateway, MapEnv({}), "/nonexistent-dir");
  ASSERT_FALSE(r.ok());
  const std::string m = r.status().message();
  EXPECT_THAT(m, HasSubstr("config errors: "));
  EXPECT_THAT(m, HasSubstr("rate_limit_per_minute must be >= 1"));
  EXPECT_THAT(m, HasSubstr("nonce_ttl_seconds must be >= 30"));
  EXPECT_THAT(m, HasSubstr("allowed_service_identities"));
  EXPECT_THAT(m, HasSubstr("tls.cert_path"));
  EXPECT_GE(GatewayConfigViolations(GatewayConfig()).size(), 4u);
}

TEST(ConfigTablesTest, GatewayUnknownKeysRefusedTogether) {
  auto r = ParseGatewayConfig(
      "vectorvue:\n  telemetry_gateway:\n    requre_mtls: false\n    tls: {cert_pth: x}\n",
      MapEnv({}), "/");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("unknown key(s) in vectorvue.telemetry_gateway: requre_mtls, tls.cert_pth"));
}

TEST(ConfigTablesTest, EffectiveConfigHidesTheAdminTokenAndUrlPasswords) {
  auto d = DraftGatewayConfig(
      "vectorvue:\n  telemetry_gateway:\n    redis_url: redis://:pw1@r:6379/0\n"
      "    audit_anchor_nats_url: nats://tok2@n:4222\n",
      MapEnv({{"VV_TG_ADMIN_TOKEN", "adm1n-secret"}}), "/");
  ASSERT_EQ(d.config.admin_token, "adm1n-secret");
  const std::string s = DescribeGatewayConfig(d.config);
  EXPECT_THAT(s, Not(HasSubstr("adm1n-secret")));
  EXPECT_THAT(s, Not(HasSubstr("pw1")));
  EXPECT_THAT(s, Not(HasSubstr("tok2")));
  EXPECT_THAT(s, HasSubstr("redis_url=redis://:***@r:6379/0"));
}

// Each environment variable is declared by exactly one row of one table (the engine reads the
// keys it shares with the gateway through the gateway's rows).
TEST(ConfigTablesTest, EveryVariableIsSpelledOnce) {
  std::map<std::string, int> seen;
  for (const auto& k : GatewayTable().keys())
    for (const auto& v : k.env) ++seen[v];
  for (const auto& k : EngineTable().keys())
    for (const auto& v : k.env) ++seen[v];
  for (const auto& [var, n] : seen) EXPECT_EQ(n, 1) << var;
  EXPECT_EQ(seen.count("VV_TG_QUEUE_BACKEND"), 1u);
  EXPECT_EQ(seen.count("VV_EVIDENCE_STORE_BACKEND"), 1u);
  auto e = ParseEngineKeys("vectorvue: {}\n", MapEnv({{"VV_TG_QUEUE_BACKEND", "MEMORY"}}), "", {},
                           EngineConfig());
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->queue_backend, QueueBackend::kEmbedded);
}

}  // namespace
}  // namespace vv::config
