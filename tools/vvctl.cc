// vvctl: operator control tool for VectorVue (issue 8).
//   vvctl policy check CONFIG [--min-cert-days N] [--format json|text]
//       Evaluates the security policy gate (src/policy/policy_gate.h) over a gateway config
//       file, with the environment overrides the gateway would apply. Prints the report (text
//       lines with --format text) and, as the last stdout line, canonical JSON
//       {"checked":[...],"ok":bool,"violations":[{"detail","rule","severity"}]}.
// Exit 0 when ok, 1 on any violation, 2 on a usage error.

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "common/clock.h"
#include "config/gateway_config.h"
#include "policy/policy_gate.h"

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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vvctl: VectorVue operator control"};
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  if (check->parsed()) return RunPolicyCheck(config_path, min_cert_days, format);
  std::cerr << app.help();
  return 2;
}
