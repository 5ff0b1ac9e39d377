#include "schema/mitre_catalog.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace vv::schema {
namespace {

std::vector<std::string_view> SplitView(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

// Splits TSV text into lines (LF, a trailing CR is dropped). A final newline does not add an
// empty line.
std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines = SplitView(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  for (auto& l : lines) {
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  }
  return lines;
}

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool IsTechniqueId(std::string_view s, bool* is_sub) {
  if (s.size() == 5 && s[0] == 'T' && IsDigits(s.substr(1))) {
    *is_sub = false;
    return true;
  }
  if (s.size() == 9 && s[0] == 'T' && IsDigits(s.substr(1, 4)) && s[5] == '.' &&
      IsDigits(s.substr(6))) {
    *is_sub = true;
    return true;
  }
  return false;
}

bool IsTacticId(std::string_view s) {
  return s.size() == 6 && s[0] == 'T' && s[1] == 'A' && IsDigits(s.substr(2));
}

bool ParseBool(std::string_view s, bool* out) {
  if (s == "true") {
    *out = true;
    return true;
  }
  if (s == "false") {
    *out = false;
    return true;
  }
  return false;
}

Status LineError(std::string_view file, size_t line_no, std::string_view what) {
  return Status::InvalidArgument(std::string(file) + ":" + std::to_string(line_no) + ": " +
                                 std::string(what));
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open MITRE catalog file: " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument("cannot read MITRE catalog file: " + path);
  return ss.str();
}

}  // namespace

bool TechniqueInfo::HasTactic(std::string_view tactic_id) const {
  for (const auto& t : tactic_ids) {
    if (t == tactic_id) return true;
  }
  return false;
}

std::string MitreCatalog::DefaultDir() {
  namespace fs = std::filesystem;
  std::vector<std::string> candidates;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && exe.has_parent_path()) {
    candidates.push_back(
        (exe.parent_path().parent_path() / "share" / "vectorvue" / "mitre").lexically_normal());
  }
  candidates.push_back(VV_INSTALL_DATA_DIR "/mitre");
  candidates.push_back(VV_BUILD_DATA_DIR "/mitre");
  for (const auto& dir : candidates) {
    if (fs::is_regular_file(fs::path(dir) / kTechniquesFile, ec)) return dir;
  }
  return candidates.front();
}

Result<MitreCatalog> MitreCatalog::Load() { return Load(DefaultDir()); }

Result<MitreCatalog> MitreCatalog::Load(const std::string& dir) {
  VV_ASSIGN_OR_RETURN(std::string tech, ReadWholeFile(dir + "/" + kTechniquesFile));
  VV_ASSIGN_OR_RETURN(std::string tac, ReadWholeFile(dir + "/" + kTacticsFile));
  return FromTsv(tech, tac, dir + "/" + kTechniquesFile, dir + "/" + kTacticsFile);
}

Result<MitreCatalog> MitreCatalog::FromTsv(std::string_view techniques_tsv,
                                           std::string_view tactics_tsv,
                                           std::string_view techniques_name,
                                           std::string_view tactics_name) {
  MitreCatalog cat;
  std::unordered_map<std::string, std::string> shortname_to_id;

  // Tactics: tactic_id, shortname, name.
  std::vector<std::string_view> lines = Lines(tactics_tsv);
  if (lines.empty() || lines[0] != "tactic_id\tshortname\tname") {
    return LineError(tactics_name, 1, "expected header 'tactic_id<TAB>shortname<TAB>name'");
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t line_no = i + 1;
    std::vector<std::string_view> f = SplitView(lines[i], '\t');
    if (f.size() != 3) {
      return LineError(tactics_name, line_no,
                       "expected 3 tab-separated columns, got " + std::to_string(f.size()));
    }
    if (!IsTacticId(f[0])) return LineError(tactics_name, line_no, "invalid tactic id");
    if (f[1].empty()) return LineError(tactics_name, line_no, "empty shortname");
    if (f[2].empty()) return LineError(tactics_name, line_no, "empty name");
    std::string id(f[0]);
    if (cat.tactics_.count(id)) return LineError(tactics_name, line_no, "duplicate tactic id " + id);
    if (!shortname_to_id.emplace(std::string(f[1]), id).second) {
      return LineError(tactics_name, line_no, "duplicate tactic shortname");
    }
    cat.tactics_.emplace(id, TacticInfo{id, std::string(f[1]), std::string(f[2])});
  }

  // Techniques: technique_id, name, tactics, is_subtechnique, deprecated, revoked, platforms.
  lines = Lines(techniques_tsv);
  if (lines.empty() ||
      lines[0] != "technique_id\tname\ttactics\tis_subtechnique\tdeprecated\trevoked\tplatforms") {
    return LineError(techniques_name, 1, "unexpected header");
  }
  cat.techniques_.reserve(lines.size());
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t line_no = i + 1;
    std::vector<std::string_view> f = SplitView(lines[i], '\t');
    if (f.size() != 7) {
      return LineError(techniques_name, line_no,
                       "expected 7 tab-separated columns, got " + std::to_string(f.size()));
    }
    TechniqueInfo t;
    bool id_is_sub = false;
    if (!IsTechniqueId(f[0], &id_is_sub)) {
      return LineError(techniques_name, line_no, "invalid technique id");
    }
    t.id = std::string(f[0]);
    if (f[1].empty()) return LineError(techniques_name, line_no, "empty name");
    t.name = std::string(f[1]);
    if (f[2].empty()) return LineError(techniques_name, line_no, "empty tactics");
    for (std::string_view sn : SplitView(f[2], ',')) {
      auto it = shortname_to_id.find(std::string(sn));
      if (it == shortname_to_id.end()) {
        return LineError(techniques_name, line_no, "unknown tactic shortname '" + std::string(sn) + "'");
      }
      if (!t.HasTactic(it->second)) t.tactic_ids.push_back(it->second);
    }
    if (!ParseBool(f[3], &t.is_subtechnique) || !ParseBool(f[4], &t.deprecated) ||
        !ParseBool(f[5], &t.revoked)) {
      return LineError(techniques_name, line_no, "boolean columns must be 'true' or 'false'");
    }
    if (t.is_subtechnique != id_is_sub) {
      return LineError(techniques_name, line_no, "is_subtechnique disagrees with the id");
    }
    if (!f[6].empty()) {
      for (std::string_view p : SplitView(f[6], ',')) t.platforms.emplace_back(p);
    }
    if (cat.techniques_.count(t.id)) {
      return LineError(techniques_name, line_no, "duplicate technique id " + t.id);
    }
    std::string key = t.id;
    cat.techniques_.emplace(std::move(key), std::move(t));
  }
  if (cat.techniques_.empty()) return LineError(techniques_name, 1, "no techniques");
  return cat;
}

const TechniqueInfo* MitreCatalog::FindTechnique(std::string_view technique_id) const {
  if (technique_id.size() > 9) return nullptr;
  auto it = techniques_.find(std::string(technique_id));
  return it == techniques_.end() ? nullptr : &it->second;
}

const TacticInfo* MitreCatalog::FindTactic(std::string_view tactic_id) const {
  if (tactic_id.size() > 6) return nullptr;
  auto it = tactics_.find(std::string(tactic_id));
  return it == tactics_.end() ? nullptr : &it->second;
}

bool MitreCatalog::TacticBelongsToTechnique(std::string_view tactic_id,
                                            std::string_view technique_id) const {
  const TechniqueInfo* t = FindTechnique(technique_id);
  return t != nullptr && t->HasTactic(tactic_id);
}

}  // namespace vv::schema
