// vv-audit: operations on the tamper-evident audit log.
//   vv-audit verify LOG   verifies the chain; prints the result as canonical JSON on the last
//                         stdout line. Exit 0 when ok, 1 when not ok, 2 on a usage error.
// Subcommands are CLI11 subcommands, so more (prove, check-proof) can be added alongside.

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "audit/verifier.h"
#include "json/json.h"

namespace {

int RunVerify(const std::string& log_path) {
  vv::audit::VerifyResult r = vv::audit::VerifyLogFile(log_path);
  if (!r.ok) {
    std::cerr << "audit log " << log_path << ": BROKEN at line " << r.broken_at << " (" << r.reason
              << "): " << r.detail << "\n";
  }
  std::cout << vv::json::Canonical(r.ToJson()) << std::endl;
  return r.ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vv-audit: tamper-evident audit log tools"};
  app.require_subcommand(1);

  std::string verify_path;
  CLI::App* verify = app.add_subcommand("verify", "Verify an audit log's hash chain");
  verify->add_option("LOG", verify_path, "Path to the audit log (JSONL)")->required();

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
  try {
    if (verify->parsed()) return RunVerify(verify_path);
  } catch (const std::exception& e) {
    std::cerr << "vv-audit: internal error: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
