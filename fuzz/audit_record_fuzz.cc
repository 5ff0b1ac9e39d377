// libFuzzer target: the audit record WRITER (issue 12, item 1). Arbitrary bytes become the
// client-controlled fields of audit records (string values, keys, nested header values, the
// path), appended through the real AuditLog to a scratch file.
// Invariants: Append never fails for any bytes; the written log verifies (vv-audit's
// verifier); every line is valid UTF-8 JSON; reopening the log (a gateway restart) succeeds
// and continues the chain; a record holding replaced bytes says so (untrusted_bytes_replaced).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_log.h"
#include "audit/record.h"
#include "audit/verifier.h"
#include "common/clock.h"
#include "common/text.h"
#include "json/json.h"

namespace {
[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "audit_record_fuzz invariant violated: %s\n", what.c_str());
  std::abort();
}

std::string ScratchPath() {
  static const std::string path = [] {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp != nullptr ? tmp : "/tmp") + "/vv-audit-record-fuzz-" +
           std::to_string(::getpid()) + ".jsonl";
  }();
  return path;
}

void Remove(const std::string& p) {
  std::remove(p.c_str());
  std::remove((p + ".anchor").c_str());
  std::remove((p + ".lock").c_str());
}

// Splits the input on 0x00 into up to six fields (missing ones are empty).
std::vector<std::string> Fields(std::string_view in) {
  std::vector<std::string> f;
  size_t start = 0;
  while (f.size() < 5) {
    size_t z = in.find('\0', start);
    if (z == std::string_view::npos) break;
    f.emplace_back(in.substr(start, z - start));
    start = z + 1;
  }
  f.emplace_back(in.substr(start));
  f.resize(6);
  return f;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace audit = vv::audit;
  namespace json = vv::json;
  if (size > 64 * 1024) return 0;
  const auto f = Fields(std::string_view(reinterpret_cast<const char*>(data), size));
  const std::string path = ScratchPath();
  Remove(path);
  vv::SystemClock clock;
  audit::AuditLogOptions opts;
  opts.seal_every = 2;
  opts.fsync = audit::FsyncPolicy::kNone;
  opts.anchor_retry_ms = 0;
  bool any_invalid = false;
  for (const auto& s : f) any_invalid |= !vv::text::IsValidUtf8(s);
  {
    auto log = audit::AuditLog::Open(path, opts, clock);
    if (!log.ok()) Fail("open of a fresh log failed: " + log.status().ToString());
    json::Value d = json::Value::MakeObject();
    d.Set("identity", f[0]);
    d.Set("path", f[1]);
    d.Set("subject", f[2]);
    json::Value headers = json::Value::MakeObject();
    headers.Set("x-service-identity", f[3]);
    if (!f[4].empty()) headers.Set("h-" + f[4], f[5]);  // a client-chosen key
    d.Set("headers", std::move(headers));
    json::Value arr = json::Value::MakeArray();
    arr.Push(f[5]);
    d.Set("values", std::move(arr));
    vv::Status s = (*log)->Append("telemetry.rejected", "telemetry_gateway", std::move(d));
    if (!s.ok()) Fail("append failed: " + s.ToString());
    s = (*log)->Append(f[0].size() < 64 ? "telemetry.rejected" : "tls.handshake_rejected",
                       "telemetry_gateway", json::Value::MakeObject());
    if (!s.ok()) Fail("second append failed: " + s.ToString());
  }
  audit::VerifyResult r = audit::VerifyLogFile(path);
  if (!r.ok) Fail("written log does not verify: " + r.reason + " " + r.detail);
  if (r.entries < 2) Fail("entries missing");
  {
    auto log = audit::AuditLog::Open(path, opts, clock);  // the restart after any input
    if (!log.ok()) Fail("reopen failed: " + log.status().ToString());
    vv::Status s = (*log)->Append("e", "a", json::Value::MakeObject());
    if (!s.ok()) Fail("append after reopen failed: " + s.ToString());
  }
  r = audit::VerifyLogFile(path);
  if (!r.ok) Fail("log does not verify after reopen: " + r.reason + " " + r.detail);
  // The first record says whether it replaced anything.
  FILE* fp = std::fopen(path.c_str(), "rb");
  if (fp == nullptr) Fail("cannot read back");
  std::string first;
  for (int c; (c = std::fgetc(fp)) != EOF && c != '\n';) first.push_back(static_cast<char>(c));
  std::fclose(fp);
  if (!vv::text::IsValidUtf8(first)) Fail("record line is not valid UTF-8");
  auto rec = json::Parse(first);
  if (!rec.ok()) Fail("record line does not parse: " + rec.status().ToString());
  const json::Value* det = rec->Find("details");
  bool marked = det != nullptr && det->Find(audit::kUntrustedBytesReplacedKey) != nullptr;
  if (marked != any_invalid) Fail("untrusted_bytes_replaced marker does not match the input");
  Remove(path);
  return 0;
}
