#pragma once
// Red-team scenario helpers. A scenario is one gtest test in tests/redteam/*_redteam_test.cc;
// name the test <Category>_<What> inside a suite named after the area, e.g.
//   TEST_F(TransportRedTeam, Smuggling_TeChunkedAndContentLength) { ... }
// and call Scenario(...) once with what it expects and what it observed. The properties land in
// gtest's JSON/XML output (--gtest_output=json:FILE), which scripts/redteam-report.sh renders.
//
// Every scenario also asserts that the audit log still verifies and that the gateway still
// restarts on it (ExpectAuditVerifiesAndRestarts), because an attack that breaks either is a
// successful attack even when the request itself was refused.

#include <string>
#include <vector>

#include "integration/gateway_harness.h"

namespace vv::testing {

// Records the scenario for the report. `category` is one of: transport, tls, authn, authz,
// replay, schema, parser, resource, audit, backend, admin, ops.
void Scenario(const std::string& category, const std::string& expected,
              const std::string& observed, const std::string& audit_evidence = "");

// `vv-audit verify LOG` exits 0 (gtest failure naming the verifier's output otherwise).
void ExpectAuditVerifies(const std::string& audit_path);
// Verifies the audit log, restarts the gateway on the same files, and checks /healthz answers.
void ExpectAuditVerifiesAndRestarts(GatewayUnderTest& gw);

// The last audit record (raw JSON line) whose text contains every needle, or "".
std::string FindAuditRecord(const GatewayUnderTest& gw, const std::vector<std::string>& needles);

}  // namespace vv::testing
