#include "app/kill_switch.h"

#include <algorithm>

#include "common/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "app/redis_settings.h"
#include "state/redis_state.h"

namespace vv::app::killswitch {

namespace {

Result<std::string> StringMember(const json::Value& o, std::string_view key,
                                 std::string_view what) {
  const json::Value* v = o.Find(key);
  if (v == nullptr || !v->is_string())
    return Status::InvalidArgument(std::string(what) + ": missing string '" + std::string(key) +
                                   "'");
  return v->as_string();
}

json::Value ApprovalValue(const Approval& a) {
  json::Value v = json::Value::MakeObject();
  v.Set("approver", a.approver);
  v.Set("signature", a.signature_b64);
  return v;
}

}  // namespace

Result<Approval> ApprovalFrom(const json::Value& v) {
  if (!v.is_object()) return Status::InvalidArgument("approval: must be a JSON object");
  VV_ASSIGN_OR_RETURN(auto approver, StringMember(v, "approver", "approval"));
  VV_ASSIGN_OR_RETURN(auto sig, StringMember(v, "signature", "approval"));
  return Approval{approver, sig};
}


std::string CanonicalRequest(std::string_view action, std::string_view identity,
                             std::string_view reason, int64_t generation) {
  json::Value v = json::Value::MakeObject();
  v.Set("action", action);
  v.Set("generation", generation);
  v.Set("identity", identity);
  v.Set("reason", reason);
  return json::Canonical(v);
}

Result<Approval> ParseApproval(std::string_view text) {
  auto v = json::Parse(text);
  if (!v.ok()) return Status::InvalidArgument("approval: " + v.status().message());
  return ApprovalFrom(*v);
}

std::string ApprovalJson(const Approval& a) { return json::Canonical(ApprovalValue(a)); }

Approval Sign(std::string_view canonical_request, std::string_view approver,
              const crypto::Ed25519PrivateKey& key) {
  return Approval{std::string(approver), Base64Encode(key.Sign(canonical_request))};
}

Result<std::vector<std::string>> VerifyApprovals(
    std::string_view canonical_request, const std::vector<Approval>& approvals,
    const std::vector<config::SigningKey>& approvers) {
  if (approvers.empty())
    return Status::PermissionDenied(
        "no kill_switch_approvers are configured: the kill switch needs two approvers");
  std::set<std::string> seen;
  std::vector<std::string> valid;
  for (const auto& a : approvals) {
    const config::SigningKey* key = nullptr;
    for (const auto& k : approvers)
      if (k.kid == a.approver) key = &k;
    if (key == nullptr)
      return Status::PermissionDenied("approval by '" + a.approver +
                                      "': not a configured kill_switch approver");
    auto sig = Base64DecodeStrict(a.signature_b64);
    if (!sig || !key->key.Verify(canonical_request, *sig))
      return Status::PermissionDenied("approval by '" + a.approver +
                                      "': signature does not verify over this request");
    if (!seen.insert(a.approver).second)
      return Status::PermissionDenied("approval by '" + a.approver +
                                      "' given twice: two DISTINCT approvers are required");
    valid.push_back(a.approver);
  }
  if (valid.size() < 2)
    return Status::PermissionDenied("two approvals by distinct approvers are required (got " +
                                    std::to_string(valid.size()) + ")");
  return valid;
}

Plan Diff(const std::set<std::string>& revoked, int64_t applied_generation, const State& st,
          const std::vector<config::SigningKey>& approvers) {
  Plan plan;
  plan.revoked = st.RevokedIds();
  for (const auto& id : revoked) {
    if (plan.revoked.count(id)) continue;
    Status ok = CheckRelease(st, id, applied_generation, approvers);
    if (ok.ok()) {
      plan.released.push_back(id);
    } else {
      plan.revoked.insert(id);
      plan.refused_releases.emplace_back(id, ok.message());
    }
  }
  for (const auto& id : plan.revoked)
    if (!revoked.count(id)) plan.engaged.push_back(id);
  plan.applied_generation = std::max(applied_generation, st.generation);
  plan.save = plan.changed() || plan.applied_generation != applied_generation;
  return plan;
}

Status CheckRelease(const State& st, std::string_view identity, int64_t applied_generation,
                    const std::vector<config::SigningKey>& approvers) {
  if (st.generation <= applied_generation)
    return Status::PermissionDenied(
        "stale kill-switch state: generation " + std::to_string(st.generation) +
        " is not newer than the applied generation " + std::to_string(applied_generation) +
        " (an older state written back)");
  const json::Value& lc = st.last_change;
  const json::Value* req = lc.is_object() ? lc.Find("request") : nullptr;
  if (req == nullptr || !req->is_string())
    return Status::PermissionDenied("no approved release request in the last change");
  auto parsed = json::Parse(req->as_string());
  const json::Value* action = parsed.ok() && parsed->is_object() ? parsed->Find("action") : nullptr;
  const json::Value* id = parsed.ok() && parsed->is_object() ? parsed->Find("identity") : nullptr;
  const json::Value* gen = parsed.ok() && parsed->is_object() ? parsed->Find("generation") : nullptr;
  if (action == nullptr || id == nullptr || !action->is_string() || !id->is_string() ||
      action->as_string() != "release" || id->as_string() != identity)
    return Status::PermissionDenied(
        "no approved release request for this identity in the last change");
  if (gen == nullptr || !gen->is_int() || !gen->as_int64() ||
      *gen->as_int64() != st.generation - 1)
    return Status::PermissionDenied(
        "the release was approved for generation " +
        (gen != nullptr && gen->is_int() && gen->as_int64() ? std::to_string(*gen->as_int64())
                                                            : std::string("?")) +
        ", not for the transition into generation " + std::to_string(st.generation) +
        " (a replayed approval)");
  std::vector<Approval> approvals;
  if (const json::Value* ap = lc.Find("approvals"); ap && ap->is_array())
    for (const auto& a : ap->as_array()) {
      auto one = ApprovalFrom(a);
      if (one.ok()) approvals.push_back(std::move(one).value());
    }
  VV_RETURN_IF_ERROR(VerifyApprovals(req->as_string(), approvals, approvers).status());
  return Status::Ok();
}

Result<Applied> LoadApplied(const std::string& path) {
  Applied a;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return a;
  VV_ASSIGN_OR_RETURN(auto bytes, crypto::ReadFileBytes(path));
  auto v = json::Parse(bytes);
  const json::Value* g = v.ok() && v->is_object() ? v->Find("generation") : nullptr;
  const json::Value* r = v.ok() && v->is_object() ? v->Find("revoked") : nullptr;
  if (g == nullptr || !g->is_int() || !g->as_int64() || r == nullptr || !r->is_array())
    return Status::DataLoss("kill-switch applied record " + path + " is corrupt");
  a.generation = *g->as_int64();
  for (const auto& id : r->as_array()) {
    if (!id.is_string()) return Status::DataLoss("kill-switch applied record " + path + " is corrupt");
    a.revoked.insert(id.as_string());
  }
  return a;
}

Status SaveApplied(const std::string& path, const Applied& applied) {
  json::Value v = json::Value::MakeObject();
  v.Set("generation", applied.generation);
  json::Value ids = json::Value::MakeArray();
  for (const auto& id : applied.revoked) ids.Push(id);
  v.Set("revoked", std::move(ids));
  const std::string text = json::Canonical(v);
  if (Status s = WriteFileAtomic(path, text, 0600); !s.ok())
    return Status::Unavailable("kill-switch: " + s.message());
  return Status::Ok();
}

std::set<std::string> State::RevokedIds() const {
  std::set<std::string> out;
  for (const auto& [id, r] : revoked) out.insert(id);
  return out;
}

Result<State> ParseState(std::string_view text) {
  State s;
  if (StripAsciiWhitespace(text).empty()) return s;
  auto v = json::Parse(text);
  if (!v.ok()) return Status::InvalidArgument("kill-switch state: " + v.status().message());
  if (!v->is_object()) return Status::InvalidArgument("kill-switch state: not an object");
  const json::Value* g = v->Find("generation");
  if (g == nullptr || !g->is_int() || !g->as_int64() || *g->as_int64() < 0)
    return Status::InvalidArgument("kill-switch state: bad generation");
  s.generation = *g->as_int64();
  const json::Value* revoked = v->Find("revoked");
  if (revoked == nullptr || !revoked->is_object())
    return Status::InvalidArgument("kill-switch state: missing object 'revoked'");
  for (const auto& [id, rv] : revoked->as_object()) {
    if (!rv.is_object()) return Status::InvalidArgument("kill-switch state: bad entry " + id);
    Revocation r;
    r.identity = id;
    VV_ASSIGN_OR_RETURN(auto reason, StringMember(rv, "reason", "kill-switch state"));
    r.reason = reason;
    if (auto at = StringMember(rv, "engaged_at", "kill-switch state"); at.ok()) r.engaged_at = *at;
    if (auto req = StringMember(rv, "request", "kill-switch state"); req.ok()) r.request = *req;
    if (const json::Value* ap = rv.Find("approvals"); ap && ap->is_array()) {
      for (const auto& a : ap->as_array()) {
        VV_ASSIGN_OR_RETURN(auto parsed, ApprovalFrom(a));
        r.approvals.push_back(std::move(parsed));
      }
    }
    s.revoked[id] = std::move(r);
  }
  if (const json::Value* lc = v->Find("last_change")) s.last_change = *lc;
  return s;
}

std::string SerializeState(const State& s) {
  json::Value v = json::Value::MakeObject();
  v.Set("generation", s.generation);
  json::Value revoked = json::Value::MakeObject();
  for (const auto& [id, r] : s.revoked) {
    json::Value e = json::Value::MakeObject();
    e.Set("reason", r.reason);
    e.Set("engaged_at", r.engaged_at);
    e.Set("request", r.request);
    json::Value ap = json::Value::MakeArray();
    for (const auto& a : r.approvals) ap.Push(ApprovalValue(a));
    e.Set("approvals", std::move(ap));
    revoked.Set(id, std::move(e));
  }
  v.Set("revoked", std::move(revoked));
  if (!s.last_change.is_null()) v.Set("last_change", s.last_change);
  return json::Canonical(v);
}

namespace {

class FileStore final : public Store {
 public:
  explicit FileStore(std::string path) : path_(std::move(path)) {}
  Result<std::string> Read() override {
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec)) return std::string();
    VV_ASSIGN_OR_RETURN(auto bytes, crypto::ReadFileBytes(path_));
    return bytes;
  }
  Status CompareAndSwap(const std::string& expected, const std::string& next) override {
    // Serialise writers with an exclusive lock file beside the state.
    const std::string lock_path = path_ + ".lock";
    UniqueFd lock_fd(::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600));
    if (!lock_fd.valid()) return Status::Unavailable("kill-switch: cannot open " + lock_path);
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (::fcntl(lock_fd.get(), F_SETLKW, &fl) != 0)
      return Status::Unavailable("kill-switch: cannot lock " + lock_path);
    Status result = Status::Ok();
    auto current = Read();
    if (!current.ok()) {
      result = current.status();
    } else if (*current != expected) {
      result = Status::Unavailable("kill-switch state changed concurrently; retry");
    } else {
      if (Status s = WriteFileAtomic(path_, next, 0600); !s.ok())
        result = Status::Unavailable("kill-switch: " + s.message());
    }
    return result;  // closing lock_fd releases the lock
  }
  std::string Describe() const override { return "file " + path_; }

 private:
  std::string path_;
};

constexpr const char* kCasScript =
    "local cur = redis.call('GET', KEYS[1]) or '' "
    "if cur ~= ARGV[1] then return 0 end "
    "redis.call('SET', KEYS[1], ARGV[2]) "
    "redis.call('PUBLISH', KEYS[1], ARGV[3]) "
    "return 1";

class RedisStore final : public Store {
 public:
  RedisStore(std::shared_ptr<state::RedisPool> pool, std::string key)
      : pool_(std::move(pool)), key_(std::move(key)) {}
  Result<std::string> Read() override {
    VV_ASSIGN_OR_RETURN(auto r, pool_->Command({"GET", key_}));
    if (r.type == state::RedisValue::Type::kNil) return std::string();
    if (r.type != state::RedisValue::Type::kString)
      return Status::Unavailable("kill-switch: unexpected Redis reply to GET");
    return r.str;
  }
  Status CompareAndSwap(const std::string& expected, const std::string& next) override {
    auto parsed = ParseState(next);
    std::string gen = parsed.ok() ? std::to_string(parsed->generation) : "0";
    VV_ASSIGN_OR_RETURN(auto r,
                        pool_->Command({"EVAL", kCasScript, "1", key_, expected, next, gen}));
    if (r.type == state::RedisValue::Type::kError)
      return Status::Unavailable("kill-switch: Redis error: " + r.str);
    if (r.type != state::RedisValue::Type::kInteger || r.integer != 1)
      return Status::Unavailable("kill-switch state changed concurrently; retry");
    return Status::Ok();
  }
  std::string Describe() const override { return "redis key " + key_; }

 private:
  std::shared_ptr<state::RedisPool> pool_;
  std::string key_;
};

}  // namespace

std::unique_ptr<Store> MakeFileStore(std::string path) {
  return std::make_unique<FileStore>(std::move(path));
}
std::unique_ptr<Store> MakeRedisStore(std::shared_ptr<state::RedisPool> pool, std::string key) {
  return std::make_unique<RedisStore>(std::move(pool), std::move(key));
}

Result<std::unique_ptr<Store>> MakeStore(const config::GatewayConfig& cfg) {
  if (!cfg.redis_url.empty()) {
    VV_ASSIGN_OR_RETURN(auto rc, RedisSettings(cfg));
    VV_ASSIGN_OR_RETURN(auto pool, state::RedisPool::CreateLazy(rc));
    return MakeRedisStore(std::move(pool), cfg.kill_switch_redis_key);
  }
  if (cfg.kill_switch_file.empty())
    return Status::InvalidArgument("kill_switch_file is not set (and no redis_url)");
  return MakeFileStore(cfg.kill_switch_file);
}

Result<State> Apply(Store& store, const config::GatewayConfig& cfg, std::string_view action,
                    const std::string& identity, const std::string& reason,
                    const std::vector<Approval>& approvals, const Clock& clock) {
  if (action != "engage" && action != "release")
    return Status::InvalidArgument("action must be engage or release");
  VV_ASSIGN_OR_RETURN(auto text, store.Read());
  VV_ASSIGN_OR_RETURN(auto state, ParseState(text));
  const std::string canonical = CanonicalRequest(action, identity, reason, state.generation);
  VV_ASSIGN_OR_RETURN(auto approvers,
                      VerifyApprovals(canonical, approvals, cfg.kill_switch_approvers));
  const bool revoked = state.revoked.count(identity) != 0;
  if (action == "engage") {
    if (cfg.FindIdentity(identity) == nullptr)
      return Status::NotFound("identity '" + identity + "' is not configured");
    if (revoked) return Status::AlreadyExists("identity '" + identity + "' is already revoked");
  } else if (!revoked) {
    return Status::NotFound("identity '" + identity + "' is not revoked");
  }
  State next = state;
  next.generation = state.generation + 1;
  const std::string at = IsoFormatUtc(clock.NowMicros());
  if (action == "engage") {
    Revocation r;
    r.identity = identity;
    r.reason = reason;
    r.engaged_at = at;
    r.request = canonical;
    r.approvals = approvals;
    next.revoked[identity] = std::move(r);
  } else {
    next.revoked.erase(identity);
  }
  json::Value lc = json::Value::MakeObject();
  lc.Set("action", action);
  lc.Set("identity", identity);
  lc.Set("reason", reason);
  lc.Set("at", at);
  lc.Set("generation", next.generation);
  json::Value names = json::Value::MakeArray();
  for (const auto& n : approvers) names.Push(n);
  lc.Set("approvers", std::move(names));
  json::Value ap = json::Value::MakeArray();
  for (const auto& a : approvals) ap.Push(ApprovalValue(a));
  lc.Set("approvals", std::move(ap));
  lc.Set("request", canonical);
  next.last_change = std::move(lc);
  VV_RETURN_IF_ERROR(store.CompareAndSwap(text, SerializeState(next)));
  return next;
}

}  // namespace vv::app::killswitch
