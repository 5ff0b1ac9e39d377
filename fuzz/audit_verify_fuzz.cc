// libFuzzer target: vv::audit::VerifyLogText on arbitrary text.
// Invariants: never crashes; when ok, `entries` equals the number of lines ('\n'-terminated,
// the verifier rejects a torn tail) and latest_hash is "" (no lines) or 64 hex chars; when not
// ok, the reason is one of the documented chain defects (never io_error for in-memory text and,
// with no anchors given, never an anchor defect),
// broken_at is a line that exists, and `entries` counts exactly the good prefix before it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "audit/verifier.h"
#include "common/encoding.h"

namespace {
[[noreturn]] void Fail(const char* what, const vv::audit::VerifyResult& r) {
  std::fprintf(stderr,
               "audit_verify_fuzz invariant violated: %s (ok=%d entries=%lld broken_at=%lld "
               "reason=%s detail=%s)\n",
               what, r.ok ? 1 : 0, static_cast<long long>(r.entries),
               static_cast<long long>(r.broken_at), r.reason.c_str(), r.detail.c_str());
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace audit = vv::audit;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  audit::VerifyResult r = audit::VerifyLogText(text);
  int64_t newlines = 0;
  for (char c : text) newlines += (c == '\n');
  int64_t lines = newlines + ((size > 0 && text.back() != '\n') ? 1 : 0);
  if (r.ok) {
    if (r.entries != newlines) Fail("ok but entries != number of lines", r);
    if (size > 0 && text.back() != '\n') Fail("ok despite a torn tail", r);
    if (r.entries == 0 ? !r.latest_hash.empty() : !vv::IsHex(r.latest_hash, 64))
      Fail("latest_hash is not a sha256 hex digest", r);
    (void)r.ToJson();
    return 0;
  }
  std::string_view reason = r.reason;
  if (reason != audit::kReasonEntryHashMismatch && reason != audit::kReasonPreviousHashMismatch &&
      reason != audit::kReasonIndexGap && reason != audit::kReasonMalformedLine &&
      reason != audit::kReasonSealMismatch && reason != audit::kReasonTornTail &&
      // Checkpoint-seal defects (no anchors are given, so fork/truncation reasons cannot occur).
      reason != "seal_signature_invalid" && reason != "merkle_root_mismatch")
    Fail("unexpected failure reason", r);
  if (r.broken_at < 1 || r.broken_at > lines) Fail("broken_at outside the text", r);
  if (r.entries != r.broken_at - 1) Fail("entries is not the good prefix", r);
  (void)r.ToJson();
  return 0;
}
