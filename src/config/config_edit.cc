#include "config/config_edit.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "common/file.h"
#include "crypto/crypto.h"

namespace vv::config::edit {

namespace {
Status Invalid(const std::string& m) { return Status::InvalidArgument(m); }

// ---- The edit itself, on a yaml-cpp tree (the data the file must end up with). ----

Status EditTree(YAML::Node root, const Edit& e) {
  YAML::Node sec = root["vectorvue"]["telemetry_gateway"];
  if (!sec.IsMap()) return Invalid("config: missing mapping vectorvue.telemetry_gateway");
  YAML::Node ids = sec["allowed_service_identities"];
  if (!ids.IsMap()) return Invalid("config: allowed_service_identities is not a mapping");
  YAML::Node ident = ids[e.identity];
  if (!ident.IsDefined() || ident.IsNull())
    return Status::NotFound("identity '" + e.identity + "' is not in allowed_service_identities");
  if (ident.IsScalar()) {
    std::string pin = ident.Scalar();
    YAML::Node m(YAML::NodeType::Map);
    YAML::Node pins(YAML::NodeType::Sequence);
    pins.push_back(pin);
    m["cert_sha256"] = pins;
    ids[e.identity] = m;
    ident = ids[e.identity];
  }
  if (!ident.IsMap()) return Invalid("identity '" + e.identity + "' has an unexpected form");

  // Pins as a list.
  YAML::Node pins = ident["cert_sha256"];
  std::vector<std::string> pin_list;
  if (pins.IsScalar()) pin_list.push_back(pins.Scalar());
  else if (pins.IsSequence())
    for (const auto& p : pins) pin_list.push_back(p.Scalar());
  std::vector<std::string> normalized;
  for (const auto& p : pin_list) {
    auto n = config::NormalizeCertPin(p, "cert_sha256");
    normalized.push_back(n.ok() ? *n : p);
  }

  switch (e.op) {
    case Op::kStagePin:
    case Op::kRetirePin: {
      VV_ASSIGN_OR_RETURN(auto pin, config::NormalizeCertPin(e.pin, "--pin"));
      auto it = std::find(normalized.begin(), normalized.end(), pin);
      if (e.op == Op::kStagePin) {
        if (it != normalized.end()) return Status::AlreadyExists("pin already staged");
        normalized.push_back(pin);
      } else {
        if (it == normalized.end())
          return Status::NotFound("pin is not configured for " + e.identity);
        if (normalized.size() == 1)
          return Invalid("refusing to retire the last pin of " + e.identity +
                         " (stage the new pin first; use the kill switch to revoke)");
        normalized.erase(it);
      }
      YAML::Node seq(YAML::NodeType::Sequence);
      for (const auto& p : normalized) seq.push_back(p);
      ident["cert_sha256"] = seq;
      break;
    }
    case Op::kStageKey:
    case Op::kRetireKey: {
      if (e.kid.empty()) return Invalid("--kid is required");
      YAML::Node keys = ident["signing_keys"];
      if (keys.IsDefined() && !keys.IsNull() && !keys.IsMap())
        return Invalid("signing_keys of " + e.identity + " is not a mapping");
      if (!keys.IsMap()) keys = YAML::Node(YAML::NodeType::Map);
      if (e.op == Op::kStageKey) {
        auto pk = crypto::Ed25519PublicKey::FromBase64(e.public_key_b64);
        if (!pk.ok()) return Invalid("--public-key: " + pk.status().message());
        if (keys[e.kid].IsDefined() && !keys[e.kid].IsNull())
          return Status::AlreadyExists("kid '" + e.kid + "' already exists for " + e.identity);
        keys[e.kid] = e.public_key_b64;
      } else {
        if (!keys[e.kid].IsDefined() || keys[e.kid].IsNull())
          return Status::NotFound("kid '" + e.kid + "' is not configured for " + e.identity);
        if (keys.size() == 1)
          return Invalid("refusing to retire the last signing key of " + e.identity +
                         " (stage the new key first; use the kill switch to revoke)");
        keys.remove(e.kid);
      }
      ident["signing_keys"] = keys;
      break;
    }
    case Op::kSetOperators: {
      // Validation (ParseGatewayConfig) refuses operators missing from operator_tenant_map.
      if (e.operators.empty())
        return Invalid("--operator is required (the operators " + e.identity + " may act for)");
      YAML::Node seq(YAML::NodeType::Sequence);
      for (const auto& op : e.operators) {
        if (op.empty()) return Invalid("--operator must not be empty");
        seq.push_back(op);
      }
      ident["operators"] = seq;
      break;
    }
  }
  return Status::Ok();
}

// ---- Surgical text edit: rewrite only the lines of the entries whose data changed. ----

// Same data (type, scalar text, sequence order, map contents); tags, styles and key order
// are not compared.
bool SameData(const YAML::Node& a, const YAML::Node& b) {
  if (a.Type() != b.Type()) return false;
  switch (a.Type()) {
    case YAML::NodeType::Scalar:
      return a.Scalar() == b.Scalar();
    case YAML::NodeType::Sequence:
      if (a.size() != b.size()) return false;
      for (std::size_t i = 0; i < a.size(); ++i)
        if (!SameData(a[i], b[i])) return false;
      return true;
    case YAML::NodeType::Map:
      if (a.size() != b.size()) return false;
      for (const auto& kv : a) {
        if (!kv.first.IsScalar()) return false;
        const YAML::Node other = b[kv.first.Scalar()];
        if (!other.IsDefined() || !SameData(kv.second, other)) return false;
      }
      return true;
    default:  // Null, Undefined
      return true;
  }
}

// Lines a line-based splice must not cut through: anchors, aliases, explicit tags and flow
// collections (from yaml-cpp's event parser, first document only, like YAML::Load).
class SpecialLines : public YAML::EventHandler {
 public:
  std::map<int, std::string> lines;  // line -> what is on it

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t a) override { Note(m, "?", a, false); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { lines.emplace(m.line, "alias"); }
  void OnScalar(const YAML::Mark& m, const std::string& tag, YAML::anchor_t a,
                const std::string&) override {
    Note(m, tag, a, false);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string& tag, YAML::anchor_t a,
                       YAML::EmitterStyle::value style) override {
    Note(m, tag, a, style == YAML::EmitterStyle::Flow);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string& tag, YAML::anchor_t a,
                  YAML::EmitterStyle::value style) override {
    Note(m, tag, a, style == YAML::EmitterStyle::Flow);
  }
  void OnMapEnd() override {}

 private:
  void Note(const YAML::Mark& m, const std::string& tag, YAML::anchor_t a, bool flow) {
    if (flow) lines.emplace(m.line, "flow-style collection");
    if (a != YAML::NullAnchor) lines.emplace(m.line, "anchor");
    if (!tag.empty() && tag != "?" && tag != "!") lines.emplace(m.line, "tag");
  }
};

void SetBlockStyle(YAML::Node n) {
  if (!n.IsMap() && !n.IsSequence()) return;
  n.SetStyle(YAML::EmitterStyle::Block);
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (n.IsMap()) {
      SetBlockStyle(it->second);
    } else {
      SetBlockStyle(YAML::Node(*it));
    }
  }
}

// `key: value` in block style, every line indented by `col`; `tail` (a comment) ends line 1.
std::vector<std::string> EmitEntry(const std::string& key, const YAML::Node& value, int col,
                                   int step, const std::string& tail) {
  YAML::Node copy = YAML::Clone(value);
  SetBlockStyle(copy);
  YAML::Emitter out;
  out.SetIndent(step);
  out << YAML::BeginMap << YAML::Key << key << YAML::Value << copy << YAML::EndMap;
  std::vector<std::string> lines;
  if (!out.good()) return lines;
  std::istringstream in(out.c_str());
  for (std::string l; std::getline(in, l);) lines.push_back(std::string(col, ' ') + l);
  if (!lines.empty()) lines[0] += tail;
  return lines;
}

// Computes line replacements that turn the original text (whose yaml-cpp marks index
// `lines`) into one carrying the edited tree. Descends into block collections as far as the
// data differs, so that only the changed entries' lines are rewritten. Any construct it cannot
// place safely makes Diff() fail with reason(); the caller then re-emits the whole document.
class Splicer {
 public:
  Splicer(const std::vector<std::string>& lines, const std::map<int, std::string>& special)
      : lines_(lines), special_(special) {}

  // Diffs the block mapping `before` (children on lines [begin, end), indented deeper than
  // `parent_col`) against `after`.
  bool DiffMap(const YAML::Node& before, const YAML::Node& after, int begin, int end,
               int parent_col);
  // The spliced lines; empty when the changes overlap (not expected).
  std::vector<std::string> Lines();
  const std::string& reason() const { return reason_; }

 private:
  struct Child {
    std::string key;  // maps only
    YAML::Node value;
    int line = 0;  // first line of the entry (the key or the `- ` item)
    int col = 0;   // column of the key or item
    int end = 0;   // one past the entry's last content line
  };
  struct Change {
    int begin, end;  // lines replaced ([begin, begin): insertion)
    std::vector<std::string> text;
  };

  bool Fail(std::string why) {
    reason_ = std::move(why);
    return false;
  }
  // Non-blank, not a comment-only line.
  bool IsContent(int i) const {
    const auto p = lines_[i].find_first_not_of(" \t");
    return p != std::string::npos && lines_[i][p] != '#';
  }
  int ContentEnd(int begin, int end) const {
    while (end > begin && !IsContent(end - 1)) --end;
    return end;
  }
  bool Children(const YAML::Node& node, int begin, int end, int parent_col,
                std::vector<Child>* out);
  bool DiffSeq(const Child& entry, const YAML::Node& after, int step);
  bool ReplaceEntry(const Child& entry, const YAML::Node& after, int step);
  bool Replace(int begin, int end, std::vector<std::string> text);
  std::string KeyLineTail(const Child& c) const;

  const std::vector<std::string>& lines_;
  const std::map<int, std::string>& special_;
  std::vector<Change> changes_;
  std::string reason_;
};

bool Splicer::Children(const YAML::Node& node, int begin, int end, int parent_col,
                       std::vector<Child>* out) {
  if (node.Style() != YAML::EmitterStyle::Block) return Fail("flow-style collection");
  const bool map = node.IsMap();
  std::set<std::string> keys;
  for (auto it = node.begin(); it != node.end(); ++it) {
    // Copy-construct (a yaml-cpp Node assignment would rebind the node's data).
    Child c{"", map ? YAML::Node(it->second) : YAML::Node(*it)};
    if (map) {
      if (!it->first.IsScalar()) return Fail("non-scalar mapping key");
      c.key = it->first.Scalar();
      if (!keys.insert(c.key).second) return Fail("duplicate key '" + c.key + "'");
    }
    const YAML::Mark m = map ? it->first.Mark() : c.value.Mark();
    c.line = m.line;
    c.col = m.column;
    if (c.line < begin || c.line >= end || (!out->empty() && c.line <= out->back().line))
      return Fail("an entry is not on its own line inside its parent (line " +
                  std::to_string(c.line + 1) + ")");
    if (c.col <= parent_col || (!out->empty() && c.col != out->front().col))
      return Fail("irregular indentation at line " + std::to_string(c.line + 1));
    const std::string prefix = lines_[c.line].substr(0, c.col);
    const auto dash = prefix.find_first_not_of(' ');
    const bool plain_prefix =
        map ? dash == std::string::npos
            : dash != std::string::npos && prefix[dash] == '-' && dash + 1 < prefix.size() &&
                  prefix.find_first_not_of(' ', dash + 1) == std::string::npos;
    if (!plain_prefix)
      return Fail("unexpected text before the entry at line " + std::to_string(c.line + 1));
    out->push_back(std::move(c));
  }
  if (out->empty()) return Fail("empty collection");
  for (std::size_t i = 0; i < out->size(); ++i)
    (*out)[i].end = ContentEnd((*out)[i].line, i + 1 < out->size() ? (*out)[i + 1].line : end);
  return true;
}

bool Splicer::DiffMap(const YAML::Node& before, const YAML::Node& after, int begin, int end,
                      int parent_col) {
  std::vector<Child> kids;
  if (!after.IsMap() || !Children(before, begin, end, parent_col, &kids)) return false;
  // Indentation step of this file (for the nested lines of emitted entries).
  const int step = std::clamp(parent_col < 0 ? 2 : kids.front().col - parent_col, 2, 9);
  for (const Child& c : kids) {
    const YAML::Node now = after[c.key];
    if (!now.IsDefined()) {
      if (!Replace(c.line, c.end, {})) return false;
      continue;
    }
    if (SameData(c.value, now)) continue;
    const bool own_lines = c.value.Mark().line > c.line;  // block collection below the key
    if (own_lines && c.value.IsMap() && now.IsMap()) {
      const std::size_t undo = changes_.size();
      if (DiffMap(c.value, now, c.line + 1, c.end, c.col)) continue;
      changes_.resize(undo);  // rewrite the whole entry instead
    } else if (own_lines && c.value.IsSequence() && now.IsSequence()) {
      if (!DiffSeq(c, now, step)) return false;
      continue;
    }
    if (!ReplaceEntry(c, now, step)) return false;
  }
  for (const auto& kv : after) {
    if (!kv.first.IsScalar()) return Fail("non-scalar mapping key");
    const std::string key = kv.first.Scalar();
    if (before[key].IsDefined()) continue;
    auto text = EmitEntry(key, kv.second, kids.front().col, step, "");
    if (text.empty()) return Fail("cannot emit '" + key + "'");
    if (!Replace(kids.back().end, kids.back().end, std::move(text))) return false;
  }
  return true;
}

// A sequence of scalars that only gained or lost a run of items: insert or delete just those
// item lines (keeping comments on the other items); anything else rewrites the entry.
bool Splicer::DiffSeq(const Child& entry, const YAML::Node& after, int step) {
  const YAML::Node& before = entry.value;
  const auto scalars = [](const YAML::Node& s) {
    for (const auto& item : s)
      if (!item.IsScalar()) return false;
    return true;
  };
  std::vector<Child> items;
  if (after.size() == 0 || !scalars(before) || !scalars(after) ||
      !Children(before, entry.line + 1, entry.end, entry.col, &items))
    return ReplaceEntry(entry, after, step);
  const std::size_t n = before.size(), m = after.size();
  std::size_t p = 0, s = 0;
  while (p < n && p < m && before[p].Scalar() == after[p].Scalar()) ++p;
  while (s < n - p && s < m - p && before[n - 1 - s].Scalar() == after[m - 1 - s].Scalar()) ++s;
  if (p + s == n) {  // after[p, m - s) inserted
    const Child& ref = items[p > 0 ? p - 1 : 0];
    const std::string prefix = lines_[ref.line].substr(0, ref.col);
    std::vector<std::string> text;
    for (std::size_t i = p; i < m - s; ++i) {
      YAML::Emitter out;
      out << after[i].Scalar();
      const std::string item = out.good() ? out.c_str() : "\n";
      if (item.find('\n') != std::string::npos) return ReplaceEntry(entry, after, step);
      text.push_back(prefix + item);
    }
    const int at = p > 0 ? items[p - 1].end : items[0].line;
    return Replace(at, at, std::move(text));
  }
  if (p + s == m) return Replace(items[p].line, items[n - s - 1].end, {});  // before[p, n - s)
  return ReplaceEntry(entry, after, step);
}

bool Splicer::ReplaceEntry(const Child& entry, const YAML::Node& after, int step) {
  auto text = EmitEntry(entry.key, after, entry.col, step, KeyLineTail(entry));
  if (text.empty()) return Fail("cannot emit '" + entry.key + "'");
  return Replace(entry.line, entry.end, std::move(text));
}

bool Splicer::Replace(int begin, int end, std::vector<std::string> text) {
  const auto it = special_.lower_bound(begin);
  if (it != special_.end() && it->first < end)
    return Fail(it->second + " at line " + std::to_string(it->first + 1));
  changes_.push_back({begin, end, std::move(text)});
  return true;
}

// The comment ending the entry's first line (with the spaces before it), when the line is
// `key: [plain scalar]  # comment`; empty otherwise.
std::string Splicer::KeyLineTail(const Child& c) const {
  const std::string& l = lines_[c.line];
  if (l.compare(c.col, c.key.size(), c.key) != 0) return "";
  std::size_t pos = l.find_first_not_of(' ', c.col + c.key.size());
  if (pos == std::string::npos || l[pos] != ':') return "";
  ++pos;
  const YAML::Mark vm = c.value.Mark();
  if (c.value.IsScalar() && vm.line == c.line) {
    const std::string& v = c.value.Scalar();
    const auto col = static_cast<std::size_t>(vm.column);
    if (col < pos || l.compare(col, v.size(), v) != 0) return "";
    pos = col + v.size();
  }
  const std::size_t hash = l.find_first_not_of(' ', pos);
  if (hash == std::string::npos || hash == pos || l[hash] != '#') return "";
  return l.substr(pos);
}

std::vector<std::string> Splicer::Lines() {
  std::stable_sort(changes_.begin(), changes_.end(),
                   [](const Change& a, const Change& b) { return a.begin < b.begin; });
  std::vector<std::string> out;
  int cur = 0;
  for (const Change& c : changes_) {
    if (c.begin < cur) return {};
    out.insert(out.end(), lines_.begin() + cur, lines_.begin() + c.begin);
    out.insert(out.end(), c.text.begin(), c.text.end());
    cur = c.end;
  }
  out.insert(out.end(), lines_.begin() + cur, lines_.end());
  return out;
}

// The original text's byte order mark and line endings, put back on the result.
struct Layout {
  std::string bom;
  bool crlf = false;
  std::string body;     // LF line endings, no BOM
  std::string problem;  // why the text cannot be spliced; empty if it can

  explicit Layout(const std::string& text) {
    static const std::string kBom = "\xEF\xBB\xBF";
    body = text;
    if (body.compare(0, kBom.size(), kBom) == 0) {
      bom = kBom;
      body.erase(0, kBom.size());
    }
    std::size_t cr = 0, lf = 0, crlf_pairs = 0;
    for (std::size_t i = 0; i < body.size(); ++i) {
      if (body[i] == '\r') ++cr;
      if (body[i] == '\n') {
        ++lf;
        if (i > 0 && body[i - 1] == '\r') ++crlf_pairs;
      }
    }
    if (cr == 0) return;
    if (cr != crlf_pairs || crlf_pairs != lf) {
      problem = "mixed or bare-CR line endings";
      return;
    }
    crlf = true;
    std::string lf_only;
    lf_only.reserve(body.size());
    for (char ch : body)
      if (ch != '\r') lf_only.push_back(ch);
    body = std::move(lf_only);
  }

  std::string Restore(const std::string& lf_text) const {
    if (!crlf) return bom + lf_text;
    std::string out = bom;
    out.reserve(bom.size() + lf_text.size() + lf_text.size() / 16);
    for (char ch : lf_text) {
      if (ch == '\n') out.push_back('\r');
      out.push_back(ch);
    }
    return out;
  }
};

// `body` with only the entries that differ from `edited` rewritten; nullopt (and `why`) when
// that cannot be done safely.
std::optional<std::string> Splice(const std::string& body, const YAML::Node& edited,
                                  std::string* why) {
  std::vector<std::string> lines;
  for (std::size_t start = 0; start < body.size();) {
    const std::size_t nl = body.find('\n', start);
    lines.push_back(body.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    start = nl == std::string::npos ? body.size() : nl + 1;
  }
  const YAML::Node original = YAML::Load(body);
  if (!original.IsMap() || original.size() == 0) {
    *why = "the document is not a block mapping";
    return std::nullopt;
  }
  SpecialLines special;
  {
    std::istringstream in(body);
    YAML::Parser parser(in);
    parser.HandleNextDocument(special);
  }
  // The first document ends at a `---` or `...` line after its first key.
  int end = static_cast<int>(lines.size());
  for (int i = original.begin()->first.Mark().line + 1; i < end; ++i) {
    const std::string& l = lines[i];
    if ((l.rfind("---", 0) == 0 || l.rfind("...", 0) == 0) &&
        (l.size() == 3 || l[3] == ' ' || l[3] == '\t'))
      end = i;
  }
  Splicer splicer(lines, special.lines);
  if (!splicer.DiffMap(original, edited, 0, end, -1)) {
    *why = splicer.reason();
    return std::nullopt;
  }
  const std::vector<std::string> out = splicer.Lines();
  if (out.empty()) {
    *why = "overlapping changes";
    return std::nullopt;
  }
  std::string text;
  for (std::size_t i = 0; i < out.size(); ++i) {
    text += out[i];
    if (i + 1 < out.size() || (!body.empty() && body.back() == '\n')) text += '\n';
  }
  return text;
}

bool ReparsesTo(const std::string& text, const YAML::Node& expected) {
  try {
    return SameData(YAML::Load(text), expected);
  } catch (const YAML::Exception&) {
    return false;
  }
}

}  // namespace

Result<std::string> ApplyToText(const std::string& yaml_text, const Edit& e,
                                const config::EnvLookup& env, const std::string& base_dir,
                                bool validate, ApplyReport* report) {
  ApplyReport local;
  ApplyReport& rep = report != nullptr ? *report : local;
  rep = ApplyReport{};
  try {
    const Layout layout(yaml_text);
    YAML::Node root = YAML::Load(layout.body);
    Status edited = EditTree(root, e);
    if (!edited.ok()) return edited;
    std::string text;
    std::optional<std::string> spliced;
    if (layout.problem.empty()) {
      spliced = Splice(layout.body, root, &rep.fallback_reason);
    } else {
      rep.fallback_reason = layout.problem;
    }
    // What is written (BOM and line endings restored) must load as exactly the edited
    // document. A splice that does not (a layout it misjudged) gives way to a whole re-emit;
    // a re-emit that does not (yaml-cpp cannot always write back what it read: keys with
    // invalid UTF-8 or control characters) is refused, nothing written.
    if (spliced) {
      std::string restored = layout.Restore(*spliced);
      if (ReparsesTo(restored, root)) {
        rep.surgical = true;
        text = std::move(restored);
      } else {
        spliced.reset();
        rep.fallback_reason = "the in-place edit of identity '" + e.identity +
                              "' would not reproduce the edited document";
      }
    }
    if (!spliced) {
      YAML::Emitter out;
      out << root;
      if (!out.good())
        return Invalid(std::string("config: cannot emit YAML: ") + out.GetLastError());
      text = layout.Restore(std::string(out.c_str()) + "\n");
      if (!ReparsesTo(text, root))
        return Invalid("config: the edited document cannot be written back faithfully "
                       "(unusual keys or characters); nothing changed");
    }
    if (validate) {
      auto cfg = config::ParseGatewayConfig(text, env, base_dir);
      if (!cfg.ok())
        return Status(cfg.status().code(),
                      "the edited config would not validate: " + cfg.status().message());
    }
    return text;
  } catch (const YAML::Exception& ex) {
    return Invalid(std::string("config: invalid YAML: ") + ex.what());
  }
}

Status WriteFileAtomic(const std::string& path, const std::string& content, int mode) {
  return vv::WriteFileAtomic(path, content, mode);
}

Status ApplyToFile(const std::string& path, const Edit& edit, const config::EnvLookup& env) {
  VV_ASSIGN_OR_RETURN(auto text, crypto::ReadFileBytes(path));
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  std::string base = ec ? std::string() : abs.parent_path().string();
  ApplyReport report;
  VV_ASSIGN_OR_RETURN(auto next, ApplyToText(text, edit, env, base, true, &report));
  if (!report.surgical)
    spdlog::warn("config_edit: {}: re-emitted the whole document ({}); YAML comments and "
                 "formatting were not preserved",
                 path, report.fallback_reason);
  struct stat st {};
  int mode = ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : 0600;
  return WriteFileAtomic(path, next, mode);
}

}  // namespace vv::config::edit
