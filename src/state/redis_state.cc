#include "state/redis_state.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <chrono>
#include <cstdio>
#include <cstring>

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

std::string Where(const RedisConfig& c) { return c.host + ":" + std::to_string(c.port); }

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

Result<RedisConfig> ParseRedisUrl(std::string_view url) {
  RedisConfig c;
  // rediss:// = TLS (the server verified against tls_ca_file; state/tls_tunnel.h).
  c.tls = url.rfind("rediss://", 0) == 0;
  if (!c.tls && url.rfind("redis://", 0) != 0)
    return Status::InvalidArgument(
        "redis_url: expected redis[s]://[[user]:password@]host:port/db");
  std::string_view rest = url.substr(c.tls ? 9 : 8);
  if (rest.find('?') != std::string_view::npos || rest.find('#') != std::string_view::npos)
    return Status::InvalidArgument("redis_url: query parameters are not supported");
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    size_t colon = userinfo.find(':');
    std::string_view user = colon == std::string_view::npos ? "" : userinfo.substr(0, colon);
    std::string_view pass = colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1);
    if (!PercentDecode(user, &c.username) || !PercentDecode(pass, &c.password))
      return Status::InvalidArgument("redis_url: bad percent-encoding in credentials");
  }
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return Status::InvalidArgument("redis_url: unterminated IPv6 host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::InvalidArgument("redis_url: bad host:port");
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
  }
  if (host.empty()) return Status::InvalidArgument("redis_url: missing host");
  c.host = std::string(host);
  if (!port.empty()) {
    int64_t p = 0;
    if (!ParseInt(port, 1, 65535, &p)) return Status::InvalidArgument("redis_url: bad port");
    c.port = static_cast<int>(p);
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

RedisPool::RedisPool(const RedisConfig& config) : config_(config) {
  for (int i = 0; i < config_.pool_size; ++i) slots_.push_back(std::make_unique<Slot>());
}

RedisPool::~RedisPool() {
  for (auto& s : slots_) {
    std::lock_guard<std::mutex> l(s->mu);
    if (s->ctx) redisFree(s->ctx);
    s->ctx = nullptr;
    s->tunnel.reset();
  }
}

Result<std::shared_ptr<RedisPool>> RedisPool::CreateLazy(const RedisConfig& config) {
  if (config.pool_size < 1 || config.pool_size > 1024)
    return Status::InvalidArgument("redis pool_size must be 1..1024");
  if (config.connect_timeout_ms <= 0 || config.command_timeout_ms <= 0)
    return Status::InvalidArgument("redis timeouts must be positive");
  if (config.host.empty()) return Status::InvalidArgument("redis host is empty");
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

std::unique_lock<std::mutex> RedisPool::LockSlot(Slot** slot) {
  size_t n = slots_.size();
  size_t start = next_.fetch_add(1, std::memory_order_relaxed) % n;
  for (size_t i = 0; i < n; ++i) {
    Slot* s = slots_[(start + i) % n].get();
    std::unique_lock<std::mutex> l(s->mu, std::try_to_lock);
    if (l.owns_lock()) {
      *slot = s;
      return l;
    }
  }
  *slot = slots_[start].get();
  return std::unique_lock<std::mutex>((*slot)->mu);
}

void RedisPool::Drop(Slot& slot) {
  if (slot.ctx) redisFree(slot.ctx);  // closes hiredis's end: the tunnel's pump ends
  slot.ctx = nullptr;
  slot.tunnel.reset();
}

Status RedisPool::EnsureConnected(Slot& slot) {
  if (slot.ctx != nullptr && slot.ctx->err == 0) return Status::Ok();
  Drop(slot);
  int64_t now = SteadyMicros();
  if (now < slot.retry_at_us)
    return Status::Unavailable("redis " + Where(config_) + " unreachable (reconnect backoff)");
  auto fail = [&](const std::string& why) {
    Drop(slot);
    slot.backoff_us = slot.backoff_us == 0
                          ? int64_t{config_.reconnect_backoff_initial_ms} * 1000
                          : std::min<int64_t>(slot.backoff_us * 2,
                                              int64_t{config_.reconnect_backoff_max_ms} * 1000);
    slot.retry_at_us = SteadyMicros() + slot.backoff_us;
    return Status::Unavailable("redis " + Where(config_) + ": " + why);
  };
  if (config_.tls) {
    TlsTunnelOptions to;
    to.host = config_.host;
    to.port = config_.port;
    to.ca_file = config_.tls_ca_file;
    to.server_name = config_.tls_server_name;
    to.connect_timeout_ms = config_.connect_timeout_ms;
    auto tunnel = TlsTunnel::Open(to);
    if (!tunnel.ok()) return fail(tunnel.status().message());
    slot.tunnel = std::move(tunnel).value();
    slot.ctx = redisConnectFd(slot.tunnel->TakeLocalFd());
  } else {
    slot.ctx = redisConnectWithTimeout(config_.host.c_str(), config_.port,
                                       ToTimeval(config_.connect_timeout_ms));
  }
  if (slot.ctx == nullptr) return fail("cannot allocate connection");
  if (slot.ctx->err) return fail(std::string("connect: ") + slot.ctx->errstr);
  if (redisSetTimeout(slot.ctx, ToTimeval(config_.command_timeout_ms)) != REDIS_OK)
    return fail("cannot set timeout");
  if (!config_.tls) redisEnableKeepAlive(slot.ctx);  // (TLS: the tunnel's TCP socket)
  auto simple = [&](const std::vector<std::string>& args) -> Status {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(slot.ctx, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (r == nullptr) return Status::Unavailable(slot.ctx->errstr);
    Status st = r->type == REDIS_REPLY_ERROR ? Status::Unavailable(std::string(r->str, r->len))
                                             : Status::Ok();
    freeReplyObject(r);
    return st;
  };
  if (!config_.password.empty()) {
    Status st = config_.username.empty() ? simple({"AUTH", config_.password})
                                         : simple({"AUTH", config_.username, config_.password});
    if (!st.ok()) return fail("AUTH failed: " + st.message());
  }
  if (config_.db != 0) {
    Status st = simple({"SELECT", std::to_string(config_.db)});
    if (!st.ok()) return fail("SELECT failed: " + st.message());
  }
  slot.backoff_us = 0;
  slot.retry_at_us = 0;
  connects_.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

Result<RedisValue> RedisPool::Command(const std::vector<std::string_view>& args) {
  if (args.empty()) return Status::InvalidArgument("empty redis command");
  Slot* slot = nullptr;
  auto lock = LockSlot(&slot);
  VV_RETURN_IF_ERROR(EnsureConnected(*slot));
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(slot->ctx, static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (r == nullptr) {
    std::string why = slot->ctx->errstr;
    Drop(*slot);
    // A working connection broke: allow one immediate re-dial on the next use.
    slot->backoff_us = 0;
    slot->retry_at_us = 0;
    return Status::Unavailable("redis " + Where(config_) + ": " + why);
  }
  RedisValue v = Convert(r);
  freeReplyObject(r);
  return v;
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
  auto r = Command({"PING"});
  if (!r.ok()) return r.status();
  if (r->type != RedisValue::Type::kStatus || r->str != "PONG")
    return Status::Unavailable("redis PING: unexpected reply " + r->str);
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
