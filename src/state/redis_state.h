#pragma once
// Redis backends for replay and rate state (hiredis 0.14, synchronous API), shared by every
// gateway replica:
//
//   RedisConfig / ParseRedisUrl: redis[s]://[user[:password]@]host[:port][/db]. rediss:// is
//     TLS through a TlsTunnel (Debian's hiredis 0.14 has no TLS support of its own), the
//     server verified against tls_ca_file. `user@` alone names an ACL user whose password
//     comes from elsewhere (the gateway: redis_password_file / VV_TG_REDIS_PASSWORD).
//     Sentinel: redis[s]-sentinel://[user[:password]@]host1[:port],host2[:port]/service[/db]
//     (port default 26379): the master of `service` is asked from the sentinels (SENTINEL
//     get-master-addr-by-name, the first sentinel that answers), every new connection to it
//     is checked with ROLE (must say "master"), and the address is re-discovered after any
//     connection failure or a READONLY reply (a failover demoted the node). No master known
//     = Unavailable, like an unreachable server (callers fail closed). The sentinels may
//     require their own AUTH (sentinel_username / sentinel_password).
//   RedisPool: a small pool of persistent connections (created lazily, kept open, no new
//     connection per request). A connection that fails is dropped and re-dialled on a later
//     use, with exponential backoff per slot (so an outage costs one fast Unavailable per
//     request, not a connect timeout); after the server comes back the same pool serves
//     again. Connect and command timeouts bound every call. Lua scripts are called with
//     EVALSHA (SHA-1 computed locally); NOSCRIPT (e.g. after a Redis restart) falls back to
//     EVAL, which also reloads the script cache.
//   RedisNonceStore: SET vv:tg:nonce:<key> 1 EX <ttl> NX (reference-compatible key);
//     Release = DEL.
//   RedisRateLimiter: exact 60 s sliding window per key in a sorted set
//     (vv:tg:rate:<key>), one Lua call: ZREMRANGEBYSCORE, ZCARD, ZADD, PEXPIRE. Never admits
//     more than `limit` in any 60 s window; denied requests are not recorded. Time comes from
//     the injected Clock (wall time, NowMicros, shared by replicas) and is passed to the
//     script. Members are "<micros>/<k>"; Refund removes one member scored at the ticket's
//     time (a small Lua call: ZRANGEBYSCORE + ZREM).
//   RedisGate: nonce registration + rate acquisition in ONE Lua round trip.
//
// Errors: every connection/protocol failure is Status Unavailable (callers fail closed: 503).
// Thread-safety: all classes are thread-safe. A pool is shared (std::shared_ptr) by the
// stores using it and lives as long as the longest holder; the Clock must outlive its users.

#include <sys/time.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "state/tls_tunnel.h"
#include "state/admission.h"
#include "state/state.h"

struct redisContext;

namespace vv::state {

struct RedisEndpoint {
  std::string host;
  int port = 0;
};

struct RedisConfig {
  std::string host = "127.0.0.1";  // direct mode (no sentinels)
  int port = 6379;
  std::string username;  // empty: AUTH <password> (Redis < 6 style)
  std::string password;  // empty: no AUTH
  // Sentinel mode when `sentinels` is non-empty: the data node is the current master of
  // `sentinel_service`; host/port are unused.
  std::vector<RedisEndpoint> sentinels;
  std::string sentinel_service;
  std::string sentinel_username;  // AUTH to the sentinels (empty user: AUTH <password>)
  std::string sentinel_password;  // empty: the sentinels need no AUTH
  int db = 0;
  bool tls = false;             // rediss://
  std::string tls_ca_file;      // required with tls: CA of the server certificate
  std::string tls_server_name;  // name verified in the certificate ("" = host)
  int pool_size = 4;
  int connect_timeout_ms = 1000;
  int command_timeout_ms = 500;
  // Reconnect backoff per connection slot: first retry after `initial`, doubling to `max`.
  int reconnect_backoff_initial_ms = 25;
  int reconnect_backoff_max_ms = 1000;

  bool sentinel() const { return !sentinels.empty(); }
  // "host:port", or "sentinel service <name>" (for messages; never credentials).
  std::string Describe() const;
};

// Parses redis[s]://[user[:password]@]host[:port][/db] and
// redis[s]-sentinel://[user[:password]@]host[:port][,host[:port]...]/service[/db]
// (credentials percent-decoded; IPv6 hosts in brackets; the s sets tls). InvalidArgument for
// other schemes, bad ports/db numbers/service names, query strings.
Result<RedisConfig> ParseRedisUrl(std::string_view url);
// True when the URL (any of the schemes above) carries a password in its userinfo.
bool RedisUrlHasInlinePassword(std::string_view url);

// One decoded reply. Error replies are values (kError), not Status, so callers can react to
// e.g. NOSCRIPT.
struct RedisValue {
  enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;  // kString, kStatus, kError
  std::vector<RedisValue> elements;

  bool is_error() const { return type == Type::kError; }
};

// A Lua script with its SHA-1 (hex), computed once.
class RedisScript {
 public:
  explicit RedisScript(std::string source);
  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;
};

class RedisPool {
 public:
  // Creates the pool and dials one connection to check the server (Unavailable when it
  // cannot be reached/authenticated, InvalidArgument for a bad config).
  static Result<std::shared_ptr<RedisPool>> Create(const RedisConfig& config);
  // Same, without the start-up check (the first command dials).
  static Result<std::shared_ptr<RedisPool>> CreateLazy(const RedisConfig& config);
  ~RedisPool();
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;

  // Runs one command (binary-safe arguments). Unavailable on connection failure/timeout.
  Result<RedisValue> Command(const std::vector<std::string_view>& argv);
  // EVALSHA script keys... args...; on NOSCRIPT, EVAL (reloads the cache).
  Result<RedisValue> Eval(const RedisScript& script, const std::vector<std::string_view>& keys,
                          const std::vector<std::string_view>& args);
  // PING -> PONG.
  Status Ping();

  const RedisConfig& config() const { return config_; }
  // Connections dialled so far (successful connects), for tests and metrics.
  uint64_t connects() const { return connects_.load(); }
  // Sentinel mode: master discoveries that found a master (start-up counts one).
  uint64_t discoveries() const { return discoveries_.load(); }
  // Sentinel mode: the master address in use ("" when none is known).
  std::string CurrentMaster() const;

  // One hiredis connection (with its TLS tunnel for rediss). Movable, closes on destruction.
  struct Conn {
    redisContext* ctx = nullptr;
    std::unique_ptr<TlsTunnel> tunnel;  // rediss: the TLS side of ctx
    Conn() = default;
    Conn(Conn&& o) noexcept;
    Conn& operator=(Conn&& o) noexcept;
    ~Conn() { Close(); }
    void Close();
  };

 private:
  struct Slot {
    Mutex mu;
    Conn conn VV_GUARDED_BY(mu);
    uint64_t master_gen VV_GUARDED_BY(mu) = 0;  // sentinel: the discovery generation of conn
    int64_t retry_at_us VV_GUARDED_BY(mu) = 0;  // steady clock
    int64_t backoff_us VV_GUARDED_BY(mu) = 0;
  };
  explicit RedisPool(const RedisConfig& config);
  // A slot for the next command, preferring one no other thread holds at this instant; the
  // caller locks it (MutexLock on slot->mu), waiting if it was taken meanwhile.
  Slot* PickSlot();
  Status EnsureConnected(Slot& slot) VV_REQUIRES(slot.mu);
  void Drop(Slot& slot) VV_REQUIRES(slot.mu);
  // Drops the connection, doubles the slot's reconnect backoff and returns Unavailable(why).
  Status Backoff(Slot& slot, const std::string& why) VV_REQUIRES(slot.mu);
  // Dials host:port (TLS when configured), sets timeouts and authenticates.
  Status Dial(const std::string& host, int port, const std::string& user,
              const std::string& password, Conn* out) const;
  // Sentinel: the known master (discovering it when none is known) and its generation.
  Status Master(RedisEndpoint* out, uint64_t* gen) VV_EXCLUDES(master_mu_);
  // Sentinel: forgets the master of generation `gen` (the next use re-discovers).
  void ForgetMaster(uint64_t gen) VV_EXCLUDES(master_mu_);

  const RedisConfig config_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<uint64_t> next_{0};
  std::atomic<uint64_t> connects_{0};
  std::atomic<uint64_t> discoveries_{0};
  mutable Mutex master_mu_;  // held during a discovery
  bool master_known_ VV_GUARDED_BY(master_mu_) = false;
  RedisEndpoint master_ VV_GUARDED_BY(master_mu_);
  uint64_t master_gen_ VV_GUARDED_BY(master_mu_) = 1;
};

class RedisNonceStore final : public NonceStore {
 public:
  explicit RedisNonceStore(std::shared_ptr<RedisPool> pool) : pool_(std::move(pool)) {}
  Status Register(std::string_view key, int64_t ttl_seconds) override;
  Status Release(std::string_view key) override;
  Status Health() const override { return pool_->Ping(); }

  static constexpr std::string_view kKeyPrefix = "vv:tg:nonce:";

 private:
  std::shared_ptr<RedisPool> pool_;
};

class RedisRateLimiter final : public RateLimiter {
 public:
  RedisRateLimiter(std::shared_ptr<RedisPool> pool, const Clock& clock, int64_t limit_per_minute)
      : pool_(std::move(pool)), clock_(clock), limit_(limit_per_minute) {}
  Status Acquire(std::string_view key, RateTicket* ticket) override;
  // One script call (one round trip) for all n units; n is bounded by kMaxAcquireMany.
  Status AcquireMany(std::string_view key, int64_t n, std::vector<RateTicket>* tickets) override;
  Status Refund(const RateTicket& ticket) override;
  Status Health() const override { return pool_->Ping(); }

  static constexpr std::string_view kKeyPrefix = "vv:tg:rate:";
  // Larger requests are answered by several script calls (each atomic on its own).
  static constexpr int64_t kMaxAcquireMany = 10000;
  static constexpr int64_t kWindowMicros = 60'000'000;

 private:
  std::shared_ptr<RedisPool> pool_;
  const Clock& clock_;
  const int64_t limit_;
};

// Nonce + rate in one atomic Lua call (one round trip per request).
class RedisGate {
 public:
  explicit RedisGate(std::shared_ptr<RedisPool> pool) : pool_(std::move(pool)) {}
  // Registers `nonce_key` for `ttl_seconds` (NX) and then acquires one unit of `rate_key`
  // (limit per 60 s sliding window, at `now_micros`). OK: both done, *ticket filled.
  // AlreadyExists: replay, nothing changed. ResourceExhausted: over the limit; the nonce is
  // NOT kept (a 429 is transient, so the same signed bytes may be retried). Unavailable:
  // Redis cannot answer.
  Status RegisterAndAcquire(std::string_view nonce_key, int64_t ttl_seconds,
                            std::string_view rate_key, int64_t limit, int64_t now_micros,
                            RateTicket* ticket);

 private:
  std::shared_ptr<RedisPool> pool_;
};

// Admission on Redis: nonce + rate unit in one Lua round trip (RedisGate); the burn, release
// and refund paths use the nonce store / rate limiter of the same pool.
class RedisAdmission final : public Admission {
 public:
  RedisAdmission(std::shared_ptr<RedisPool> pool, const Clock& clock, int64_t limit_per_minute)
      : gate_(pool), nonces_(pool), limiter_(pool, clock, limit_per_minute), clock_(clock),
        limit_(limit_per_minute) {}
  Status Admit(std::string_view nonce_key, int64_t ttl_seconds, std::string_view rate_key,
               RateTicket* ticket) override {
    return gate_.RegisterAndAcquire(nonce_key, ttl_seconds, rate_key, limit_,
                                    clock_.NowMicros(), ticket);
  }
  Status BurnNonce(std::string_view nonce_key, int64_t ttl_seconds) override {
    return nonces_.Register(nonce_key, ttl_seconds);
  }
  Status ReleaseNonce(std::string_view nonce_key) override { return nonces_.Release(nonce_key); }
  Status Refund(const RateTicket& ticket) override { return limiter_.Refund(ticket); }
  Status Health() const override { return nonces_.Health(); }

 private:
  RedisGate gate_;
  RedisNonceStore nonces_;
  RedisRateLimiter limiter_;
  const Clock& clock_;
  const int64_t limit_;
};

}  // namespace vv::state
