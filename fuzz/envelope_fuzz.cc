// libFuzzer target: vv::queue::ParseEnvelope on arbitrary wire bytes.
// Invariants: never crashes; when the bytes parse, VerifyIntegrity(e) is true exactly when
// integrity_hash equals the SHA-256 hex of the canonical JSON of the payload (recomputed here),
// and the envelope round-trips: ParseEnvelope(e.CanonicalBytes()) gives the same fields and
// the same canonical bytes again.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "crypto/crypto.h"
#include "json/json.h"
#include "queue/envelope_codec.h"

namespace {
[[noreturn]] void Fail(const char* what, const std::string& detail = "") {
  std::fprintf(stderr, "envelope_fuzz invariant violated: %s %s\n", what, detail.c_str());
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace q = vv::queue;
  std::string_view wire(reinterpret_cast<const char*>(data), size);
  vv::Result<q::Envelope> e = q::ParseEnvelope(wire);
  if (!e.ok()) return 0;
  std::string recomputed = vv::crypto::Sha256Hex(vv::json::Canonical(e->payload));
  bool expected = (e->integrity_hash == recomputed);
  if (q::VerifyIntegrity(*e) != expected)
    Fail("VerifyIntegrity disagrees with a recomputed sha256", e->integrity_hash);
  if (!e->dedupe_id.empty()) Fail("dedupe_id must not come from the wire");

  std::string bytes = e->CanonicalBytes();
  vv::Result<q::Envelope> back = q::ParseEnvelope(bytes);
  if (!back.ok()) Fail("canonical bytes of a parsed envelope do not parse", back.status().message());
  if (back->message_id != e->message_id || back->kind != e->kind ||
      back->created_at != e->created_at || back->integrity_hash != e->integrity_hash ||
      !(back->trace == e->trace) || !(back->payload == e->payload))
    Fail("envelope does not round-trip", bytes);
  if (back->CanonicalBytes() != bytes) Fail("CanonicalBytes is not a fixed point", bytes);
  if (q::VerifyIntegrity(*back) != expected) Fail("integrity changed across a round trip");
  return 0;
}
