#pragma once
// The config table kit: every key of a config section is declared ONCE, as one row
//   {YAML key (+ older aliases), environment variable(s), type, validator, field, printer}
// and that one table drives all four jobs that used to be written out per key:
//   (a) YAML parsing (Table::ApplyYaml): walks the section's mapping, refuses duplicate and
//       unknown keys (all unknown keys named together; nested mappings such as `tls:` are keys
//       "tls.cert_path" of the same table), parses each value with the row's type;
//   (b) environment overrides (Table::ApplyEnv): after the YAML, each row's variables in the
//       order listed (a later variable wins over an earlier one, both win over YAML);
//   (c) validation (Table::Validate): every row's validator plus the section's cross-key rules,
//       ALL violations collected (Violations), not just the first;
//   (d) the effective-config printer (Table::Describe): one `name=value` per printed row, URLs
//       through RedactUrl, secrets never (Show::kHidden rows are not printed at all).
// Precedence, lowest to highest: the struct's default, the YAML value, the environment
// variables (docs/operations.md, "Configuration precedence"). Defaults live in the typed struct
// (one place: the member initialiser), the row points at the member.
// A load fails with every parse error (YAML and environment) at once; if parsing succeeded it
// fails with every validation violation at once. Each message names the key (and its variable).
// Thread-safety: tables are immutable after construction (function-local statics); applying
// one to a config object is a pure function of its inputs.

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/env.h"
#include "common/status.h"

namespace vv::config {

// Defined in gateway_config.cc / effective_config.cc (declared in their headers too).
std::string ResolveConfigPath(const std::string& p, const std::string& base_dir);
Result<bool> ParseBoolSetting(std::string_view text, const std::string& name);
Result<int64_t> ParseIntSetting(std::string_view text, const std::string& name);
std::string RedactUrl(std::string_view url);

namespace table {

// Every violation of one load, in the order found.
class Violations {
 public:
  void Add(Status s) {
    if (!s.ok()) list_.push_back(std::move(s));
  }
  void Add(const Violations& other) {
    for (const auto& s : other.list_) list_.push_back(s);
  }
  bool empty() const { return list_.empty(); }
  size_t size() const { return list_.size(); }
  const std::vector<Status>& list() const { return list_; }
  // Ok; the one violation as it is; or "N config errors: first; second; ..." with the first
  // violation's code.
  Status ToStatus() const {
    if (list_.empty()) return Status::Ok();
    if (list_.size() == 1) return list_.front();
    std::string msg = std::to_string(list_.size()) + " config errors: ";
    for (size_t i = 0; i < list_.size(); ++i) msg += (i ? "; " : "") + list_[i].message();
    return Status(list_.front().code(), msg);
  }

 private:
  std::vector<Status> list_;
};

// Where a section's values come from.
struct Source {
  std::string base_dir;    // relative YAML paths resolve against it
  std::string key_prefix;  // prepended to key names in messages ("" or "vectorvue.evidence_engine.")
};

// How a row appears in the effective-config line.
enum class Show { kPlain, kUrl, kHidden };

// A field of config struct C of type T: a member, or a member of a member (tls.cert_path).
template <class C, class T>
struct Field {
  std::function<T&(C&)> ref;
  T& operator()(C& c) const { return ref(c); }
  // Read-only access for validators and the printer (the object is never written through it).
  const T& operator()(const C& c) const { return ref(const_cast<C&>(c)); }
};
template <class C, class T>
Field<C, T> F(T C::*m) {
  return {[m](C& c) -> T& { return c.*m; }};
}
template <class C, class S, class T>
Field<C, T> F(S C::*s, T S::*m) {
  return {[s, m](C& c) -> T& { return (c.*s).*m; }};
}

template <class C>
struct Key {
  using YamlFn = std::function<Status(C&, const YAML::Node&, const std::string& name,
                                      const Source&)>;
  using EnvFn = std::function<Status(C&, const std::string& text, const std::string& var)>;
  using CheckFn = std::function<void(const C&, Violations*)>;
  using PrintFn = std::function<std::string(const C&)>;

  std::string yaml;                  // "" = environment only; "a.b" = key b of mapping a
  std::vector<std::string> aliases;  // older spellings, same meaning
  std::vector<std::string> env;      // applied in this order after the YAML
  YamlFn from_yaml;
  EnvFn from_env;
  CheckFn check;                     // optional per-key validator
  std::string print_name;            // "" = yaml
  PrintFn print;                     // null = not printed
  Show show = Show::kPlain;

  // Fluent modifiers used in the table declarations.
  Key&& Env(std::vector<std::string> vars) && { env = std::move(vars); return std::move(*this); }
  Key&& Alias(std::string a) && { aliases.push_back(std::move(a)); return std::move(*this); }
  Key&& Check(CheckFn fn) && { check = std::move(fn); return std::move(*this); }
  Key&& Print(std::string name, PrintFn fn = nullptr) && {
    print_name = std::move(name);
    if (fn) print = std::move(fn);
    return std::move(*this);
  }
  Key&& NoPrint() && { print = nullptr; return std::move(*this); }
  Key&& Secret() && { show = Show::kHidden; print = nullptr; return std::move(*this); }
  Key&& Url() && { show = Show::kUrl; return std::move(*this); }
};

inline std::string TrimCopy(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\n' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n' || s[e - 1] == '\r'))
    --e;
  return std::string(s.substr(b, e - b));
}
inline std::string LowerCopy(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// A YAML scalar as a string; `key:` with nothing reads as "".
inline Result<std::string> YamlScalar(const YAML::Node& n, const std::string& name) {
  if (n.IsNull()) return std::string();
  if (!n.IsScalar()) return Status::InvalidArgument(name + " must be a scalar value");
  return n.Scalar();
}

// ---- Row types ------------------------------------------------------------------------------

// A string, trimmed (environment too).
template <class C>
Key<C> Str(std::string yaml, Field<C, std::string> f) {
  Key<C> k;
  k.yaml = std::move(yaml);
  k.from_yaml = [f](C& c, const YAML::Node& v, const std::string& name, const Source&) {
    VV_ASSIGN_OR_RETURN(auto s, YamlScalar(v, name));
    f(c) = TrimCopy(s);
    return Status::Ok();
  };
  k.from_env = [f](C& c, const std::string& text, const std::string&) {
    f(c) = TrimCopy(text);
    return Status::Ok();
  };
  k.print = [f](const C& c) { return f(c); };
  return k;
}

// A file path: relative YAML values resolve against the config file's directory; environment
// values are taken as given (relative to the working directory).
template <class C>
Key<C> Path(std::string yaml, Field<C, std::string> f) {
  Key<C> k = Str<C>(std::move(yaml), f);
  k.from_yaml = [f](C& c, const YAML::Node& v, const std::string& name, const Source& src) {
    VV_ASSIGN_OR_RETURN(auto s, YamlScalar(v, name));
    f(c) = ResolveConfigPath(TrimCopy(s), src.base_dir);
    return Status::Ok();
  };
  return k;
}

// A choice among names (a backend, a profile): trimmed, lowercased, aliases mapped to their
// canonical name (e.g. memory -> embedded). Membership is checked by the row's validator so the
// message can say what the section allows.
template <class C>
Key<C> Choice(std::string yaml, Field<C, std::string> f,
              std::vector<std::pair<std::string, std::string>> aliases = {}) {
  auto norm = [aliases](std::string_view text) {
    std::string v = LowerCopy(TrimCopy(text));
    for (const auto& [from, to] : aliases)
      if (v == from) return to;
    return v;
  };
  Key<C> k = Str<C>(std::move(yaml), f);
  k.from_yaml = [f, norm](C& c, const YAML::Node& v, const std::string& name, const Source&) {
    VV_ASSIGN_OR_RETURN(auto s, YamlScalar(v, name));
    f(c) = norm(s);
    return Status::Ok();
  };
  k.from_env = [f, norm](C& c, const std::string& text, const std::string&) {
    f(c) = norm(text);
    return Status::Ok();
  };
  return k;
}

// A choice stored as an enum (a backend): trimmed, lowercased, looked up in `names` (canonical
// name first, then aliases). An unknown name is a parse error worded `msg` (with the variable's
// name when it came from the environment, and the value bounded); the validator refuses a value outside `names` (a
// hand-built struct); the printer shows the canonical name.
template <class C, class E, size_t N>
Key<C> Enum(std::string yaml, Field<C, E> f,
            const std::array<std::pair<std::string_view, E>, N>& names, std::string msg) {
  auto set = [f, names, msg](C& c, std::string_view text, const std::string& where) -> Status {
    const std::string v = LowerCopy(TrimCopy(text));
    for (const auto& [n, e] : names)
      if (n == v) {
        f(c) = e;
        return Status::Ok();
      }
    std::string got;  // echoed bounded and printable: the message reaches logs
    for (char ch : v.substr(0, 64)) got += (ch >= 0x20 && ch < 0x7f) ? ch : '?';
    return Status::InvalidArgument(msg + where + " (got '" + got + "')");
  };
  Key<C> k;
  k.yaml = std::move(yaml);
  k.from_yaml = [set](C& c, const YAML::Node& v, const std::string& name, const Source&) {
    VV_ASSIGN_OR_RETURN(auto s, YamlScalar(v, name));
    return set(c, s, "");
  };
  k.from_env = [set](C& c, const std::string& text, const std::string& var) {
    return set(c, text, " (" + var + ")");
  };
  auto name_of = [names](E e) -> std::string {
    for (const auto& [n, v] : names)
      if (v == e) return std::string(n);
    return "";
  };
  k.check = [f, name_of, msg](const C& c, Violations* v) {
    if (name_of(f(c)).empty()) v->Add(Status::InvalidArgument(msg));
  };
  k.print = [f, name_of](const C& c) { return name_of(f(c)); };
  return k;
}

template <class C>
Key<C> Bool(std::string yaml, Field<C, bool> f) {
  Key<C> k;
  k.yaml = std::move(yaml);
  k.from_yaml = [f](C& c, const YAML::Node& v, const std::string& name, const Source&) -> Status {
    if (!v.IsScalar()) return Status::InvalidArgument(name + " must be a boolean (true/false)");
    VV_ASSIGN_OR_RETURN(auto b, ParseBoolSetting(v.Scalar(), name));
    f(c) = b;
    return Status::Ok();
  };
  k.from_env = [f](C& c, const std::string& text, const std::string& var) -> Status {
    VV_ASSIGN_OR_RETURN(auto b, ParseBoolSetting(text, var));
    f(c) = b;
    return Status::Ok();
  };
  k.print = [f](const C& c) { return std::string(f(c) ? "true" : "false"); };
  return k;
}

// Bounds enforced while parsing (values the struct's type could not hold sensibly). `between`
// words the message "between lo and hi"; otherwise ">= lo" / "<= hi" separately.
struct Range {
  int64_t lo = std::numeric_limits<int64_t>::min();
  int64_t hi = std::numeric_limits<int64_t>::max();
  bool between = false;
  Status Check(int64_t v, const std::string& name) const {
    if (between && (v < lo || v > hi))
      return Status::InvalidArgument(name + " must be between " + std::to_string(lo) + " and " +
                                     std::to_string(hi));
    if (v < lo) return Status::InvalidArgument(name + " must be >= " + std::to_string(lo));
    if (v > hi) return Status::InvalidArgument(name + " must be <= " + std::to_string(hi));
    return Status::Ok();
  }
};

// An integer of any width; parse-time bounds per source (YAML and environment).
template <class C, class T>
Key<C> Int(std::string yaml, Field<C, T> f, Range yaml_range = {}, Range env_range = {}) {
  Key<C> k;
  k.yaml = std::move(yaml);
  auto set = [f](C& c, std::string_view text, const std::string& name, const Range& r) -> Status {
    VV_ASSIGN_OR_RETURN(auto i, ParseIntSetting(text, name));
    VV_RETURN_IF_ERROR(r.Check(i, name));
    f(c) = static_cast<T>(i);
    return Status::Ok();
  };
  k.from_yaml = [set, yaml_range](C& c, const YAML::Node& v, const std::string& name,
                                  const Source&) -> Status {
    if (!v.IsScalar()) return Status::InvalidArgument(name + " must be an integer");
    return set(c, v.Scalar(), name, yaml_range);
  };
  k.from_env = [set, env_range](C& c, const std::string& text, const std::string& var) {
    return set(c, text, var, env_range);
  };
  k.print = [f](const C& c) { return std::to_string(f(c)); };
  return k;
}

// Anything else: the row supplies its own parsers (and printer, if printed).
template <class C>
Key<C> Custom(std::string yaml, typename Key<C>::YamlFn from_yaml,
              typename Key<C>::EnvFn from_env = nullptr) {
  Key<C> k;
  k.yaml = std::move(yaml);
  k.from_yaml = std::move(from_yaml);
  k.from_env = std::move(from_env);
  return k;
}

// A value set only from the environment (never from YAML), e.g. an inline secret.
template <class C>
Key<C> EnvOnly(typename Key<C>::EnvFn from_env) {
  return Custom<C>("", nullptr, std::move(from_env));
}

// A printed value that is not a key of this section (derived or borrowed).
template <class C>
Key<C> PrintOnly(std::string name, typename Key<C>::PrintFn fn) {
  Key<C> k;
  k.print_name = std::move(name);
  k.print = std::move(fn);
  return k;
}

// ---- The table --------------------------------------------------------------------------------

template <class C>
class Table {
 public:
  // A cross-key rule of the section (a validator that needs more than one key).
  using Rule = std::function<void(const C&, Violations*)>;

  Table(std::string section, std::vector<Key<C>> keys, std::vector<Rule> rules = {},
        std::string unknown_hint = "")
      : section_(std::move(section)),
        keys_(std::move(keys)),
        rules_(std::move(rules)),
        unknown_hint_(std::move(unknown_hint)) {}

  const std::string& section() const { return section_; }
  const std::vector<Key<C>>& keys() const { return keys_; }

  // The row for a YAML key or alias ("tls.cert_path"), or nullptr.
  const Key<C>* Find(const std::string& yaml) const {
    for (const auto& k : keys_) {
      if (!k.yaml.empty() && k.yaml == yaml) return &k;
      for (const auto& a : k.aliases)
        if (a == yaml) return &k;
    }
    return nullptr;
  }

  // (a) Applies the section mapping `sec` (null = nothing) to `cfg`. `only`: apply just these
  // rows and ignore every other key (a service reading keys it shares with another section);
  // empty = the whole table, unknown keys refused.
  void ApplyYaml(const YAML::Node& sec, const Source& src, C* cfg, Violations* errors,
                 const std::set<std::string>& only = {}) const {
    std::vector<std::string> unknown;
    Walk(sec, "", src, cfg, errors, only, &unknown);
    if (!unknown.empty()) {
      std::string list;
      for (const auto& u : unknown) list += (list.empty() ? "" : ", ") + u;
      errors->Add(Status::InvalidArgument("unknown key(s) in " + section_ + ": " + list +
                                          unknown_hint_));
    }
  }

  // (b) Applies every row's environment variables (those that are set), in table order.
  void ApplyEnv(const EnvLookup& env, C* cfg, Violations* errors,
                const std::set<std::string>& only = {}) const {
    if (!env) return;
    for (const auto& k : keys_) {
      if (!k.from_env || (!only.empty() && only.count(k.yaml) == 0)) continue;
      for (const auto& var : k.env)
        if (auto v = env(var)) errors->Add(k.from_env(*cfg, *v, var));
    }
  }

  // (c) Every violation of the section's validators and rules.
  Violations Validate(const C& cfg) const {
    Violations v;
    for (const auto& k : keys_)
      if (k.check) k.check(cfg, &v);
    for (const auto& r : rules_) r(cfg, &v);
    return v;
  }

  // (d) `name=value name=value ...` of the printed rows, "-" for empty values.
  std::string Describe(const C& cfg) const {
    std::string out;
    for (const auto& k : keys_) {
      if (!k.print || k.show == Show::kHidden) continue;
      std::string v = k.print(cfg);
      if (k.show == Show::kUrl) v = RedactUrl(v);
      if (!out.empty()) out += ' ';
      out += (k.print_name.empty() ? k.yaml : k.print_name) + "=" + (v.empty() ? "-" : v);
    }
    return out;
  }

  // The environment variables of the row for `yaml` (documentation, messages).
  const std::vector<std::string>& EnvOf(const std::string& yaml) const {
    static const std::vector<std::string> kNone;
    const Key<C>* k = Find(yaml);
    return k ? k->env : kNone;
  }

 private:
  bool IsPrefix(const std::string& p) const {
    for (const auto& k : keys_)
      if (k.yaml.size() > p.size() && k.yaml.compare(0, p.size(), p) == 0 && k.yaml[p.size()] == '.')
        return true;
    return false;
  }

  void Walk(const YAML::Node& map, const std::string& prefix, const Source& src, C* cfg,
            Violations* errors, const std::set<std::string>& only,
            std::vector<std::string>* unknown) const {
    const std::string where = prefix.empty() ? section_ : src.key_prefix + prefix;
    if (!map || map.IsNull()) return;
    if (!map.IsMap()) {
      errors->Add(Status::InvalidArgument(where + " must be a mapping"));
      return;
    }
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (!it->first.IsScalar()) {
        errors->Add(Status::InvalidArgument(where + " has a non-scalar key"));
        continue;
      }
      const std::string k = it->first.Scalar();
      const std::string full = prefix.empty() ? k : prefix + "." + k;
      const YAML::Node v = it->second;  // a copy: it->second lives in a temporary proxy
      if (!seen.insert(k).second) {
        errors->Add(Status::InvalidArgument(where + " has duplicate key '" + k + "'"));
        continue;
      }
      if (const Key<C>* row = Find(full); row != nullptr && row->from_yaml) {
        if (!only.empty() && only.count(row->yaml) == 0) continue;
        errors->Add(row->from_yaml(*cfg, v, src.key_prefix + full, src));
      } else if (IsPrefix(full)) {
        Walk(v, full, src, cfg, errors, only, unknown);
      } else if (only.empty()) {
        unknown->push_back(full);
      }
    }
  }

  std::string section_;
  std::vector<Key<C>> keys_;
  std::vector<Rule> rules_;
  std::string unknown_hint_;
};

}  // namespace table
}  // namespace vv::config
