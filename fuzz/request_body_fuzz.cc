// libFuzzer target: the request-body models of schema/ on arbitrary bytes - the federation
// bundle (schema::ParseFederationBody) and, when the bytes are JSON, the execution graph and
// feedback query (schema/cognitive_requests.h), all built on one field kit (schema/fields.h).
// Invariants: never crashes; an error always names its cause in a bounded string; an accepted
// bundle holds only what the model allows (lengths in code points, no control character, no
// '|' in the pipe-joined fields, 64 hex chars, the decoded signature) and re-parses from its
// own JSON to the same bundle; accepted cognitive bodies respect their documented bounds.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "json/json.h"
#include "schema/cognitive_requests.h"
#include "schema/federation_request.h"
#include "schema/text.h"

namespace {
[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "request_body_fuzz invariant violated: %s\n", what);
  std::abort();
}

void Identifier(const std::string& s, size_t min, size_t max, bool no_pipe) {
  const size_t n = vv::schema::CodePointCount(s);
  if (n < min || n > max) Fail("accepted field outside its length bounds");
  if (vv::schema::ContainsControlChar(s, false)) Fail("accepted field with a control character");
  if (no_pipe && s.find('|') != std::string::npos) Fail("accepted pipe-joined field with '|'");
}

void CheckBundle(std::string_view input) {
  using vv::schema::FederationBodyError;
  vv::schema::FederationBody b = vv::schema::ParseFederationBody(input);
  if (b.error != FederationBodyError::kNone) {
    if (b.why.empty()) Fail("an error without its cause");
    if (b.why.size() > 4096) Fail("an unbounded error text");
    return;
  }
  if (!b.why.empty()) Fail("a cause without an error");
  const vv::schema::SignedBundle& s = b.bundle;
  Identifier(s.operator_id, 1, 128, true);
  Identifier(s.campaign_id, 1, 128, true);
  Identifier(s.nonce, 12, 128, true);
  if (!vv::IsHex(s.execution_hash, 64)) Fail("accepted a non-hex execution_hash");
  auto sig = vv::Base64DecodeStrict(s.signature_b64);
  if (!sig || *sig != s.signature) Fail("signature not the decoding of signature_b64");
  // Round trip: the accepted bundle, written back as JSON, parses to the same bundle.
  vv::json::Value bundle = vv::json::Value::MakeObject();
  bundle.Set("operator_id", s.operator_id);
  bundle.Set("campaign_id", s.campaign_id);
  bundle.Set("execution_hash", s.execution_hash);
  bundle.Set("timestamp", s.timestamp);
  bundle.Set("nonce", s.nonce);
  bundle.Set("signature", s.signature_b64);
  vv::json::Value root = vv::json::Value::MakeObject();
  root.Set("bundle", std::move(bundle));
  vv::schema::FederationBody again = vv::schema::ParseFederationBody(vv::json::Canonical(root));
  if (again.error != FederationBodyError::kNone) Fail("an accepted bundle does not re-parse");
  const vv::schema::SignedBundle& t = again.bundle;
  if (t.operator_id != s.operator_id || t.campaign_id != s.campaign_id ||
      t.execution_hash != s.execution_hash || t.timestamp != s.timestamp || t.nonce != s.nonce ||
      t.signature != s.signature)
    Fail("the re-parsed bundle differs");
}

void CheckCognitive(std::string_view input) {
  auto parsed = vv::json::Parse(input);
  if (!parsed.ok()) return;
  auto g = vv::schema::ParseExecutionGraphRequest(*parsed);
  if (g.ok()) {
    Identifier(g->operator_id, 1, 128, false);
    Identifier(g->nonce, 8, 128, false);
    if (!vv::schema::IsTenantIdPattern(g->tenant_id)) Fail("graph tenant_id outside its pattern");
    if (g->execution_fingerprint != vv::ToLowerAscii(g->execution_fingerprint) ||
        !vv::IsHex(g->execution_fingerprint, 64))
      Fail("graph fingerprint not 64 lowercase hex chars");
    if (g->graph_canonical.size() > vv::schema::kMaxGraphCanonicalBytes)
      Fail("graph beyond its canonical size limit");
  } else if (g.status().message().empty()) {
    Fail("a graph error without its cause");
  }
  auto q = vv::schema::ParseFeedbackQuery(*parsed);
  if (q.ok()) {
    Identifier(q->operator_id, 1, 128, false);
    if (q->limit < 1 || q->limit > 1000) Fail("feedback limit outside 1..1000");
  } else if (q.status().message().empty()) {
    Fail("a feedback error without its cause");
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckBundle(input);
  CheckCognitive(input);
  return 0;
}
