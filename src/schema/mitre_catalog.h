#pragma once
// vv::schema::MitreCatalog: the MITRE ATT&CK Enterprise technique and tactic catalog, loaded
// from the TSV tables in data/mitre/ (see data/mitre/README.md for the columns). The telemetry
// gateway uses it to check that a technique exists and is active (neither deprecated nor
// revoked) and that a tactic belongs to a technique (DESIGN-DECISIONS item 6; the reference
// only checks the id format, wire-contract 6).
//
// Lookups are hash-map finds on short ids (no allocation beyond SSO), O(1).
// Thread-safety: immutable after Load(); all const methods may be called concurrently.
// Ownership: the catalog owns all its data; returned pointers live as long as the catalog.

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace vv::schema {

struct TechniqueInfo {
  std::string id;    // e.g. "T1059.001"
  std::string name;  // e.g. "PowerShell"
  std::vector<std::string> tactic_ids;  // TA#### in source order (mapped from shortnames)
  bool is_subtechnique = false;
  bool deprecated = false;
  bool revoked = false;
  std::vector<std::string> platforms;

  bool active() const { return !deprecated && !revoked; }
  bool HasTactic(std::string_view tactic_id) const;
};

struct TacticInfo {
  std::string id;         // e.g. "TA0002"
  std::string shortname;  // e.g. "execution"
  std::string name;       // e.g. "Execution"
};

class MitreCatalog {
 public:
  static constexpr const char* kTechniquesFile = "enterprise-attack-techniques.tsv";
  static constexpr const char* kTacticsFile = "enterprise-attack-tactics.tsv";

  // Loads <dir>/enterprise-attack-tactics.tsv and <dir>/enterprise-attack-techniques.tsv.
  // Errors (InvalidArgument / NotFound) name the file and, for malformed content, the line.
  static Result<MitreCatalog> Load(const std::string& dir);
  // Loads the built-in catalog from DefaultDir().
  static Result<MitreCatalog> Load();
  // Where the built-in catalog is looked for, first hit wins (never the source tree):
  //   1. <directory of the running executable>/../share/vectorvue/mitre  (an installed or
  //      unpacked package, wherever its prefix is; the build tree mirrors this layout)
  //   2. <install prefix>/share/vectorvue/mitre, as configured at build time
  //   3. <build tree>/share/vectorvue/mitre (test binaries live in other folders of the tree)
  // None found: the first candidate (so the error names where it was expected).
  // Config mitre_catalog_dir overrides all of them.
  static std::string DefaultDir();
  // Same, from in-memory TSV text (the names are used in error messages only).
  static Result<MitreCatalog> FromTsv(std::string_view techniques_tsv,
                                      std::string_view tactics_tsv,
                                      std::string_view techniques_name = kTechniquesFile,
                                      std::string_view tactics_name = kTacticsFile);

  // nullptr when unknown. Ids are exact (case-sensitive, e.g. "T1059.001").
  const TechniqueInfo* FindTechnique(std::string_view technique_id) const;
  const TacticInfo* FindTactic(std::string_view tactic_id) const;

  bool TechniqueExists(std::string_view technique_id) const {
    return FindTechnique(technique_id) != nullptr;
  }
  bool TechniqueActive(std::string_view technique_id) const {
    const TechniqueInfo* t = FindTechnique(technique_id);
    return t != nullptr && t->active();
  }
  bool TacticExists(std::string_view tactic_id) const { return FindTactic(tactic_id) != nullptr; }
  // True when the technique exists and lists the tactic (a sub-technique uses its own row).
  bool TacticBelongsToTechnique(std::string_view tactic_id, std::string_view technique_id) const;

  size_t technique_count() const { return techniques_.size(); }
  size_t tactic_count() const { return tactics_.size(); }

 private:
  MitreCatalog() = default;

  std::unordered_map<std::string, TechniqueInfo> techniques_;
  std::unordered_map<std::string, TacticInfo> tactics_;
};

}  // namespace vv::schema
