#include "natsclient/connection.h"

#include <mutex>
#include <set>

#include "common/logging.h"

namespace vv::natsclient {

namespace {

// Backend state lines (issue 16): one log line when a connection goes away and one when it
// comes back (logging::Backends() logs transitions only). The closure is the backend's name,
// interned for the life of the process (nats.c may call back until the connection is gone).
const std::string* InternName(const std::string& name) {
  static std::mutex mu;
  static auto* names = new std::set<std::string>();  // never destroyed: callbacks at exit
  std::lock_guard<std::mutex> l(mu);
  return &*names->insert(name).first;
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

}  // namespace

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
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s != NATS_OK) return Status::Internal(w + ": nats options: " + NatsText(s));
  s = natsOptions_SetURL(opts, o.url.c_str());
  if (s == NATS_OK) s = natsOptions_SetName(opts, o.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, o.connect_timeout_ms);
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts, true);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, o.reconnect_wait_ms);
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
  if (s == NATS_OK && !o.tls_ca_file.empty()) {
    s = natsOptions_SetSecure(opts, true);
    if (s == NATS_OK) s = natsOptions_LoadCATrustedCertificates(opts, o.tls_ca_file.c_str());
  }
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
  return Status::Unavailable(w + ": cannot connect to NATS at " + o.url + ": " + NatsText(s));
}

}  // namespace vv::natsclient
