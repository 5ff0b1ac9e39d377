// libFuzzer target: vv::config::ParseIdentitiesJson (the machine-owned identities file the
// gateway loads at start-up and on reload, and `vvctl identity` rewrites) and the pure edit
// vv::config::identity::Apply on what it parsed. The first input byte picks an edit; the rest
// is the document.
// Invariants: never crashes and never throws; an error has a message naming the file; a parsed
// list serialises to a document that parses back to the same serialisation (the writer's output
// is always readable, and reading it is a fixed point); an edit that succeeds leaves a list that
// still round-trips, and staging the same entry again is refused as AlreadyExists.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "config/identities_file.h"
#include "config/identity_edit.h"

namespace {

using vv::config::identity::Edit;
using vv::config::identity::Op;

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "identities_file_fuzz invariant violated: %s: %s\n", what, detail.c_str());
  std::abort();
}

Edit PickEdit(uint8_t selector) {
  static const char* kIdentities[] = {"spectrastrike-producer", "svc", "a", ""};
  Edit e{Op::kStagePin, kIdentities[(selector >> 3) & 3], "", "", ""};
  switch (selector & 7) {
    case 0: e.pin = std::string(64, 'd'); break;
    case 1: e.op = Op::kRetirePin; e.pin = std::string(64, 'a'); break;
    case 2:
      e.op = Op::kStageKey;
      e.kid = "kid-fuzz";
      e.public_key_b64 = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
      break;
    case 3: e.op = Op::kRetireKey; e.kid = "k1"; break;
    case 4: e.op = Op::kSetOperators; e.operators = {"op-001", " op-002 "}; break;
    default: e.pin = std::string(64, 'e'); break;
  }
  return e;
}

void CheckRoundTrip(const std::vector<vv::config::ServiceIdentity>& ids, const std::string& input) {
  const std::string text = vv::config::SerializeIdentities(ids);
  auto again = vv::config::ParseIdentitiesJson(text, "f");
  if (!again.ok())
    Fail("serialised list does not parse", again.status().message() + "\n--- input:\n" + input);
  if (vv::config::SerializeIdentities(*again) != text)
    Fail("serialisation is not a fixed point", text + "\n--- input:\n" + input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Edit edit = PickEdit(data[0]);
  const std::string doc(reinterpret_cast<const char*>(data + 1), size - 1);
  auto ids = vv::config::ParseIdentitiesJson(doc, "identities_file f");
  if (!ids.ok()) {
    if (ids.status().message().rfind("identities_file f: ", 0) != 0)
      Fail("error does not name the file", ids.status().message());
    return 0;
  }
  CheckRoundTrip(*ids, doc);
  vv::Status s = vv::config::identity::Apply(edit, &*ids);
  if (!s.ok()) {
    if (s.message().empty()) Fail("edit error without a message", doc);
    return 0;
  }
  CheckRoundTrip(*ids, doc);
  if (edit.op == Op::kStagePin || edit.op == Op::kStageKey) {
    vv::Status dup = vv::config::identity::Apply(edit, &*ids);
    if (dup.code() != vv::StatusCode::kAlreadyExists)
      Fail("staging twice was not AlreadyExists", dup.ToString() + "\n--- input:\n" + doc);
  }
  return 0;
}
