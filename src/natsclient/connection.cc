#include "natsclient/connection.h"

#include <algorithm>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "common/logging.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "natsclient/server_list.h"

namespace vv::natsclient {

namespace {

// Backend state lines (issue 16): one log line when a connection goes away and one when it
// comes back (logging::Backends() logs transitions only). The closure is the backend's name,
// interned for the life of the process (nats.c may call back until the connection is gone).
const std::string* InternName(const std::string& name) {
  struct Names {
    Mutex mu;
    std::set<std::string> set VV_GUARDED_BY(mu);
  };
  static auto* names = new Names();  // never destroyed: callbacks at exit
  MutexLock l(&names->mu);
  return &*names->set.insert(name).first;
}

void OnConnected(natsConnection*, void* closure) {
  logging::Backends().Observe(*static_cast<const std::string*>(closure), Status::Ok());
}

void OnDisconnected(natsConnection* nc, void* closure) {
  // natsConnection_Destroy at shutdown also reports a disconnect: not an outage.
  if (natsConnection_Status(nc) == NATS_CONN_STATUS_CLOSED) return;
  logging::Backends().Observe(*static_cast<const std::string*>(closure),
                              Status::Unavailable("connection to the NATS server lost"));
}

// The backoff of one connection: its closure lives for the process (like the names above),
// shared by every connection with the same policy.
struct Backoff {
  int64_t base_ms;
  int64_t max_ms;
  bool operator<(const Backoff& o) const {
    return std::tie(base_ms, max_ms) < std::tie(o.base_ms, o.max_ms);
  }
};

const Backoff* InternBackoff(const Backoff& b) {
  struct Policies {
    Mutex mu;
    std::set<Backoff> set VV_GUARDED_BY(mu);
  };
  static auto* policies = new Policies();  // never destroyed: callbacks at exit
  MutexLock l(&policies->mu);
  return &*policies->set.insert(b).first;
}

int64_t OnReconnectDelay(natsConnection*, int attempts, void* closure) {
  const auto* b = static_cast<const Backoff*>(closure);
  // Jitter only spreads reconnects out; it needs no secrecy, and no test depends on a draw.
  thread_local std::minstd_rand rng(std::random_device{}());
  const double unit = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  return ReconnectDelayMs(attempts, b->base_ms, b->max_ms, unit);
}

}  // namespace

int64_t ReconnectDelayMs(int attempt, int64_t base_ms, int64_t max_ms, double unit) {
  base_ms = std::max<int64_t>(base_ms, 0);
  max_ms = std::max(max_ms, base_ms);
  int64_t ceiling = base_ms;
  for (int i = 1; i < attempt && ceiling < max_ms; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, max_ms);
  unit = std::clamp(unit, 0.0, 1.0);
  const auto jittered = static_cast<int64_t>(static_cast<double>(ceiling) * unit);
  return std::max(jittered, base_ms / 2);
}

Status ValidateOptions(const ConnectOptions& o) {
  VV_RETURN_IF_ERROR(ParseServerList(o.url).status());
  if (o.connect_timeout_ms < 1 || o.reconnect_wait_ms < 0 ||
      o.reconnect_wait_max_ms < o.reconnect_wait_ms)
    return Status::InvalidArgument(
        "nats timeouts: connect timeout must be positive, reconnect waits non-negative and "
        "the maximum at least the first wait");
  if (o.reconnect_buffer_bytes < 1)
    return Status::InvalidArgument("nats reconnect buffer must be at least 1 byte");
  if (o.tls_cert_file.empty() != o.tls_key_file.empty())
    return Status::InvalidArgument(
        "nats TLS client certificate and key must be given together");
  return Status::Ok();
}

bool IsConnected(natsConnection* nc) {
  return nc != nullptr && natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED;
}

std::string ConnectedServer(natsConnection* nc) {
  if (nc == nullptr) return std::string();
  char buf[kMaxServerUrlLength + 1] = {};
  if (natsConnection_GetConnectedUrl(nc, buf, sizeof(buf)) != NATS_OK) return std::string();
  return RedactServerList(buf);
}

std::string NatsText(natsStatus s, jsErrCode jerr) {
  std::string t = natsStatus_GetText(s);
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (detail != nullptr && *detail != '\0' && t != detail) t += std::string(" (") + detail + ")";
  if (jerr != 0) t += " [jetstream error " + std::to_string(static_cast<int>(jerr)) + "]";
  return t;
}

Result<natsConnection*> Connect(const ConnectOptions& o, std::string_view what) {
  const std::string w(what);
  if (Status v = ValidateOptions(o); !v.ok()) return Status::InvalidArgument(w + ": " + v.message());
  auto servers = ParseServerList(o.url);  // valid: checked above
  std::vector<std::string> full;
  std::vector<const char*> urls;
  for (const ServerUrl& u : *servers) full.push_back(u.Full());
  for (const std::string& u : full) urls.push_back(u.c_str());
  const std::string redacted = RedactServerList(o.url);
  const bool tls = (*servers)[0].scheme == "tls" || !o.tls_ca_file.empty() ||
                   !o.tls_cert_file.empty();

  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s != NATS_OK) return Status::Internal(w + ": nats options: " + NatsText(s));
  s = natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
  if (s == NATS_OK) s = natsOptions_SetName(opts, o.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, o.connect_timeout_ms);
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts, true);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, o.reconnect_wait_ms);
  if (s == NATS_OK)
    s = natsOptions_SetCustomReconnectDelay(
        opts, &OnReconnectDelay,
        const_cast<Backoff*>(InternBackoff({o.reconnect_wait_ms, o.reconnect_wait_max_ms})));
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(opts, o.reconnect_buffer_bytes);
  if (s == NATS_OK) s = natsOptions_SetPingInterval(opts, 5000);
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts, 2);
  if (s == NATS_OK) s = natsOptions_SetSendAsap(opts, o.send_asap);
  const std::string* backend = InternName("nats (" + w + ")");
  void* closure = const_cast<std::string*>(backend);
  if (s == NATS_OK && !o.require_connection)
    s = natsOptions_SetRetryOnFailedConnect(opts, true, &OnConnected, closure);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts, &OnDisconnected, closure);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts, &OnConnected, closure);
  if (s == NATS_OK && !o.creds_file.empty())
    s = natsOptions_SetUserCredentialsFromFiles(opts, o.creds_file.c_str(), nullptr);
  if (s == NATS_OK && tls) s = natsOptions_SetSecure(opts, true);
  if (s == NATS_OK && !o.tls_ca_file.empty())
    s = natsOptions_LoadCATrustedCertificates(opts, o.tls_ca_file.c_str());
  if (s == NATS_OK && !o.tls_cert_file.empty())
    s = natsOptions_LoadCertificatesChain(opts, o.tls_cert_file.c_str(), o.tls_key_file.c_str());
  if (s != NATS_OK) {
    std::string why = NatsText(s);
    natsOptions_Destroy(opts);
    return Status::InvalidArgument(w + ": nats options: " + why);
  }
  natsConnection* nc = nullptr;
  s = natsConnection_Connect(&nc, opts);
  natsOptions_Destroy(opts);
  if (s == NATS_OK) logging::Backends().Observe(*backend, Status::Ok());
  if (s == NATS_NOT_YET_CONNECTED)
    logging::Backends().Observe(*backend, Status::Unavailable("cannot connect: " + NatsText(s)));
  if (s == NATS_OK || (s == NATS_NOT_YET_CONNECTED && !o.require_connection)) return nc;
  if (nc != nullptr) natsConnection_Destroy(nc);
  return Status::Unavailable(w + ": cannot connect to NATS at " + redacted + ": " +
                             NatsText(s));
}

}  // namespace vv::natsclient
