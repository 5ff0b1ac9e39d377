#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <cstdio>

#include "fakes/temp_dir.h"
#include "tls/pki_fixture.h"
#include "tls/tls.h"

namespace vv::tls {
namespace {

using vv::testing::DevPki;

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = DevPki::Get();
    ASSERT_NE(pki_, nullptr) << "scripts/dev-pki.sh failed";
  }
  ServerTlsOptions Valid() const {
    return ServerTlsOptions{pki_->Crt("gateway"), pki_->Key("gateway"), pki_->Crt("ca"), ""};
  }
  const DevPki* pki_ = nullptr;
};

TEST_F(TlsContextTest, ValidServerOptionsBuild) {
  auto ctx = BuildServerContext(Valid());
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  SSL_CTX* c = (*ctx)->native_handle();
  EXPECT_EQ(SSL_CTX_get_min_proto_version(c), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CTX_get_verify_mode(c), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
  EXPECT_EQ(SSL_CTX_get_verify_depth(c), 2);
  EXPECT_EQ(SSL_CTX_get_options(c) & SSL_OP_NO_TICKET, 0u);
}

TEST_F(TlsContextTest, OptionalClientCertDropsFailIfNoPeerCert) {
  auto o = Valid();
  o.require_client_cert = false;
  auto ctx = BuildServerContext(o);
  ASSERT_TRUE(ctx.ok());
  EXPECT_EQ(SSL_CTX_get_verify_mode((*ctx)->native_handle()), SSL_VERIFY_PEER);
}

TEST_F(TlsContextTest, MissingCertificateFileIsNamed) {
  auto o = Valid();
  o.cert_path = pki_->Path("nope.crt");
  auto ctx = BuildServerContext(o);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), StatusCode::kNotFound);
  EXPECT_NE(ctx.status().message().find("nope.crt"), std::string::npos);
}

TEST_F(TlsContextTest, MissingCaAndCrlFilesAreNamed) {
  auto o = Valid();
  o.ca_path = pki_->Path("missing-ca.crt");
  auto ctx = BuildServerContext(o);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find("missing-ca.crt"), std::string::npos);
  o = Valid();
  o.crl_path = pki_->Path("missing.crl");
  ctx = BuildServerContext(o);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find("missing.crl"), std::string::npos);
}

TEST_F(TlsContextTest, KeyNotMatchingCertificateIsRejected) {
  auto o = Valid();
  o.key_path = pki_->Key("producer");
  auto ctx = BuildServerContext(o);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find("producer.key"), std::string::npos)
      << ctx.status().message();
}

TEST_F(TlsContextTest, GarbageCrlIsRejected) {
  vv::testing::TempDir dir;
  std::string bad = dir.File("bad.pem");
  vv::testing::WriteFile(bad, "not a crl\n");
  auto o = Valid();
  o.crl_path = bad;
  auto ctx = BuildServerContext(o);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find("bad.pem"), std::string::npos);
}

TEST_F(TlsContextTest, CrlEnablesCrlCheckFlag) {
  auto o = Valid();
  o.crl_path = pki_->Path("crl.pem");
  auto ctx = BuildServerContext(o);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  X509_VERIFY_PARAM* p = X509_STORE_get0_param(SSL_CTX_get_cert_store((*ctx)->native_handle()));
  EXPECT_NE(X509_VERIFY_PARAM_get_flags(p) & X509_V_FLAG_CRL_CHECK, 0ul);
}

TEST_F(TlsContextTest, CertSha256MatchesPinFile) {
  for (const char* name : {"producer", "rogue", "gateway"}) {
    FILE* f = std::fopen(pki_->Crt(name).c_str(), "r");
    ASSERT_NE(f, nullptr);
    X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    ASSERT_NE(x, nullptr);
    EXPECT_EQ(CertSha256Hex(x), pki_->Sha256(name)) << name;
    X509_free(x);
  }
  EXPECT_EQ(CertSha256Hex(nullptr), "");
  EXPECT_NE(pki_->Sha256("producer"), pki_->Sha256("rogue"));
}

TEST_F(TlsContextTest, ClientContextWithoutCertificateBuilds) {
  auto ctx = BuildClientContext(ClientTlsOptions{pki_->Crt("ca"), "", "", true});
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  auto bad = BuildClientContext(ClientTlsOptions{pki_->Crt("ca"), pki_->Crt("producer"), "", true});
  EXPECT_FALSE(bad.ok());
}

}  // namespace
}  // namespace vv::tls
