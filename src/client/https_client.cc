#include "spectrastrike/https_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <chrono>
#include <optional>

#include "client/status_bridge.h"
#include "common/encoding.h"
#include "common/host_port.h"
#include "crypto/crypto.h"
#include "tls/tls.h"

namespace spectrastrike {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

constexpr uint64_t kMaxResponseBody = 64ull << 20;
constexpr uint32_t kMaxResponseHeader = 64 * 1024;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && vv::ToLowerAscii(a) == vv::ToLowerAscii(b);
}

std::string NormaliseFingerprint(std::string_view fp) {
  std::string out;
  for (char c : vv::StripAsciiWhitespace(fp)) {
    if (c != ':') out.push_back(c);
  }
  return vv::ToLowerAscii(out);
}

// For the ssl category this is OpenSSL's reason ("tlsv13 alert certificate required").
std::string ErrorText(const error_code& ec) { return ec.message(); }

HttpResponse Fail(std::string error) {
  HttpResponse r;
  r.transport_ok = false;
  r.error = std::move(error);
  return r;
}

}  // namespace

const std::string* HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return &v;
  }
  return nullptr;
}

class HttpsClient::Impl {
 public:
  Impl(std::string host, uint16_t port, TlsClientConfig config, HttpTimeouts timeouts)
      : host_(std::move(host)), port_(port), cfg_(std::move(config)), timeouts_(timeouts) {
    pin_ = NormaliseFingerprint(cfg_.pinned_server_cert_sha256);
    auto ctx = vv::tls::BuildClientContext(
        vv::tls::ClientTlsOptions{cfg_.ca_path, cfg_.cert_path, cfg_.key_path, cfg_.verify_peer});
    if (ctx.ok()) {
      ctx_ = std::move(ctx).value();
    } else {
      ctx_error_ = ctx.status().message();
    }
  }
  ~Impl() {
    CloseConnection();
    if (session_ != nullptr) SSL_SESSION_free(session_);
  }

  HttpResponse Send(const std::string& method, const std::string& target,
                    const HeaderList& headers, const std::string& body);
  void CloseConnection();
  bool connected() const { return stream_.has_value(); }
  uint64_t connections_opened() const { return connections_; }
  const std::string& ctx_error() const { return ctx_error_; }
  bool last_resumed() const { return last_resumed_; }

 private:
  // Runs one async operation to completion on the private io_context.
  template <typename Start>
  error_code Run(Start&& start) {
    error_code result = net::error::would_block;
    start([&result](error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  bool Connect(std::string* error);
  bool ProxyTunnel(std::string* error);
  bool IdleConnectionAlive();
  void SaveSession();

  const std::string host_;
  const uint16_t port_;
  const TlsClientConfig cfg_;
  const HttpTimeouts timeouts_;
  std::string pin_;
  std::unique_ptr<ssl::context> ctx_;
  std::string ctx_error_;

  net::io_context ioc_{1};
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
  SSL_SESSION* session_ = nullptr;
  bool session_saved_ = false;  // for the current connection
  uint64_t connections_ = 0;
  bool last_resumed_ = false;
};

void HttpsClient::Impl::CloseConnection() {
  if (!stream_) return;
  // Mark the TLS session as cleanly shut down: otherwise SSL_free flags it not resumable.
  SSL_set_shutdown(stream_->native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  error_code ignored;
  auto& sock = beast::get_lowest_layer(*stream_).socket();
  sock.shutdown(tcp::socket::shutdown_both, ignored);
  sock.close(ignored);
  stream_.reset();
  buffer_.clear();
}

bool HttpsClient::Impl::Connect(std::string* error) {
  CloseConnection();
  if (!ctx_) {
    *error = "tls config: " + ctx_error_;
    return false;
  }
  error_code ec;
  tcp::resolver resolver(ioc_);
  const bool via_proxy = cfg_.proxy.enabled();
  const std::string& dial_host = via_proxy ? cfg_.proxy.host : host_;
  const uint16_t dial_port = via_proxy ? cfg_.proxy.port : port_;
  auto endpoints = resolver.resolve(dial_host, std::to_string(dial_port), ec);
  if (ec) {
    *error = std::string(via_proxy ? "resolve proxy " : "resolve ") + dial_host + ": " +
             ec.message();
    return false;
  }
  stream_.emplace(ioc_, *ctx_);
  session_saved_ = false;
  SSL* ssl = stream_->native_handle();
  const std::string& name = cfg_.server_name.empty() ? host_ : cfg_.server_name;
  error_code addr_ec;
  net::ip::make_address(name, addr_ec);
  const bool is_ip = !addr_ec;
  if (!is_ip) SSL_set_tlsext_host_name(ssl, name.c_str());
  if (cfg_.verify_peer) {
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str())
                   : SSL_set1_host(ssl, name.c_str());
    if (ok != 1) {
      CloseConnection();
      *error = "cannot set verification name " + name;
      return false;
    }
  }
  if (session_ != nullptr) SSL_set_session(ssl, session_);

  auto& tcp_stream = beast::get_lowest_layer(*stream_);
  tcp_stream.expires_after(std::chrono::milliseconds(timeouts_.connect_ms));
  ec = Run([&](auto handler) { tcp_stream.async_connect(endpoints, std::move(handler)); });
  if (ec) {
    CloseConnection();
    *error = std::string(via_proxy ? "connect proxy " : "connect ") + dial_host + ":" +
             std::to_string(dial_port) + ": " + ec.message();
    return false;
  }
  error_code ignored;
  tcp_stream.socket().set_option(tcp::no_delay(true), ignored);
  if (via_proxy && !ProxyTunnel(error)) {
    CloseConnection();
    return false;
  }
  tcp_stream.expires_after(std::chrono::milliseconds(timeouts_.handshake_ms));
  ec = Run([&](auto handler) {
    stream_->async_handshake(ssl::stream_base::client, std::move(handler));
  });
  if (ec) {
    CloseConnection();
    *error = "tls handshake: " + ErrorText(ec);
    return false;
  }
  if (!pin_.empty()) {
    std::string got = vv::tls::CertSha256Hex(SSL_get0_peer_certificate(ssl));
    if (got.empty() || !vv::ConstantTimeEquals(got, pin_)) {
      CloseConnection();
      *error = "server certificate pin mismatch (got " + got + ")";
      return false;
    }
  }
  ++connections_;
  last_resumed_ = SSL_session_reused(ssl) == 1;
  return true;
}

// CONNECT host:port through the proxy on the freshly connected TCP stream; the TLS handshake
// with the gateway then runs inside the tunnel. Only the proxy's status line is trusted: a
// non-2xx answer (407, 403, 502 ...) is a transport error naming the proxy's status. The
// response head is bounded (a hostile proxy cannot make us buffer without end).
bool HttpsClient::Impl::ProxyTunnel(std::string* error) {
  auto& tcp_stream = beast::get_lowest_layer(*stream_);
  const std::string authority = (host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_) +
                                ":" + std::to_string(port_);
  std::string req = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
  if (!cfg_.proxy.authorization.empty())
    req += "Proxy-Authorization: " + cfg_.proxy.authorization + "\r\n";
  req += "User-Agent: spectrastrike-cpp/0.1\r\n\r\n";
  tcp_stream.expires_after(std::chrono::milliseconds(timeouts_.connect_ms));
  error_code ec = Run([&](auto handler) {
    net::async_write(tcp_stream, net::buffer(req), std::move(handler));
  });
  if (ec) {
    *error = "proxy CONNECT write: " + ec.message();
    return false;
  }
  // Read byte-wise up to the end of the head: nothing after it may be consumed, because the
  // server's TLS records follow in the same stream.
  std::string head;
  char c = 0;
  while (head.size() < 16 * 1024 &&
         (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n") != 0)) {
    ec = Run([&](auto handler) { tcp_stream.async_read_some(net::buffer(&c, 1), std::move(handler)); });
    if (ec) {
      *error = "proxy CONNECT read: " + ec.message();
      return false;
    }
    head.push_back(c);
  }
  tcp_stream.expires_never();
  if (head.size() >= 16 * 1024) {
    *error = "proxy CONNECT: response head too large";
    return false;
  }
  // "HTTP/1.x 200 ..."
  const std::string status = head.size() > 12 ? head.substr(9, 3) : "";
  if (head.rfind("HTTP/1.", 0) != 0 || status.size() != 3 || status[0] != '2') {
    std::string line = head.substr(0, std::min(head.find('\r'), size_t{80}));
    for (char& ch : line)
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
    *error = "proxy " + cfg_.proxy.host + ":" + std::to_string(cfg_.proxy.port) +
             " refused CONNECT " + authority + ": " + line;
    return false;
  }
  return true;
}

// A kept-alive connection on which the server has sent anything (EOF, close_notify, alert)
// while idle is no longer usable: poll without waiting.
bool HttpsClient::Impl::IdleConnectionAlive() {
  if (!stream_ || buffer_.size() != 0) return false;
  auto& sock = beast::get_lowest_layer(*stream_).socket();
  if (!sock.is_open()) return false;
  pollfd p{sock.native_handle(), POLLIN, 0};
  int r = ::poll(&p, 1, 0);
  return r == 0;
}

void HttpsClient::Impl::SaveSession() {
  if (session_saved_ || !stream_) return;
  SSL_SESSION* s = SSL_get1_session(stream_->native_handle());
  if (s == nullptr) return;
  if (SSL_SESSION_is_resumable(s) != 1) {
    SSL_SESSION_free(s);
    return;
  }
  if (session_ != nullptr) SSL_SESSION_free(session_);
  session_ = s;
  session_saved_ = true;
}

HttpResponse HttpsClient::Impl::Send(const std::string& method, const std::string& target,
                                     const HeaderList& headers, const std::string& body) {
  bhttp::request<bhttp::string_body> req;
  bhttp::verb verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown) {
    req.method_string(method);
  } else {
    req.method(verb);
  }
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, host_ + ":" + std::to_string(port_));
  req.set(bhttp::field::user_agent, "spectrastrike-cpp/0.1");
  for (const auto& [k, v] : headers) req.insert(k, v);
  req.body() = body;
  req.prepare_payload();

  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = false;
    if (stream_) {
      if (IdleConnectionAlive()) {
        reused = true;
      } else {
        CloseConnection();
      }
    }
    if (!stream_) {
      std::string error;
      if (!Connect(&error)) return Fail(std::move(error));
    }
    auto& tcp_stream = beast::get_lowest_layer(*stream_);
    tcp_stream.expires_after(std::chrono::milliseconds(timeouts_.io_ms));
    error_code ec = Run([&](auto handler) { bhttp::async_write(*stream_, req, std::move(handler)); });
    if (ec) {
      CloseConnection();
      if (reused && attempt == 0) continue;  // stale connection: the request was not sent
      return Fail("write: " + ErrorText(ec));
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(kMaxResponseHeader);
    parser.body_limit(kMaxResponseBody);
    tcp_stream.expires_after(std::chrono::milliseconds(timeouts_.io_ms));
    ec = Run([&](auto handler) { bhttp::async_read(*stream_, buffer_, parser, std::move(handler)); });
    if (ec) {
      CloseConnection();
      return Fail("read: " + ErrorText(ec));
    }
    tcp_stream.expires_never();
    auto& res = parser.get();
    HttpResponse out;
    out.transport_ok = true;
    out.status = static_cast<int>(res.result_int());
    out.headers.reserve(8);
    for (const auto& f : res) {
      out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    const bool keep = res.keep_alive();
    out.body = std::move(res.body());
    SaveSession();  // TLS 1.3 tickets arrive after the handshake; read by now
    if (!keep) CloseConnection();
    return out;
  }
  return Fail("request failed after reconnect");
}

// ---------------------------------------------------------------------------------------------

HttpsClient::HttpsClient(std::string host, uint16_t port, TlsClientConfig config,
                         HttpTimeouts timeouts)
    : impl_(std::make_unique<Impl>(std::move(host), port, std::move(config), timeouts)) {}
HttpsClient::~HttpsClient() = default;
HttpsClient::HttpsClient(HttpsClient&&) noexcept = default;
HttpsClient& HttpsClient::operator=(HttpsClient&&) noexcept = default;

HttpResponse HttpsClient::Post(const std::string& target, const HeaderList& headers,
                               const std::string& body) {
  return Send("POST", target, headers, body);
}

HttpResponse HttpsClient::Get(const std::string& target, const HeaderList& headers) {
  return Send("GET", target, headers, "");
}

HttpResponse HttpsClient::Send(const std::string& method, const std::string& target,
                               const HeaderList& headers, const std::string& body) {
  try {
    return impl_->Send(method, target, headers, body);
  } catch (const std::exception& e) {
    impl_->CloseConnection();
    return Fail(std::string("client error: ") + e.what());
  }
}

void HttpsClient::Close() { impl_->CloseConnection(); }
std::string HttpsClient::ConfigError() const { return impl_->ctx_error(); }
bool HttpsClient::connected() const { return impl_->connected(); }
uint64_t HttpsClient::connections_opened() const { return impl_->connections_opened(); }
bool HttpsClient::last_connection_resumed() const { return impl_->last_resumed(); }

namespace {

// "host[:port]" of a no_proxy entry matches `host` (case-insensitive) exactly, or as a domain
// suffix for ".example.com" / "example.com"; "*" matches everything.
bool NoProxyMatches(std::string_view list, const std::string& host, uint16_t port) {
  const std::string h = vv::ToLowerAscii(host);
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    std::string entry = vv::ToLowerAscii(vv::StripAsciiWhitespace(
        list.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos)));
    pos = comma == std::string_view::npos ? list.size() + 1 : comma + 1;
    if (entry.empty()) continue;
    if (entry == "*") return true;
    // host, .domain, [v6] or an unbracketed v6 literal, each with an optional :port (not
    // the unbracketed v6, whose colons cannot be told from a port's).
    vv::HostPort hp;
    switch (vv::SplitAuthority(entry, port, &hp)) {
      case vv::HostPortError::kNone:
        if (hp.port != port) continue;
        entry = std::move(hp.host);
        break;
      case vv::HostPortError::kUnbracketedIpv6:
        break;  // "::1": the whole entry is the address
      default:
        continue;  // malformed: exempts nothing
    }
    if (!entry.empty() && entry[0] == '.') entry.erase(0, 1);
    if (h == entry) return true;
    if (h.size() > entry.size() && h.compare(h.size() - entry.size(), entry.size(), entry) == 0 &&
        h[h.size() - entry.size() - 1] == '.')
      return true;
  }
  return false;
}

}  // namespace

Result<HttpProxy> ProxyFromEnvironment(
    const std::string& target_host, uint16_t target_port,
    const std::function<std::optional<std::string>(const char*)>& getenv) {
  auto bad = [](const std::string& why) { return Status(StatusCode::kInvalidArgument, why); };
  HttpProxy proxy;
  auto first = [&](const char* a, const char* b) -> std::optional<std::string> {
    for (const char* n : {a, b}) {
      auto v = getenv(n);
      if (v.has_value() && !vv::StripAsciiWhitespace(*v).empty())
        return std::string(vv::StripAsciiWhitespace(*v));
    }
    return std::nullopt;
  };
  auto url = first("https_proxy", "HTTPS_PROXY");
  if (!url.has_value()) return proxy;
  if (auto no = first("no_proxy", "NO_PROXY"); no && NoProxyMatches(*no, target_host, target_port))
    return proxy;
  std::string_view u = *url;
  if (vv::ToLowerAscii(u.substr(0, 7)) == "http://") {
    u.remove_prefix(7);
  } else if (u.find("://") != std::string_view::npos) {
    return bad("https_proxy: only http:// proxies are supported (CONNECT tunnel)");
  }
  u = u.substr(0, u.find('/'));
  if (size_t at = u.rfind('@'); at != std::string_view::npos) {
    // userinfo is percent-encoded in the URL (user:p%40ss); the header carries it decoded.
    std::string_view enc = u.substr(0, at);
    std::string user;
    for (size_t i = 0; i < enc.size(); ++i) {
      auto hex = [](char h) {
        return h >= '0' && h <= '9' ? h - '0' : (h | 0x20) >= 'a' && (h | 0x20) <= 'f' ? (h | 0x20) - 'a' + 10 : -1;
      };
      if (enc[i] == '%' && i + 2 < enc.size() && hex(enc[i + 1]) >= 0 && hex(enc[i + 2]) >= 0) {
        user.push_back(static_cast<char>(hex(enc[i + 1]) * 16 + hex(enc[i + 2])));
        i += 2;
      } else {
        user.push_back(enc[i]);
      }
    }
    proxy.authorization = "Basic " + vv::Base64Encode(user);
    u.remove_prefix(at + 1);
  }
  vv::HostPort hp;
  if (vv::HostPortError e = vv::SplitAuthority(u, 80, &hp); e != vv::HostPortError::kNone)
    return bad(std::string("https_proxy: ") + vv::HostPortErrorText(e));
  proxy.host = std::move(hp.host);
  proxy.port = hp.port;
  return proxy;
}

Result<std::string> CertificateSha256Hex(const std::string& pem_path) {
  return Public(vv::crypto::CertificateFingerprintFromPemFile(pem_path));
}

}  // namespace spectrastrike
