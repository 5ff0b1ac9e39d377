#pragma once
// Test helper: a low-level TLS (or plain TCP) client that writes arbitrary bytes and reads
// whatever comes back, with time limits. For malformed requests, chunked bodies and slow-loris.

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <memory>
#include <string>

namespace vv::testing {

class RawTlsClient {
 public:
  using error_code = boost::system::error_code;
  using tcp = boost::asio::ip::tcp;

  // cert/key empty: no client certificate.
  RawTlsClient(const std::string& ca, const std::string& cert, const std::string& key)
      : ctx_(boost::asio::ssl::context::tls_client) {
    ctx_.load_verify_file(ca);
    ctx_.set_verify_mode(boost::asio::ssl::verify_peer);
    if (!cert.empty()) {
      ctx_.use_certificate_chain_file(cert);
      ctx_.use_private_key_file(key, boost::asio::ssl::context::pem);
    }
    // The SSL object copies the context's certificate at creation: create it last.
    stream_ = std::make_unique<boost::asio::ssl::stream<tcp::socket>>(ioc_, ctx_);
  }

  error_code ConnectTcp(uint16_t port) {
    error_code ec;
    stream_->next_layer().connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port),
                                 ec);
    return ec;
  }

  error_code Connect(uint16_t port) {
    error_code ec = ConnectTcp(port);
    if (ec) return ec;
    return Run([&](auto h) { stream_->async_handshake(boost::asio::ssl::stream_base::client, h); },
               std::chrono::seconds(5));
  }

  error_code Write(const std::string& data) {
    return Run([&](auto h) { boost::asio::async_write(*stream_, boost::asio::buffer(data), h); },
               std::chrono::seconds(5));
  }
  error_code WritePlain(const std::string& data) {
    error_code ec;
    boost::asio::write(stream_->next_layer(), boost::asio::buffer(data), ec);
    return ec;
  }

  // Reads until the peer closes (returns the error that ended it) or `limit` elapses
  // (returns timed_out). Data read is appended to *out.
  error_code ReadUntilClosed(std::string* out, std::chrono::milliseconds limit, bool plain = false) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    char buf[4096];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return boost::asio::error::timed_out;
      std::size_t got = 0;
      error_code ec = Run(
          [&](auto h) {
            auto cb = [&got, h](error_code e, std::size_t n) mutable {
              got = n;
              h(e);
            };
            if (plain) {
              stream_->next_layer().async_read_some(boost::asio::buffer(buf), cb);
            } else {
              stream_->async_read_some(boost::asio::buffer(buf), cb);
            }
          },
          left);
      out->append(buf, got);
      if (ec) return ec;
    }
  }

  void Close() {
    error_code ignored;
    stream_->next_layer().close(ignored);
  }

 private:
  template <typename Start>
  error_code Run(Start&& start, std::chrono::steady_clock::duration limit) {
    error_code result = boost::asio::error::would_block;
    bool done = false;
    start([&](error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    ioc_.restart();
    ioc_.run_for(limit);
    if (!done) {
      error_code ignored;
      stream_->next_layer().cancel(ignored);  // aborts the pending operation, keeps the socket
      ioc_.restart();
      ioc_.run();
      return boost::asio::error::timed_out;
    }
    return result;
  }

  boost::asio::io_context ioc_;
  boost::asio::ssl::context ctx_;
  std::unique_ptr<boost::asio::ssl::stream<tcp::socket>> stream_;
};

}  // namespace vv::testing
