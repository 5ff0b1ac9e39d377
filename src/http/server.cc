#include "http/server.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <limits>
#include <list>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <functional>
#include <vector>

#include "common/completion_batch.h"
#include "common/mutex.h"

namespace vv::http {

// ---------------------------------------------------------------------------------------------
// Request helpers

namespace {
bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}
}  // namespace

const std::string* Request::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (EqualsIgnoreCase(name, lower_name)) return &value;
  }
  return nullptr;
}

std::string Request::Path() const {
  size_t q = target.find('?');
  return q == std::string::npos ? target : target.substr(0, q);
}

// ---------------------------------------------------------------------------------------------

namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr size_t kDrainLimitBytes = 8 << 20;
constexpr auto kDrainTimeout = std::chrono::seconds(2);
constexpr auto kShutdownTimeout = std::chrono::seconds(1);

}  // namespace

class Connection;

// Shared server state. Held by shared_ptr so that connections (and responders still held by a
// handler) keep it alive; see Server::Stop for the shutdown sequence.
class Server::Impl : public std::enable_shared_from_this<Server::Impl> {
 public:
  Impl(const ServerOptions& options, Handler& handler, std::unique_ptr<ssl::context> ctx)
      : options_(options),
        handler_(handler),
        ssl_ctx_(std::shared_ptr<ssl::context>(std::move(ctx))),
        iocs_(MakeContexts(options)),
        acceptor_(net::make_strand(*iocs_[0])),
        accept_backoff_(acceptor_.get_executor()) {}

  Status Bind();
  void Start();
  void Stop();
  void Wait();
  uint16_t port() const { return port_; }
  ServerStats Stats() const;

  void Register(Connection* c, const std::shared_ptr<Connection>& sp);
  void Unregister(Connection* c, uint64_t id);
  // An eviction found the connection already past its handshake: it counts as live again.
  void CancelEviction(Connection* c);
  // The connection's TLS handshake ended (either way): it leaves the pending pool.
  void HandshakeFinished(uint64_t id);
  // TLS reload: every open connection verifies its peer again against `ctx`.
  void RecheckAll(const std::shared_ptr<ssl::context>& ctx);

  // Constant after construction.
  const ServerOptions options_;
  Handler& handler_;
  // The TLS context for NEW connections; replaced by ReloadTls. Each connection holds a
  // reference to the context it was accepted with (so existing connections keep theirs).
  std::shared_ptr<ssl::context> TlsContext() const {
    MutexLock l(&ctx_mu_);
    return ssl_ctx_;
  }
  void SetTlsContext(std::shared_ptr<ssl::context> ctx) {
    MutexLock l(&ctx_mu_);
    ssl_ctx_ = std::move(ctx);
  }
  mutable Mutex ctx_mu_;
  std::shared_ptr<ssl::context> ssl_ctx_ VV_GUARDED_BY(ctx_mu_);

  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> accepted_{0}, refused_{0}, handshakes_ok_{0}, handshakes_failed_{0},
      sessions_resumed_{0}, requests_{0}, handshakes_evicted_{0}, peers_rejected_{0};

 private:
  void DoAccept();
  void OnAccept(error_code ec, tcp::socket socket, net::io_context* ioc);

  mutable Mutex mu_;
  CondVar cv_;  // conns_ became empty
  std::unordered_map<Connection*, std::weak_ptr<Connection>> conns_ VV_GUARDED_BY(mu_);
  // Connections still in the TLS handshake, oldest first (issue 12 item 4).
  struct Pending {
    uint64_t id;
    std::string source;
    std::weak_ptr<Connection> conn;
  };
  using PendingList = std::list<Pending>;
  // Takes the oldest pending handshake (of `source`, when given) off the pool; its connection
  // is closed by the caller (outside the lock).
  std::shared_ptr<Connection> TakeOldestPending(const std::string* source) VV_REQUIRES(mu_);
  PendingList pending_ VV_GUARDED_BY(mu_);
  std::unordered_map<uint64_t, PendingList::iterator> pending_by_id_ VV_GUARDED_BY(mu_);
  std::unordered_map<std::string, size_t> pending_per_source_ VV_GUARDED_BY(mu_);
  // The connections counting as "being evicted" (marked by TakeOldestPending until they
  // complete their handshake after all, or are destroyed), and how many: evicted, not yet
  // destroyed.
  std::unordered_set<Connection*> evict_marked_ VV_GUARDED_BY(mu_);
  size_t evicting_ VV_GUARDED_BY(mu_) = 0;
  uint64_t next_id_ VV_GUARDED_BY(mu_) = 0;
  bool started_ VV_GUARDED_BY(mu_) = false;
  bool stopped_ VV_GUARDED_BY(mu_) = false;

  // One io_context per io thread (ServerOptions::threads): a connection lives on one of them
  // (assigned round-robin at accept), so its events and answers never wake another thread -
  // one shared context made the threads hand work to each other through its scheduler.
  static std::vector<std::unique_ptr<net::io_context>> MakeContexts(const ServerOptions& o) {
    const int n = o.threads > 0 ? o.threads
                                : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::vector<std::unique_ptr<net::io_context>> out;
    for (int i = 0; i < n; ++i) out.push_back(std::make_unique<net::io_context>(1));
    return out;
  }
  const std::vector<std::unique_ptr<net::io_context>> iocs_;
  size_t next_ioc_ = 0;  // on the acceptor's strand
  tcp::acceptor acceptor_;
  net::steady_timer accept_backoff_;  // on the acceptor's strand
  uint16_t port_ = 0;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  Mutex join_mu_;  // one thread joins threads_ at a time
};

namespace {
// The answers given inside one CompletionBatch (Connection::Dispatch): posted to each io
// thread as ONE handler when the batch closes (one per io_context that has answers); it hands
// each to its connection's strand, on that thread.
struct ResponseBatch final : CompletionBatch::Part {
  void Add(net::io_context* ioc, std::function<void()> deliver) {
    for (auto& [where, d] : deliveries) {
      if (where == ioc) {
        d.push_back(std::move(deliver));
        return;
      }
    }
    deliveries.emplace_back(ioc, std::vector<std::function<void()>>{});
    deliveries.back().second.push_back(std::move(deliver));
  }
  void Close() override {
    for (auto& [ioc, d] : deliveries) {
      net::post(*ioc, [d = std::move(d)]() mutable {
        for (auto& deliver : d) deliver();
      });
    }
  }
  // The io_contexts outlive every connection the deliveries hold (Server::Impl owns them).
  std::vector<std::pair<net::io_context*, std::vector<std::function<void()>>>> deliveries;
};
}  // namespace

// One accepted TCP connection: TLS handshake, then a sequential keep-alive request loop.
// All state is touched only on the connection's strand (the stream's executor).
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket&& socket, std::shared_ptr<Server::Impl> srv, net::io_context* ioc,
             std::string remote, std::string source, uint64_t id)
      : srv_(std::move(srv)),
        ioc_(ioc),
        ctx_(srv_->TlsContext()),
        stream_(std::move(socket), *ctx_),
        reader_(ReaderLimitsFor(srv_->options_)),
        id_(id),
        source_(std::move(source)) {
    peer_.remote_address = std::move(remote);
  }
  ~Connection() { srv_->Unregister(this, id_); }

  uint64_t id() const { return id_; }
  const std::string& source() const { return source_; }

  void Start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Connection::DoHandshake, shared_from_this()));
  }

  // Server is stopping: close now unless a request is in progress (that one finishes and
  // its response carries Connection: close).
  void Shutdown() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->state_ == State::kHandshake || self->state_ == State::kIdle ||
          self->state_ == State::kHeader) {
        self->CloseNow();
      }
    });
  }

  // The pending-handshake pool is full: this (oldest) handshake makes room for a new one.
  // The server already took it off the pending list.
  void Evict() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->state_ != State::kHandshake) {
        self->srv_->CancelEviction(self.get());  // completed its handshake meanwhile
        return;
      }
      self->evicted_ = true;
      self->srv_->handshakes_evicted_.fetch_add(1, std::memory_order_relaxed);
      self->CloseNow();  // the pending handshake completes with an error (OnHandshake)
    });
  }

  // TLS reload: verify the peer certificate again against the new context; close on failure.
  void Recheck(std::shared_ptr<ssl::context> ctx) {
    net::post(stream_.get_executor(), [self = shared_from_this(), ctx = std::move(ctx)] {
      if (self->state_ == State::kHandshake || self->state_ == State::kClosed) return;
      self->VerifyPeerAgain(ctx);
    });
  }

 private:
  enum class State { kHandshake, kIdle, kHeader, kBody, kHandling, kWriting, kClosing, kClosed };

  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }
  const ServerOptions& Opt() const { return srv_->options_; }

  void DoHandshake() {
    state_ = State::kHandshake;
    Tcp().expires_after(std::chrono::seconds(Opt().handshake_timeout_seconds));
    stream_.async_handshake(ssl::stream_base::server,
                            beast::bind_front_handler(&Connection::OnHandshake, shared_from_this()));
  }

  // Tells the handler why the handshake failed, with the presented certificate if any.
  void ReportHandshakeFailure(const error_code& ec) {
    SSL* ssl = stream_.native_handle();
    PeerInfo peer = peer_;
    std::string reason = evicted_ ? "evicted: pending TLS handshake pool full" : ec.message();
    if (ssl != nullptr) {
      long vr = SSL_get_verify_result(ssl);
      if (vr != X509_V_OK) reason += std::string(" (") + X509_verify_cert_error_string(vr) + ")";
      peer.cert_sha256_hex = tls::PresentedLeafSha256(ssl);
      if (X509* cert = SSL_get0_peer_certificate(ssl)) {
        peer.cert_sha256_hex = tls::CertSha256Hex(cert);
        char buf[256];
        X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
        peer.subject = buf;
      }
    }
    try {
      srv_->handler_.OnHandshakeFailed(peer, reason);
    } catch (...) {
      spdlog::error("handshake failure hook threw");
    }
  }

  void OnHandshake(error_code ec) {
    srv_->HandshakeFinished(id_);
    if (ec) {
      srv_->handshakes_failed_.fetch_add(1, std::memory_order_relaxed);
      spdlog::debug("tls handshake failed from {}: {}", peer_.remote_address, ec.message());
      ReportHandshakeFailure(ec);
      return CloseNow();
    }
    srv_->handshakes_ok_.fetch_add(1, std::memory_order_relaxed);
    SSL* ssl = stream_.native_handle();
    const bool resumed = SSL_session_reused(ssl) == 1;
    if (resumed) srv_->sessions_resumed_.fetch_add(1, std::memory_order_relaxed);
    tls::PeerCertificate pc = tls::InspectPeer(ssl);
    peer_.has_certificate = pc.present && pc.verified;
    if (peer_.has_certificate) {
      peer_.cert_sha256_hex = std::move(pc.sha256_hex);
      peer_.subject = std::move(pc.subject);
    }
    // OpenSSL does not verify the certificate of a resumed session again, and a handshake that
    // began before a reload verified against the old CA/CRL: verify now against the context in
    // force, so neither outlives the certificate's validity or revocation.
    auto current = srv_->TlsContext();
    if (resumed || current != ctx_) {
      if (!VerifyPeerAgain(current)) return;
    }
    ReadRequest();
  }

  // Returns false (and closes the connection) when the peer certificate no longer verifies.
  bool VerifyPeerAgain(const std::shared_ptr<ssl::context>& ctx) {
    SSL* ssl = stream_.native_handle();
    X509* leaf = ssl ? SSL_get0_peer_certificate(ssl) : nullptr;
    if (leaf == nullptr) return true;  // no certificate: nothing was proven, nothing to revoke
    Status s = tls::VerifyClientCertificate(ctx->native_handle(), leaf,
                                            SSL_get_peer_cert_chain(ssl));
    if (s.ok()) return true;
    spdlog::info("closing connection from {}: {}", peer_.remote_address, s.message());
    try {
      srv_->handler_.OnPeerRejected(peer_, s.message());
    } catch (...) {
      spdlog::error("peer rejection hook threw");
    }
    // Counted after the hook (audit record, metric) ran: whoever sees the count sees its record.
    srv_->peers_rejected_.fetch_add(1, std::memory_order_release);
    peer_.has_certificate = false;
    if (state_ == State::kHandling || state_ == State::kWriting) {
      // The request in flight was admitted before the reload; its response closes the
      // connection and no further request is read.
      keep_alive_ = false;
      return false;
    }
    CloseNow();
    return false;
  }

  void ReadRequest() {
    if (srv_->stopping_.load(std::memory_order_relaxed)) return CloseNow();
    reader_.Begin();
    if (!reader_.HasBuffered()) {
      // Idle keep-alive wait for the first byte of the next request.
      state_ = State::kIdle;
      Tcp().expires_after(std::chrono::seconds(Opt().idle_timeout_seconds));
      ReadMore();
      return;
    }
    StartHeader();
    OnStep(reader_.Parse());
  }

  // The header timeout runs from the first byte of a request to the end of its head.
  void StartHeader() {
    state_ = State::kHeader;
    Tcp().expires_after(std::chrono::seconds(Opt().header_timeout_seconds));
  }

  void ReadMore() {
    auto buf = reader_.PrepareRead();
    if (buf.size() == 0) return OnStep(reader_.Commit(0));
    stream_.async_read_some(buf, beast::bind_front_handler(&Connection::OnRead, shared_from_this()));
  }

  void OnRead(error_code ec, std::size_t n) {
    if (ec) {
      // EOF, reset, timeout, cancelled. A request cut short is not answered.
      return CloseNow();
    }
    if (state_ == State::kIdle) StartHeader();
    OnStep(reader_.Commit(n));
  }

  void OnStep(RequestReader::Step step) {
    switch (step) {
      case RequestReader::Step::kNeedMore: return ReadMore();
      case RequestReader::Step::kHeader: return OnHeader();
      case RequestReader::Step::kComplete:
        req_.body = reader_.TakeBody();
        return Dispatch();
      case RequestReader::Step::kFailed: return OnReadFailure();
    }
  }

  void OnReadFailure() {
    srv_->requests_.fetch_add(1, std::memory_order_relaxed);
    const ReadFailure& f = reader_.failure();
    if (f.status == 413) return BodyTooLarge();
    if (state_ == State::kHeader) FillHead();  // what was parsed, for the audit record
    spdlog::debug("http: refused request from {}: {} ({})", peer_.remote_address, f.reason,
                  reader_.parser_error());
    try {
      srv_->handler_.OnProtocolError(req_, f.status, f.reason, reader_.parser_error());
    } catch (...) {
      spdlog::error("protocol error hook threw");
    }
    SendError(f.status, f.body);
  }

  // Copies the parsed head into req_ (when the parser got that far).
  void FillHead() {
    req_ = Request();
    req_.peer = peer_;
    const auto& head = reader_.head();
    req_.method = std::string(head.method_string());
    req_.target = std::string(head.target());
    for (const auto& f : head) {
      std::string name(f.name_string());
      for (char& c : name) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      req_.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req_.content_length = reader_.content_length();
    req_.chunked = reader_.chunked();
  }

  void OnHeader() {
    srv_->requests_.fetch_add(1, std::memory_order_relaxed);
    FillHead();
    keep_alive_ = reader_.keep_alive();

    // Identity (and whatever else the head decides) before a single body byte is read.
    std::optional<Response> early;
    try {
      early = srv_->handler_.OnHead(req_);
    } catch (const std::exception& e) {
      spdlog::error("http handler OnHead threw: {}", e.what());
      return CloseNow();
    } catch (...) {
      spdlog::error("http handler OnHead threw a non-standard exception");
      return CloseNow();
    }
    if (early) {
      return SendResponse(early->status, early->content_type, early->body, /*close=*/true,
                          /*drain=*/true);
    }

    auto length = reader_.content_length();
    if (length && *length > Opt().max_body_bytes) return BodyTooLarge();
    RequestReader::Step step = reader_.ContinueBody();
    if (step != RequestReader::Step::kNeedMore) return OnStep(step);

    state_ = State::kBody;
    Tcp().expires_after(std::chrono::seconds(Opt().body_timeout_seconds));
    const auto& head = reader_.head();
    auto expect = head[bhttp::field::expect];
    if (!expect.empty() && beast::iequals(expect, "100-continue")) {
      net::async_write(stream_, net::buffer(kContinue, sizeof(kContinue) - 1),
                       [self = shared_from_this()](error_code ec, std::size_t) {
                         if (ec) return self->CloseNow();
                         self->ReadMore();
                       });
      return;
    }
    ReadMore();
  }

  void BodyTooLarge() {
    Response r;
    try {
      r = srv_->handler_.OnBodyTooLarge(req_);
    } catch (const std::exception& e) {
      spdlog::error("http handler OnBodyTooLarge threw: {}", e.what());
      return CloseNow();
    } catch (...) {
      spdlog::error("http handler OnBodyTooLarge threw a non-standard exception");
      return CloseNow();
    }
    SendResponse(r.status, r.content_type, r.body, /*close=*/true, /*drain=*/true);
  }

  void SendError(int status, std::string_view body) {
    SendResponse(status, "application/json", body, /*close=*/true, /*drain=*/true);
  }

  void Dispatch() {
    state_ = State::kHandling;
    const uint64_t seq = ++seq_;
    Responder respond = [self = shared_from_this(), seq](Response r) {
      auto deliver = [self, seq, r = std::move(r)]() mutable {
        auto ex = self->stream_.get_executor();
        net::post(ex, [self = std::move(self), seq, r = std::move(r)]() mutable {
          self->OnResponse(seq, std::move(r));
        });
      };
      // Answers given inside a CompletionBatch (the queue writer's commit group) reach the io
      // threads as ONE posted handler that hands each to its connection's strand from an io
      // thread: one wake-up per group instead of one per request (issue 15).
      if (CompletionBatch* batch = CompletionBatch::Current()) {
        Server::Impl* srv = self->srv_.get();
        net::io_context* ioc = self->ioc_;
        batch->PartFor<ResponseBatch>(srv, [] { return std::make_unique<ResponseBatch>(); })
            .Add(ioc, std::move(deliver));
        return;
      }
      deliver();
    };
    try {
      srv_->handler_.Handle(std::move(req_), std::move(respond));
    } catch (const std::exception& e) {
      spdlog::error("http handler threw: {}", e.what());
      CloseNow();
    } catch (...) {
      spdlog::error("http handler threw a non-standard exception");
      CloseNow();
    }
  }

  void OnResponse(uint64_t seq, Response r) {
    if (seq != seq_ || state_ != State::kHandling) return;  // duplicate or late call
    bool close = !keep_alive_ || srv_->stopping_.load(std::memory_order_relaxed);
    SendResponse(r.status, r.content_type, r.body, close, /*drain=*/false);
  }

  // Serialises head + body into one buffer (one TLS record for small responses).
  void SendResponse(int status, std::string_view content_type, std::string_view body, bool close,
                    bool drain) {
    state_ = State::kWriting;
    out_.clear();
    out_.append("HTTP/1.1 ");
    out_.append(std::to_string(status));
    out_.push_back(' ');
    auto reason = bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status)));
    out_.append(reason.data(), reason.size());
    out_.append("\r\nContent-Type: ");
    out_.append(content_type.data(), content_type.size());
    out_.append("\r\nContent-Length: ");
    out_.append(std::to_string(body.size()));
    out_.append(close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n");
    out_.append(body.data(), body.size());
    Tcp().expires_after(std::chrono::seconds(Opt().body_timeout_seconds));
    net::async_write(stream_, net::buffer(out_),
                     [self = shared_from_this(), close, drain](error_code ec, std::size_t) {
                       if (ec) return self->CloseNow();
                       if (drain) return self->Drain();
                       // keep_alive_ may have been cleared meanwhile (certificate revoked).
                       if (close || !self->keep_alive_) return self->GracefulClose();
                       self->ReadRequest();
                     });
  }

  // After an early error response the client may still be sending its request: read and
  // discard (bounded) until it closes, so the kernel does not reset the connection before the
  // client has read our response.
  void Drain() {
    state_ = State::kClosing;
    drained_ = 0;
    Tcp().expires_after(kDrainTimeout);
    DrainSome();
  }

  void DrainSome() {
    stream_.async_read_some(net::buffer(drain_buf_),
                            [self = shared_from_this()](error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > kDrainLimitBytes) return self->CloseNow();
                              self->DrainSome();
                            });
  }

  void GracefulClose() {
    state_ = State::kClosing;
    Tcp().expires_after(kShutdownTimeout);
    stream_.async_shutdown([self = shared_from_this()](error_code) { self->CloseNow(); });
  }

  void CloseNow() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    error_code ignored;
    Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Tcp().close();
  }

  std::shared_ptr<Server::Impl> srv_;
  net::io_context* const ioc_;  // the io thread's context this connection lives on
  std::shared_ptr<ssl::context> ctx_;  // must outlive stream_ (declared before it)
  beast::ssl_stream<beast::tcp_stream> stream_;
  RequestReader reader_;
  const uint64_t id_;
  const std::string source_;  // remote IP address (pending-handshake accounting)
  Request req_;
  PeerInfo peer_;
  std::string out_;
  State state_ = State::kHandshake;
  bool keep_alive_ = true;
  bool evicted_ = false;
  uint64_t seq_ = 0;
  size_t drained_ = 0;
  std::array<char, 4096> drain_buf_{};
};

// ---------------------------------------------------------------------------------------------
// Server::Impl

Status Server::Impl::Bind() {
  error_code ec;
  auto address = net::ip::make_address(options_.host, ec);
  if (ec) return Status::InvalidArgument("invalid listen address '" + options_.host + "'");
  tcp::endpoint ep(address, options_.port);
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  port_ = acceptor_.local_endpoint(ec).port();
  return Status::Ok();
}

void Server::Impl::Start() {
  {
    MutexLock l(&mu_);
    if (started_ || stopped_) return;
    started_ = true;
  }
  for (auto& ioc : iocs_) work_.push_back(net::make_work_guard(*ioc));
  net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->DoAccept(); });
  for (auto& owned : iocs_) {
    net::io_context* ioc = owned.get();
    threads_.emplace_back([ioc] {
      for (;;) {
        try {
          ioc->run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("http server io thread: uncaught exception: {}", e.what());
        } catch (...) {
          spdlog::error("http server io thread: uncaught non-standard exception");
        }
      }
    });
  }
}

void Server::Impl::DoAccept() {
  // The next connection's io thread, round-robin (on the acceptor's strand).
  net::io_context* ioc = iocs_[next_ioc_++ % iocs_.size()].get();
  acceptor_.async_accept(net::make_strand(*ioc),
                         [self = shared_from_this(), ioc](error_code ec, tcp::socket socket) {
                           self->OnAccept(ec, std::move(socket), ioc);
                         });
}

void Server::Impl::OnAccept(error_code ec, tcp::socket socket, net::io_context* ioc) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // E.g. EMFILE: back off briefly instead of spinning on the error.
    spdlog::warn("http server accept failed: {}", ec.message());
    accept_backoff_.expires_after(std::chrono::milliseconds(50));
    accept_backoff_.async_wait([self = shared_from_this()](error_code wait_ec) {
      if (!wait_ec && self->acceptor_.is_open()) self->DoAccept();
    });
    return;
  }
  accepted_.fetch_add(1, std::memory_order_relaxed);
  error_code ignored;
  std::string source, remote;
  auto ep = socket.remote_endpoint(ignored);
  if (!ignored) {
    source = ep.address().to_string();
    remote = (ep.address().is_v6() ? "[" + source + "]" : source) + ":" + std::to_string(ep.port());
  }
  // Admission of a new, not yet authenticated connection. A full pending-handshake pool (or a
  // source at its own limit) evicts the OLDEST pending handshake instead of refusing the new
  // connection: refusing would let idle sockets that never start TLS lock every client out,
  // while a real client completes its handshake in milliseconds and so is never the oldest.
  std::vector<std::shared_ptr<Connection>> victims;
  bool refuse = false;
  uint64_t id = 0;
  {
    MutexLock l(&mu_);
    if (stopping_.load()) {
      refuse = true;
    } else {
      if (options_.max_pending_handshakes_per_source > 0 &&
          pending_per_source_[source] >= options_.max_pending_handshakes_per_source) {
        if (auto v = TakeOldestPending(&source)) victims.push_back(std::move(v));
      }
      if (options_.max_pending_handshakes > 0 &&
          pending_.size() >= options_.max_pending_handshakes) {
        if (auto v = TakeOldestPending(nullptr)) victims.push_back(std::move(v));
      }
      // Established connections are never evicted: beyond max_connections only a pending
      // handshake can make room.
      while (conns_.size() - evicting_ >= options_.max_connections) {
        auto v = TakeOldestPending(nullptr);
        if (!v) break;
        victims.push_back(std::move(v));
      }
      refuse = conns_.size() - evicting_ >= options_.max_connections;
      if (pending_per_source_[source] == 0 && refuse) pending_per_source_.erase(source);
      id = ++next_id_;
    }
  }
  for (auto& v : victims) v->Evict();
  victims.clear();
  if (refuse) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    socket.close(ignored);
  } else {
    socket.set_option(tcp::no_delay(true), ignored);
    auto conn = std::make_shared<Connection>(std::move(socket), shared_from_this(), ioc,
                                             std::move(remote), source, id);
    Register(conn.get(), conn);
    conn->Start();
  }
  DoAccept();
}

void Server::Impl::Register(Connection* c, const std::shared_ptr<Connection>& sp) {
  MutexLock l(&mu_);
  conns_.emplace(c, sp);
  auto it = pending_.insert(pending_.end(), Pending{c->id(), c->source(), sp});
  pending_by_id_.emplace(c->id(), it);
  pending_per_source_[c->source()]++;
}

void Server::Impl::CancelEviction(Connection* c) {
  MutexLock l(&mu_);
  if (evict_marked_.erase(c) > 0 && evicting_ > 0) evicting_--;
}

void Server::Impl::Unregister(Connection* c, uint64_t id) {
  MutexLock l(&mu_);
  conns_.erase(c);
  if (evict_marked_.erase(c) > 0 && evicting_ > 0) evicting_--;
  if (auto it = pending_by_id_.find(id); it != pending_by_id_.end()) {
    auto src = pending_per_source_.find(it->second->source);
    if (src != pending_per_source_.end() && --src->second == 0) pending_per_source_.erase(src);
    pending_.erase(it->second);
    pending_by_id_.erase(it);
  }
  if (conns_.empty()) cv_.SignalAll();
}

void Server::Impl::HandshakeFinished(uint64_t id) {
  MutexLock l(&mu_);
  auto it = pending_by_id_.find(id);
  if (it == pending_by_id_.end()) return;
  auto src = pending_per_source_.find(it->second->source);
  if (src != pending_per_source_.end() && --src->second == 0) pending_per_source_.erase(src);
  pending_.erase(it->second);
  pending_by_id_.erase(it);
}

std::shared_ptr<Connection> Server::Impl::TakeOldestPending(const std::string* source) {
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (source != nullptr && it->source != *source) continue;
    auto conn = it->conn.lock();
    auto src = pending_per_source_.find(it->source);
    if (src != pending_per_source_.end() && --src->second == 0) pending_per_source_.erase(src);
    pending_by_id_.erase(it->id);
    pending_.erase(it);
    if (!conn) return nullptr;  // already being destroyed: its slot frees itself
    evict_marked_.insert(conn.get());
    evicting_++;
    return conn;
  }
  return nullptr;
}

void Server::Impl::RecheckAll(const std::shared_ptr<ssl::context>& ctx) {
  std::vector<std::shared_ptr<Connection>> live;
  {
    MutexLock l(&mu_);
    for (auto& [ptr, weak] : conns_) {
      if (auto sp = weak.lock()) live.push_back(std::move(sp));
    }
  }
  for (auto& c : live) c->Recheck(ctx);
}

ServerStats Server::Impl::Stats() const {
  ServerStats s;
  s.accepted = accepted_.load();
  s.refused = refused_.load();
  s.handshakes_ok = handshakes_ok_.load();
  s.handshakes_failed = handshakes_failed_.load();
  s.sessions_resumed = sessions_resumed_.load();
  s.requests = requests_.load();
  s.handshakes_evicted = handshakes_evicted_.load();
  s.peers_rejected = peers_rejected_.load();
  MutexLock l(&mu_);
  s.active_connections = conns_.size();
  s.pending_handshakes = pending_.size();
  return s;
}

void Server::Impl::Stop() {
  std::vector<std::shared_ptr<Connection>> live;
  bool first = false;
  bool started = false;
  {
    MutexLock l(&mu_);
    first = !stopped_;
    stopped_ = true;
    stopping_ = true;
    started = started_;
    if (first) {
      for (auto& [ptr, weak] : conns_) {
        if (auto sp = weak.lock()) live.push_back(std::move(sp));
      }
    }
  }
  if (!first) return Wait();  // stopping on another thread (or already stopped)
  if (started) {
    net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] {
      error_code ignored;
      self->acceptor_.close(ignored);
      self->accept_backoff_.cancel();
    });
  } else {
    error_code ignored;
    acceptor_.close(ignored);  // never started: no io thread touches the acceptor
  }
  for (auto& c : live) c->Shutdown();
  live.clear();
  bool drained;
  {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::seconds(options_.shutdown_grace_seconds);
    MutexLock l(&mu_);
    while (!conns_.empty()) {
      if (cv_.WaitUntil(&mu_, deadline) == std::cv_status::timeout) break;
    }
    drained = conns_.empty();
  }
  work_.clear();
  if (!drained) {
    spdlog::warn("http server: connections still busy after the shutdown grace period");
    for (auto& ioc : iocs_) ioc->stop();
  }
  Wait();  // with no work left, the io threads return from run()
}

void Server::Impl::Wait() {
  MutexLock l(&join_mu_);
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

// ---------------------------------------------------------------------------------------------
// Server

Result<std::unique_ptr<Server>> Server::Create(const ServerOptions& options, Handler& handler) {
  if (options.max_body_bytes == 0 || options.max_header_bytes == 0 ||
      options.max_header_bytes > UINT32_MAX) {
    return Status::InvalidArgument("http server: invalid size limits");
  }
  VV_ASSIGN_OR_RETURN(auto ctx, tls::BuildServerContext(options.tls));
  std::shared_ptr<Impl> impl;
  try {
    impl = std::make_shared<Impl>(options, handler, std::move(ctx));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("http server: ") + e.what());
  }
  VV_RETURN_IF_ERROR(impl->Bind());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() {
  if (impl_) impl_->Stop();
}
uint16_t Server::port() const { return impl_->port(); }
void Server::Start() { impl_->Start(); }
void Server::Stop() { impl_->Stop(); }
void Server::Wait() { impl_->Wait(); }
ServerStats Server::stats() const { return impl_->Stats(); }

Status Server::ReloadTls(const tls::ServerTlsOptions& tls) {
  VV_ASSIGN_OR_RETURN(auto built, tls::BuildServerContext(tls));
  std::shared_ptr<ssl::context> ctx(std::move(built));
  std::shared_ptr<ssl::context> old = impl_->TlsContext();
  impl_->SetTlsContext(ctx);
  // Sessions of the old context must not resume anywhere (the new context has its own cache
  // and ticket keys; flushing also frees the old cache now).
  SSL_CTX_flush_sessions(old->native_handle(), std::numeric_limits<long>::max());
  // Open connections were verified against the old CA/CRL: verify them again (issue 12 item 6).
  impl_->RecheckAll(ctx);
  return Status::Ok();
}

tls::ContextExpiry Server::TlsExpiry() const {
  return tls::DescribeServerContext(impl_->TlsContext()->native_handle());
}

ReaderLimits ReaderLimitsFor(const ServerOptions& o) {
  ReaderLimits l;
  l.max_header_bytes = o.max_header_bytes;
  l.max_header_count = o.max_header_count;
  l.max_body_bytes = o.max_body_bytes;
  l.max_chunk_metadata_bytes = o.max_chunk_metadata_bytes;
  return l;
}

}  // namespace vv::http
