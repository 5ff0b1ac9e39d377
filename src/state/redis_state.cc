#include "state/redis_state.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "common/host_port.h"

namespace vv::state {

namespace {

int64_t SteadyMicros() {
  // Reconnect backoff is real elapsed time (not the injected business Clock, which tests
  // freeze): a frozen clock must not keep a connection slot in backoff forever.
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

timeval ToTimeval(int ms) {
  timeval tv{};
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

bool ParseInt(std::string_view s, int64_t min, int64_t max, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v < min || v > max) return false;
  *out = v;
  return true;
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = HexVal(in[i + 1]), lo = HexVal(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

RedisValue Convert(const redisReply* r) {
  RedisValue v;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      v.type = RedisValue::Type::kInteger;
      v.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      v.type = RedisValue::Type::kString;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      v.type = RedisValue::Type::kStatus;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      v.type = RedisValue::Type::kError;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      v.type = RedisValue::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) v.elements.push_back(Convert(r->element[i]));
      break;
    default:
      v.type = RedisValue::Type::kNil;
  }
  return v;
}

// Sliding-window rate limit, shared by the limiter and the gate. Included into both scripts
// as a Lua function: rate(key, now_us, window_us, limit) -> now_us when admitted, else -1.
// Members are "<now_us>/<k>" (k makes same-instant admissions distinct); scores are now_us. Numbers go
// to Redis as '%.0f' strings (Lua's default %.14g would round 16-digit microsecond scores).
constexpr char kRateLua[] = R"lua(
local function fmt(x) return string.format('%.0f', x) end
local function rate(key, now, window, limit)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now - window))
  if redis.call('ZCARD', key) >= limit then return -1 end
  local k = 0
  while redis.call('ZSCORE', key, fmt(now) .. '/' .. k) do k = k + 1 end
  redis.call('ZADD', key, fmt(now), fmt(now) .. '/' .. k)
  redis.call('PEXPIRE', key, fmt(math.floor(window / 1000) + 1000))
  return now
end
)lua";

const RedisScript& RateScript() {
  static const RedisScript* s = new RedisScript(std::string(kRateLua) + R"lua(
return rate(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
)lua");
  return *s;
}

// Up to n units at one instant (KEYS[1]; ARGV: now_us, window_us, limit, n) -> units admitted
// (0..n), each a member "<now_us>/<k>" as rate() adds them, ZADDed in slices (Lua's unpack
// has a stack limit). kRateLua is included for fmt().
const RedisScript& RateManyScript() {
  static const RedisScript* s = new RedisScript(std::string(kRateLua) + R"lua(
local key, now, window = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local limit, n = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now - window))
local room = limit - redis.call('ZCARD', key)
if room <= 0 or n <= 0 then return 0 end
local granted = math.min(n, room)
local args, added, k = {}, 0, 0
while added < granted do
  local m = fmt(now) .. '/' .. k
  if not redis.call('ZSCORE', key, m) then
    args[#args + 1] = fmt(now)
    args[#args + 1] = m
    added = added + 1
    if #args >= 1000 then
      redis.call('ZADD', key, unpack(args))
      args = {}
    end
  end
  k = k + 1
end
if #args > 0 then redis.call('ZADD', key, unpack(args)) end
redis.call('PEXPIRE', key, fmt(math.floor(window / 1000) + 1000))
return granted
)lua");
  return *s;
}

// Refund: removes one unit admitted at exactly ARGV[1] (units of one instant are
// interchangeable; the memory limiter does the same).
const RedisScript& RefundScript() {
  static const RedisScript* s = new RedisScript(R"lua(
local m = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1], 'LIMIT', 0, 1)
if m[1] then return redis.call('ZREM', KEYS[1], m[1]) end
return 0
)lua");
  return *s;
}

const RedisScript& GateScript() {
  // -2: replay; -1: over the limit (nonce removed again); else the admitted score.
  static const RedisScript* s = new RedisScript(std::string(kRateLua) + R"lua(
if not redis.call('SET', KEYS[1], '1', 'EX', ARGV[1], 'NX') then return -2 end
local t = rate(KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
if t < 0 then redis.call('DEL', KEYS[1]) end
return t
)lua");
  return *s;
}

Status ScriptError(const RedisValue& v, const char* what) {
  return Status::Unavailable(std::string(what) + ": " + v.str);
}

}  // namespace

// ---- RedisConfig ----------------------------------------------------------------------------

namespace {

constexpr char kUrlForms[] =
    "expected redis[s]://[user[:password]@]host:port/db or "
    "redis[s]-sentinel://[user[:password]@]host:port[,host:port...]/service/db";

// host[:port] or [v6][:port] -> endpoint (port defaults to `default_port`).
Status ParseHostPort(std::string_view authority, int default_port, RedisEndpoint* out) {
  HostPort hp;
  if (HostPortError e = SplitAuthority(authority, static_cast<uint16_t>(default_port), &hp);
      e != HostPortError::kNone)
    return Status::InvalidArgument(std::string("redis_url: ") + HostPortErrorText(e));
  out->host = std::move(hp.host);
  out->port = hp.port;
  return Status::Ok();
}

bool ValidServiceName(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '_' || c == '.'))
      return false;
  return true;
}

// Splits scheme://rest; sets *tls / *sentinel. False for an unknown scheme.
bool SplitScheme(std::string_view url, bool* tls, bool* sentinel, std::string_view* rest) {
  static constexpr std::pair<const char*, int> kSchemes[] = {
      {"redis://", 0}, {"rediss://", 1}, {"redis-sentinel://", 2}, {"rediss-sentinel://", 3}};
  for (const auto& [prefix, flags] : kSchemes) {
    std::string_view p(prefix);
    if (url.substr(0, p.size()) == p) {
      *tls = flags & 1;
      *sentinel = flags & 2;
      *rest = url.substr(p.size());
      return true;
    }
  }
  return false;
}

// The userinfo of the URL ("" when none).
std::string_view UserInfo(std::string_view rest) {
  std::string_view authority = rest.substr(0, rest.find('/'));
  size_t at = authority.rfind('@');
  return at == std::string_view::npos ? std::string_view() : authority.substr(0, at);
}

}  // namespace

std::string RedisConfig::Describe() const {
  if (sentinel()) return "sentinel service " + sentinel_service;
  return host + ":" + std::to_string(port);
}

bool RedisUrlHasInlinePassword(std::string_view url) {
  bool tls = false, sentinel = false;
  std::string_view rest;
  if (!SplitScheme(url, &tls, &sentinel, &rest)) return false;
  std::string_view userinfo = UserInfo(rest);
  size_t colon = userinfo.find(':');
  return colon != std::string_view::npos && colon + 1 < userinfo.size();
}

Result<RedisConfig> ParseRedisUrl(std::string_view url) {
  RedisConfig c;
  bool sentinel = false;
  std::string_view rest;
  // rediss:// = TLS (the server verified against tls_ca_file; state/tls_tunnel.h).
  if (!SplitScheme(url, &c.tls, &sentinel, &rest))
    return Status::InvalidArgument(std::string("redis_url: ") + kUrlForms);
  if (rest.find('?') != std::string_view::npos || rest.find('#') != std::string_view::npos)
    return Status::InvalidArgument("redis_url: query parameters are not supported");
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    // user@ (ACL user, password supplied separately), user:password@, or :password@.
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    size_t colon = userinfo.find(':');
    std::string_view user = userinfo.substr(0, colon);
    std::string_view pass = colon == std::string_view::npos ? "" : userinfo.substr(colon + 1);
    if (!PercentDecode(user, &c.username) || !PercentDecode(pass, &c.password))
      return Status::InvalidArgument("redis_url: bad percent-encoding in credentials");
  }
  if (sentinel) {
    // host:port,host:port/service[/db]
    size_t start = 0;
    while (start <= authority.size()) {
      size_t comma = authority.find(',', start);
      std::string_view one = authority.substr(start, comma == std::string_view::npos
                                                          ? std::string_view::npos
                                                          : comma - start);
      RedisEndpoint ep;
      VV_RETURN_IF_ERROR(ParseHostPort(one, 26379, &ep));
      c.sentinels.push_back(std::move(ep));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (c.sentinels.size() > 16)
      return Status::InvalidArgument("redis_url: at most 16 sentinels");
    size_t slash2 = path.find('/');
    std::string_view service = path.substr(0, slash2);
    if (!ValidServiceName(service))
      return Status::InvalidArgument(
          "redis_url: redis-sentinel:// needs /<service-name> (letters, digits, - _ .)");
    c.sentinel_service = std::string(service);
    path = slash2 == std::string_view::npos ? "" : path.substr(slash2 + 1);
    c.host.clear();
    c.port = 0;
  } else {
    RedisEndpoint ep;
    VV_RETURN_IF_ERROR(ParseHostPort(authority, 6379, &ep));
    c.host = std::move(ep.host);
    c.port = ep.port;
  }
  if (!path.empty()) {
    int64_t db = 0;
    if (!ParseInt(path, 0, 1 << 20, &db))
      return Status::InvalidArgument("redis_url: bad database number");
    c.db = static_cast<int>(db);
  }
  return c;
}

// ---- RedisScript ----------------------------------------------------------------------------

RedisScript::RedisScript(std::string source) : source_(std::move(source)) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(source_.data(), source_.size(), md, &len, EVP_sha1(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < len; ++i) {
    sha1_.push_back(kHex[md[i] >> 4]);
    sha1_.push_back(kHex[md[i] & 15]);
  }
}

// ---- RedisPool ------------------------------------------------------------------------------

namespace {

// One command on a raw context (the handshake and sentinel queries). Unavailable when the
// connection fails; error replies are returned as values.
Result<RedisValue> RunOn(redisContext* ctx, const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (r == nullptr) return Status::Unavailable(ctx->errstr[0] ? ctx->errstr : "connection lost");
  RedisValue v = Convert(r);
  freeReplyObject(r);
  return v;
}

// Error replies that mean "this node is not (or no longer) the writable master".
bool IsNotMasterError(const RedisValue& v) {
  return v.is_error() &&
         (v.str.rfind("READONLY", 0) == 0 || v.str.rfind("MASTERDOWN", 0) == 0 ||
          v.str.find("READONLY You can't write") != std::string::npos);
}

}  // namespace

RedisPool::Conn::Conn(Conn&& o) noexcept : ctx(o.ctx), tunnel(std::move(o.tunnel)) {
  o.ctx = nullptr;
}

RedisPool::Conn& RedisPool::Conn::operator=(Conn&& o) noexcept {
  if (this != &o) {
    Close();
    ctx = o.ctx;
    o.ctx = nullptr;
    tunnel = std::move(o.tunnel);
  }
  return *this;
}

void RedisPool::Conn::Close() {
  if (ctx) redisFree(ctx);  // closes hiredis's end: the tunnel's pump ends
  ctx = nullptr;
  tunnel.reset();
}

RedisPool::RedisPool(const RedisConfig& config) : config_(config) {
  for (int i = 0; i < config_.pool_size; ++i) slots_.push_back(std::make_unique<Slot>());
}

RedisPool::~RedisPool() {
  for (auto& s : slots_) {
    MutexLock l(&s->mu);
    s->conn.Close();
  }
}

Result<std::shared_ptr<RedisPool>> RedisPool::CreateLazy(const RedisConfig& config) {
  if (config.pool_size < 1 || config.pool_size > 1024)
    return Status::InvalidArgument("redis pool_size must be 1..1024");
  if (config.connect_timeout_ms <= 0 || config.command_timeout_ms <= 0)
    return Status::InvalidArgument("redis timeouts must be positive");
  if (!config.sentinel() && config.host.empty())
    return Status::InvalidArgument("redis host is empty");
  if (config.sentinel() && config.sentinel_service.empty())
    return Status::InvalidArgument("redis sentinel service name is empty");
  if (config.tls && config.tls_ca_file.empty())
    return Status::InvalidArgument(
        "rediss:// needs the CA that signed the Redis server certificate (redis_tls_ca_path / "
        "VV_TG_REDIS_TLS_CA_PATH)");
  return std::shared_ptr<RedisPool>(new RedisPool(config));
}

Result<std::shared_ptr<RedisPool>> RedisPool::Create(const RedisConfig& config) {
  auto pool = CreateLazy(config);
  if (!pool.ok()) return pool;
  Status s = (*pool)->Ping();
  if (!s.ok()) return s;
  return pool;
}

RedisPool::Slot* RedisPool::PickSlot() {
  size_t n = slots_.size();
  size_t start = next_.fetch_add(1, std::memory_order_relaxed) % n;
  for (size_t i = 0; i < n; ++i) {
    Slot* s = slots_[(start + i) % n].get();
    if (s->mu.TryLock()) {  // idle now (a hint: the caller takes the lock for real)
      s->mu.Unlock();
      return s;
    }
  }
  return slots_[start].get();
}

void RedisPool::Drop(Slot& slot) { slot.conn.Close(); }

Status RedisPool::Dial(const std::string& host, int port, const std::string& user,
                       const std::string& password, Conn* out) const {
  Conn c;
  const std::string where = host + ":" + std::to_string(port);
  if (config_.tls) {
    TlsTunnelOptions to;
    to.host = host;
    to.port = port;
    to.ca_file = config_.tls_ca_file;
    to.server_name = config_.tls_server_name;
    to.connect_timeout_ms = config_.connect_timeout_ms;
    auto tunnel = TlsTunnel::Open(to);
    if (!tunnel.ok()) return Status::Unavailable(tunnel.status().message());
    c.tunnel = std::move(tunnel).value();
    c.ctx = redisConnectFd(c.tunnel->TakeLocalFd());
  } else {
    c.ctx = redisConnectWithTimeout(host.c_str(), port, ToTimeval(config_.connect_timeout_ms));
  }
  if (c.ctx == nullptr) return Status::Unavailable(where + ": cannot allocate connection");
  if (c.ctx->err) return Status::Unavailable(where + ": connect: " + c.ctx->errstr);
  if (redisSetTimeout(c.ctx, ToTimeval(config_.command_timeout_ms)) != REDIS_OK)
    return Status::Unavailable(where + ": cannot set timeout");
  if (!config_.tls) redisEnableKeepAlive(c.ctx);  // (TLS: the tunnel's TCP socket)
  if (!password.empty()) {
    // The reply text names the failure (WRONGPASS ...); the password never appears in it.
    auto r = user.empty() ? RunOn(c.ctx, {"AUTH", password})
                          : RunOn(c.ctx, {"AUTH", user, password});
    if (!r.ok()) return Status::Unavailable(where + ": AUTH: " + r.status().message());
    if (r->is_error()) return Status::Unavailable(where + ": AUTH failed: " + r->str);
  }
  *out = std::move(c);
  return Status::Ok();
}

std::string RedisPool::CurrentMaster() const {
  MutexLock l(&master_mu_);
  if (!master_known_) return "";
  return master_.host + ":" + std::to_string(master_.port);
}

void RedisPool::ForgetMaster(uint64_t gen) {
  MutexLock l(&master_mu_);
  if (master_gen_ != gen) return;  // someone already re-discovered
  master_known_ = false;
  ++master_gen_;
}

Status RedisPool::Master(RedisEndpoint* out, uint64_t* gen) {
  MutexLock l(&master_mu_);
  if (!master_known_) {
    // Ask the sentinels in order; the first that names a master wins (the ROLE check on the
    // connection catches a stale answer).
    std::string why;
    for (const auto& s : config_.sentinels) {
      const std::string where = "sentinel " + s.host + ":" + std::to_string(s.port);
      Conn c;
      Status d = Dial(s.host, s.port, config_.sentinel_username, config_.sentinel_password, &c);
      if (!d.ok()) {
        why += (why.empty() ? "" : "; ") + d.message();
        continue;
      }
      auto r = RunOn(c.ctx, {"SENTINEL", "get-master-addr-by-name", config_.sentinel_service});
      if (!r.ok()) {
        why += (why.empty() ? "" : "; ") + where + ": " + r.status().message();
        continue;
      }
      int64_t port = 0;
      if (r->type != RedisValue::Type::kArray || r->elements.size() != 2 ||
          r->elements[0].type != RedisValue::Type::kString || r->elements[0].str.empty() ||
          r->elements[1].type != RedisValue::Type::kString ||
          !ParseInt(r->elements[1].str, 1, 65535, &port)) {
        why += (why.empty() ? "" : "; ") + where +
               (r->is_error() ? ": " + r->str.substr(0, 200)
                              : std::string(": knows no master for the service"));
        continue;
      }
      master_.host = r->elements[0].str;
      master_.port = static_cast<int>(port);
      master_known_ = true;
      discoveries_.fetch_add(1, std::memory_order_relaxed);
      break;
    }
    if (!master_known_)
      return Status::Unavailable("redis " + config_.Describe() + ": no master known (" + why +
                                 ")");
  }
  *out = master_;
  *gen = master_gen_;
  return Status::Ok();
}

Status RedisPool::Backoff(Slot& slot, const std::string& why) {
  Drop(slot);
  slot.backoff_us = slot.backoff_us == 0
                        ? int64_t{config_.reconnect_backoff_initial_ms} * 1000
                        : std::min<int64_t>(slot.backoff_us * 2,
                                            int64_t{config_.reconnect_backoff_max_ms} * 1000);
  slot.retry_at_us = SteadyMicros() + slot.backoff_us;
  return Status::Unavailable("redis " + config_.Describe() + ": " + why);
}

Status RedisPool::EnsureConnected(Slot& slot) {
  if (config_.sentinel() && slot.conn.ctx != nullptr) {
    // A re-discovery since this connection was made: it may point at a demoted node.
    MutexLock l(&master_mu_);
    if (slot.master_gen != master_gen_) Drop(slot);
  }
  if (slot.conn.ctx != nullptr && slot.conn.ctx->err == 0) return Status::Ok();
  Drop(slot);
  int64_t now = SteadyMicros();
  if (now < slot.retry_at_us)
    return Status::Unavailable("redis " + config_.Describe() +
                               " unreachable (reconnect backoff)");
  RedisEndpoint ep{config_.host, config_.port};
  uint64_t gen = 0;
  if (config_.sentinel()) {
    Status m = Master(&ep, &gen);
    if (!m.ok()) return Backoff(slot, m.message());
  }
  Status d = Dial(ep.host, ep.port, config_.username, config_.password, &slot.conn);
  if (!d.ok()) {
    if (config_.sentinel()) ForgetMaster(gen);
    return Backoff(slot, d.message());
  }
  if (config_.sentinel()) {
    // The sentinels' answer is verified by the node itself: only a master takes writes.
    auto role = RunOn(slot.conn.ctx, {"ROLE"});
    const bool master = role.ok() && role->type == RedisValue::Type::kArray &&
                        !role->elements.empty() &&
                        role->elements[0].type == RedisValue::Type::kString &&
                        role->elements[0].str == "master";
    if (!master) {
      ForgetMaster(gen);
      std::string got = !role.ok() ? role.status().message()
                        : role->is_error() ? role->str.substr(0, 200)
                        : role->type == RedisValue::Type::kArray && !role->elements.empty()
                            ? role->elements[0].str.substr(0, 32)
                            : std::string("unexpected reply");
      return Backoff(slot, ep.host + ":" + std::to_string(ep.port) +
                  " named by the sentinels is not a master (ROLE: " + got + ")");
    }
    slot.master_gen = gen;
  }
  if (config_.db != 0) {
    auto r = RunOn(slot.conn.ctx, {"SELECT", std::to_string(config_.db)});
    if (!r.ok() || r->is_error())
      return Backoff(slot, "SELECT failed: " + (r.ok() ? r->str : r.status().message()));
  }
  slot.backoff_us = 0;
  slot.retry_at_us = 0;
  connects_.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

Result<RedisValue> RedisPool::Command(const std::vector<std::string_view>& args) {
  if (args.empty()) return Status::InvalidArgument("empty redis command");
  Slot* slot = PickSlot();
  MutexLock lock(&slot->mu);
  VV_RETURN_IF_ERROR(EnsureConnected(*slot));
  auto r = RunOn(slot->conn.ctx, args);
  if (!r.ok() || IsNotMasterError(*r)) {
    // A working connection broke, or the node was demoted by a failover: drop it (sentinel:
    // re-discover the master) and allow one immediate re-dial on the next use. The command
    // itself is not retried (a broken connection may have executed it).
    std::string why = r.ok() ? r->str.substr(0, 200) : r.status().message();
    Drop(*slot);
    if (config_.sentinel()) ForgetMaster(slot->master_gen);
    slot->backoff_us = 0;
    slot->retry_at_us = 0;
    return Status::Unavailable("redis " + config_.Describe() + ": " + why);
  }
  return r;
}

Result<RedisValue> RedisPool::Eval(const RedisScript& script,
                                   const std::vector<std::string_view>& keys,
                                   const std::vector<std::string_view>& args) {
  std::string nkeys = std::to_string(keys.size());
  std::vector<std::string_view> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVALSHA");
  argv.push_back(script.sha1());
  argv.push_back(nkeys);
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = Command(argv);
  if (r.ok() && r->is_error() && r->str.rfind("NOSCRIPT", 0) == 0) {
    argv[0] = "EVAL";
    argv[1] = script.source();
    r = Command(argv);
  }
  return r;
}

Status RedisPool::Ping() {
  VV_ASSIGN_OR_RETURN(auto r, Command({"PING"}));
  if (r.type != RedisValue::Type::kStatus || r.str != "PONG")
    return Status::Unavailable("redis PING: unexpected reply " + r.str);
  return Status::Ok();
}

// ---- RedisNonceStore ------------------------------------------------------------------------

Status RedisNonceStore::Register(std::string_view key, int64_t ttl_seconds) {
  if (ttl_seconds <= 0) return Status::InvalidArgument("nonce ttl must be positive");
  std::string k(kKeyPrefix);
  k.append(key);
  std::string ttl = std::to_string(ttl_seconds);
  auto r = pool_->Command({"SET", k, "1", "EX", ttl, "NX"});
  if (!r.ok()) return Status::Unavailable("Nonce store unavailable: " + r.status().message());
  if (r->type == RedisValue::Type::kNil) return Status::AlreadyExists("nonce already registered");
  if (r->type == RedisValue::Type::kStatus && r->str == "OK") return Status::Ok();
  return Status::Unavailable("Nonce store unavailable: " + r->str);
}

Status RedisNonceStore::Release(std::string_view key) {
  std::string k(kKeyPrefix);
  k.append(key);
  auto r = pool_->Command({"DEL", k});
  if (!r.ok()) return Status::Unavailable("Nonce store unavailable: " + r.status().message());
  if (r->is_error()) return Status::Unavailable("Nonce store unavailable: " + r->str);
  return Status::Ok();
}

// ---- RedisRateLimiter -----------------------------------------------------------------------

Status RedisRateLimiter::Acquire(std::string_view key, RateTicket* ticket) {
  std::string k(kKeyPrefix);
  k.append(key);
  int64_t now = clock_.NowMicros();
  std::string now_s = std::to_string(now), window = std::to_string(kWindowMicros),
              limit = std::to_string(limit_);
  auto r = pool_->Eval(RateScript(), {k}, {now_s, window, limit});
  if (!r.ok()) return Status::Unavailable("Rate limiter unavailable: " + r.status().message());
  if (r->type != RedisValue::Type::kInteger) return ScriptError(*r, "Rate limiter unavailable");
  if (r->integer < 0) return Status::ResourceExhausted("rate limit exceeded");
  if (ticket) {
    ticket->key = std::string(key);
    ticket->at_micros = r->integer;
  }
  return Status::Ok();
}

Status RedisRateLimiter::AcquireMany(std::string_view key, int64_t n,
                                     std::vector<RateTicket>* tickets) {
  tickets->clear();
  std::string k(kKeyPrefix);
  k.append(key);
  const std::string window = std::to_string(kWindowMicros), limit = std::to_string(limit_);
  while (n > 0) {
    const int64_t ask = std::min(n, kMaxAcquireMany);
    const int64_t now = clock_.NowMicros();
    auto r = pool_->Eval(RateManyScript(), {k},
                         {std::to_string(now), window, limit, std::to_string(ask)});
    Status failed;
    if (!r.ok()) {
      failed = Status::Unavailable("Rate limiter unavailable: " + r.status().message());
    } else if (r->type != RedisValue::Type::kInteger || r->integer < 0 || r->integer > ask) {
      failed = ScriptError(*r, "Rate limiter unavailable");
    }
    if (!failed.ok()) {  // nothing granted: give back what earlier slices took
      for (const RateTicket& t : *tickets) (void)Refund(t);
      tickets->clear();
      return failed;
    }
    tickets->insert(tickets->end(), static_cast<size_t>(r->integer),
                    RateTicket{std::string(key), now});
    if (r->integer < ask) break;  // the window is full
    n -= ask;
  }
  return Status::Ok();
}

Status RedisRateLimiter::Refund(const RateTicket& ticket) {
  std::string k(kKeyPrefix);
  k.append(ticket.key);
  std::string at = std::to_string(ticket.at_micros);
  auto r = pool_->Eval(RefundScript(), {k}, {at});
  if (!r.ok()) return Status::Unavailable("Rate limiter unavailable: " + r.status().message());
  if (r->is_error()) return Status::Unavailable("Rate limiter unavailable: " + r->str);
  return Status::Ok();
}

// ---- RedisGate ------------------------------------------------------------------------------

Status RedisGate::RegisterAndAcquire(std::string_view nonce_key, int64_t ttl_seconds,
                                     std::string_view rate_key, int64_t limit,
                                     int64_t now_micros, RateTicket* ticket) {
  if (ttl_seconds <= 0) return Status::InvalidArgument("nonce ttl must be positive");
  std::string nk(RedisNonceStore::kKeyPrefix);
  nk.append(nonce_key);
  std::string rk(RedisRateLimiter::kKeyPrefix);
  rk.append(rate_key);
  std::string ttl = std::to_string(ttl_seconds), now = std::to_string(now_micros),
              window = std::to_string(RedisRateLimiter::kWindowMicros),
              lim = std::to_string(limit);
  auto r = pool_->Eval(GateScript(), {nk, rk}, {ttl, now, window, lim});
  if (!r.ok()) return Status::Unavailable("Nonce store unavailable: " + r.status().message());
  if (r->type != RedisValue::Type::kInteger) return ScriptError(*r, "Nonce store unavailable");
  if (r->integer == -2) return Status::AlreadyExists("nonce already registered");
  if (r->integer < 0) return Status::ResourceExhausted("rate limit exceeded");
  if (ticket) {
    ticket->key = std::string(rate_key);
    ticket->at_micros = r->integer;
  }
  return Status::Ok();
}

}  // namespace vv::state
