#include "natsclient/connection.h"

namespace vv::natsclient {

namespace {

// nats.c requires a callback to retry a failed first connect; the connection's state is
// observed through its status, so there is nothing to do here.
void OnConnected(natsConnection*, void*) {}

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
  if (s == NATS_OK && !o.require_connection)
    s = natsOptions_SetRetryOnFailedConnect(opts, true, &OnConnected, nullptr);
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
  if (s == NATS_OK || (s == NATS_NOT_YET_CONNECTED && !o.require_connection)) return nc;
  if (nc != nullptr) natsConnection_Destroy(nc);
  return Status::Unavailable(w + ": cannot connect to NATS at " + o.url + ": " + NatsText(s));
}

}  // namespace vv::natsclient
