#include "http/admin_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "common/encoding.h"
#include "common/host_port.h"
#include "common/mutex.h"

namespace vv::http {

namespace {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
}  // namespace

bool IsLoopbackHostHeader(std::string_view host) {
  HostPort hp;
  if (SplitAuthority(StripAsciiWhitespace(host), 80, &hp) != HostPortError::kNone) return false;
  const std::string& name = hp.host;
  if (ToLowerAscii(name) == "localhost") return true;
  error_code ec;
  auto addr = net::ip::make_address(name, ec);
  return !ec && addr.is_loopback();
}

std::optional<AdminRefusal> CheckAdminRequest(std::string_view method, std::string_view host,
                                              std::string_view origin,
                                              std::string_view sec_fetch_site,
                                              std::string_view authorization,
                                              std::string_view token) {
  AdminRefusal r;
  if (!IsLoopbackHostHeader(host)) {
    r.reason = "admin_host_not_loopback";
    return r;
  }
  // Browsers send Origin on every cross-origin request and on every POST; a command-line
  // client (curl, vvctl, Prometheus) never does. Sec-Fetch-Site "none" is a user-typed URL.
  if (!origin.empty() || (!sec_fetch_site.empty() && sec_fetch_site != "none")) {
    r.reason = "admin_browser_origin";
    return r;
  }
  if (method == "GET" || method == "HEAD") return std::nullopt;
  r.status = 401;
  if (token.empty()) {
    r.reason = "admin_token_not_configured";
    return r;
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.empty()) {
    r.reason = "admin_token_missing";
    return r;
  }
  if (authorization.substr(0, kBearer.size()) != kBearer ||
      !ConstantTimeEquals(authorization.substr(kBearer.size()), token)) {
    r.reason = "admin_token_invalid";
    return r;
  }
  return std::nullopt;
}

namespace {
// Printable ASCII, bounded: refused requests' method/path are attacker bytes.
std::string Bounded(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, std::min(s.size(), kMaxRefusedField)))
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return out;
}
}  // namespace

class AdminServer::Impl : public std::enable_shared_from_this<AdminServer::Impl> {
 public:
  Impl(AdminHandler handler, AdminOptions options)
      : handler_(std::move(handler)), options_(std::move(options)), acceptor_(ioc_) {}
  explicit Impl(ProbeHandler probe)
      : probe_(std::move(probe)), acceptor_(ioc_) {}

  Status Bind(const HostPort& hp) {
    error_code ec;
    tcp::endpoint ep(net::ip::make_address(hp.host, ec), hp.port);
    if (ec) return Status::InvalidArgument(Name() + ": invalid address " + hp.host);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(64, ec);
    if (ec)
      return Status::Unavailable(Name() + ": cannot listen on " + hp.host + ":" +
                                 std::to_string(hp.port) + ": " + ec.message());
    port_ = acceptor_.local_endpoint(ec).port();
    return Status::Ok();
  }

  void Start() {
    MutexLock l(&mu_);
    if (started_ || stopped_) return;
    started_ = true;
    DoAccept();
    thread_ = std::thread([self = shared_from_this()] {
      for (;;) {
        try {
          self->ioc_.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("{}: {}", self->Name(), e.what());
        }
      }
    });
  }

  void Stop() {
    {
      MutexLock l(&mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
    error_code ignored;
    acceptor_.close(ignored);
  }

  uint16_t port() const { return port_; }
  std::string Name() const { return probe_ ? "probe listener" : "admin listener"; }

 private:
  struct Conn {
    // Counts itself in *open (probe mode: the io thread is the only user).
    Conn(tcp::socket s, size_t* open) : open_count(open), stream(std::move(s)) {
      if (open_count) ++*open_count;
    }
    ~Conn() {
      if (open_count) --*open_count;
    }
    size_t* open_count = nullptr;
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    bhttp::request_parser<bhttp::string_body> parser;
    bhttp::response<bhttp::string_body> res;
  };

  void DoAccept() {
    // Handlers capture `this`, not a shared_ptr: Stop() joins the io thread before the Impl
    // can be destroyed, and handlers still pending then are destroyed with ioc_ (a shared_ptr
    // here would form a cycle Impl -> ioc_ -> handler -> Impl and leak).
    acceptor_.async_accept([this](error_code ec, tcp::socket s) {
      if (ec == net::error::operation_aborted) return;
      if (!ec && probe_ && open_ >= kProbeMaxConnections) {
        error_code ignored;
        s.close(ignored);  // over the connection limit
      } else if (!ec) {
        Serve(std::make_shared<Conn>(std::move(s), probe_ ? &open_ : nullptr));
      }
      DoAccept();
    });
  }

  void Serve(std::shared_ptr<Conn> c) {
    c->parser.body_limit(probe_ ? 0 : 64 * 1024);  // probes: GET without a body
    c->parser.header_limit(probe_ ? kProbeMaxHeaderBytes : 16 * 1024);
    c->stream.expires_after(std::chrono::seconds(kProbeTimeoutSeconds));
    bhttp::async_read(c->stream, c->buffer, c->parser,
                      [this, c](error_code ec, std::size_t) {
                        if (ec) {
                          error_code ignored;
                          c->stream.socket().close(ignored);
                          return;
                        }
                        Respond(c);
                      });
  }

  // Probe mode: only GET of the probe paths reaches the handler.
  Response ProbeResponse(const bhttp::request<bhttp::string_body>& req, const std::string& path) {
    if (req.method() != bhttp::verb::get)
      return {405, R"({"detail":"Method Not Allowed"})", "application/json"};
    for (std::string_view p : kProbePaths)
      if (p == path) return probe_(path);
    return {404, R"({"detail":"Not Found"})", "application/json"};
  }

  void Respond(const std::shared_ptr<Conn>& c) {
    auto& req = c->parser.get();
    if (probe_) {
      std::string target(req.target());
      Response r;
      try {
        r = ProbeResponse(req, target.substr(0, target.find('?')));
      } catch (const std::exception& e) {
        r = {500, R"({"detail":"Internal Server Error"})", "application/json"};
        spdlog::error("probe handler threw: {}", e.what());
      }
      if (r.status == 405) c->res.set(bhttp::field::allow, "GET");
      Write(c, std::move(r));
      return;
    }
    AdminRequest ar;
    ar.method = std::string(req.method_string());
    std::string target(req.target());
    size_t q = target.find('?');
    ar.path = q == std::string::npos ? target : target.substr(0, q);
    ar.body = req.body();
    Response r;
    auto sv = [](boost::beast::string_view v) { return std::string_view(v.data(), v.size()); };
    auto refusal = CheckAdminRequest(ar.method, sv(req[bhttp::field::host]),
                                     sv(req[bhttp::field::origin]), sv(req["Sec-Fetch-Site"]),
                                     sv(req[bhttp::field::authorization]), options_.token);
    try {
      if (refusal) {
        refusal->method = Bounded(ar.method);
        refusal->path = Bounded(ar.path);
        r = refusal->status == 401
                ? Response{401, R"({"detail":"Unauthorized"})", "application/json"}
                : Response{403, R"({"detail":"Forbidden"})", "application/json"};
        if (options_.on_refused) options_.on_refused(*refusal);
      } else {
        r = handler_(ar);
      }
    } catch (const std::exception& e) {
      r = {500, R"({"detail":"Internal Server Error"})", "application/json"};
      spdlog::error("admin handler threw: {}", e.what());
    }
    Write(c, std::move(r));
  }

  void Write(const std::shared_ptr<Conn>& c, Response r) {
    c->res.version(11);
    c->res.result(static_cast<unsigned>(r.status));
    c->res.set(bhttp::field::content_type, r.content_type);
    c->res.keep_alive(false);
    c->res.body() = std::move(r.body);
    c->res.prepare_payload();
    c->stream.expires_after(std::chrono::seconds(5));
    bhttp::async_write(c->stream, c->res, [c](error_code, std::size_t) {
      error_code ignored;
      c->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      c->stream.socket().close(ignored);
    });
  }

  AdminHandler handler_;
  const AdminOptions options_;
  ProbeHandler probe_;  // set: probe mode
  size_t open_ = 0;     // open connections (probe mode; io thread only)
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  Mutex mu_;
  bool started_ VV_GUARDED_BY(mu_) = false;
  bool stopped_ VV_GUARDED_BY(mu_) = false;
  uint16_t port_ = 0;
};

Result<std::unique_ptr<AdminServer>> AdminServer::Create(std::string_view listen,
                                                         AdminHandler handler,
                                                         AdminOptions options) {
  VV_ASSIGN_OR_RETURN(auto hp, ParseListenAddress("admin_listen", listen, /*loopback_only=*/true));
  std::shared_ptr<Impl> impl;
  try {
    impl = std::make_shared<Impl>(std::move(handler), std::move(options));
    VV_RETURN_IF_ERROR(impl->Bind(hp));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("admin listener: ") + e.what());
  }
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

Result<std::unique_ptr<ProbeServer>> ProbeServer::Create(std::string_view listen,
                                                         ProbeHandler handler) {
  VV_ASSIGN_OR_RETURN(auto hp, ParseListenAddress("probe_listen", listen, /*loopback_only=*/false));
  std::shared_ptr<AdminServer::Impl> impl;
  try {
    impl = std::make_shared<AdminServer::Impl>(std::move(handler));
    VV_RETURN_IF_ERROR(impl->Bind(hp));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("probe listener: ") + e.what());
  }
  return std::unique_ptr<ProbeServer>(new ProbeServer(std::move(impl)));
}

ProbeServer::~ProbeServer() {
  if (impl_) impl_->Stop();
}
uint16_t ProbeServer::port() const { return impl_->port(); }
void ProbeServer::Start() { impl_->Start(); }
void ProbeServer::Stop() { impl_->Stop(); }

AdminServer::~AdminServer() {
  if (impl_) impl_->Stop();
}
uint16_t AdminServer::port() const { return impl_->port(); }
void AdminServer::Start() { impl_->Start(); }
void AdminServer::Stop() { impl_->Stop(); }

}  // namespace vv::http
