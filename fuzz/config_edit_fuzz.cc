// libFuzzer target: vv::config::edit::ApplyToText (the surgical `vvctl identity` edit) on
// arbitrary YAML text. The first input byte picks the edit (stage/retire a pin or a key, on
// an existing-looking or a new identity); the rest is the document. Validation against the
// gateway loader is off (no key or certificate files exist here), so the splice itself is
// what gets exercised.
// Invariants: never crashes and never throws; an error has a message; an edited document
// parses as YAML, and editing it again with the same stage edit is refused as a duplicate
// (AlreadyExists) - i.e. the first edit really landed, whichever path (splice or re-emit)
// produced it.
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "config/config_edit.h"

namespace {

using vv::config::edit::Edit;
using vv::config::edit::Op;

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "config_edit_fuzz invariant violated: %s: %s\n", what, detail.c_str());
  std::abort();
}

Edit PickEdit(uint8_t selector) {
  static const char* kIdentities[] = {"spectrastrike-producer", "other", "new-service", "a"};
  Edit e;
  e.identity = kIdentities[(selector >> 2) & 3];
  switch (selector & 3) {
    case 0:
      e.op = Op::kStagePin;
      e.pin = std::string(64, 'd');
      break;
    case 1:
      e.op = Op::kRetirePin;
      e.pin = std::string(64, 'a');
      break;
    case 2:
      e.op = Op::kStageKey;
      e.kid = "kid-fuzz";
      e.public_key_b64 = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
      break;
    default:
      e.op = Op::kRetireKey;
      e.kid = "kid-001";
      break;
  }
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Edit edit = PickEdit(data[0]);
  const std::string yaml(reinterpret_cast<const char*>(data + 1), size - 1);
  auto out = vv::config::edit::ApplyToText(yaml, edit, nullptr, "/", /*validate=*/false);
  if (!out.ok()) {
    if (out.status().message().empty()) Fail("error without a message", yaml);
    return 0;
  }
  try {
    (void)YAML::Load(*out);
  } catch (const YAML::Exception& e) {
    Fail("edited document is not YAML", std::string(e.what()) + "\n--- input:\n" + yaml +
                                            "\n--- output:\n" + *out);
  }
  if (edit.op == Op::kStagePin || edit.op == Op::kStageKey) {
    auto again = vv::config::edit::ApplyToText(*out, edit, nullptr, "/", false);
    if (again.ok() || again.status().code() != vv::StatusCode::kAlreadyExists)
      Fail("staged entry not found when staging it again",
           (again.ok() ? std::string("ok") : again.status().ToString()) + "\n--- input:\n" +
               yaml + "\n--- output:\n" + *out);
  }
  return 0;
}
