// Issue 12 item 6: the CRL check covers the whole chain (a revoked intermediate CA fails like a
// revoked leaf), VerifyClientCertificate re-verifies a certificate against a context's CA/CRL
// (what a reload and a resumed session use), and DescribeServerContext reports the expiry
// facts behind the vv_gateway_tls_* gauges. The dev PKI has no intermediate, so this test
// builds root -> intermediate -> leaf with the openssl CLI.
#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "fakes/temp_dir.h"
#include "tls/pki_fixture.h"
#include "tls/tls.h"

namespace vv::tls {
namespace {

using vv::testing::DevPki;
using vv::testing::ReadFile;
using vv::testing::TempDir;
using vv::testing::WriteFile;

// root.crt, int.crt (CA, serial 0x77, signed by root), leaf.crt (clientAuth, serial 0x88,
// signed by int), and CRLs: root-empty.pem, root-revokes-int.pem, int-empty.pem,
// int-revokes-leaf.pem; bundle.crt = root + int.
const char kScript[] = R"SH(
set -euo pipefail
cd "$1"
o() { openssl "$@" >/dev/null 2>&1; }
key() { o genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }
key root
o req -x509 -new -key root.key -sha256 -days 30 -subj /CN=ChainRoot -out root.crt \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
key int
o req -new -key int.key -subj /CN=ChainIntermediate -out int.csr
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > int.ext
o x509 -req -in int.csr -CA root.crt -CAkey root.key -set_serial 0x77 -days 30 -sha256 \
  -extfile int.ext -out int.crt
key leaf
o req -new -key leaf.key -subj /CN=chain-leaf -out leaf.csr
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' > leaf.ext
o x509 -req -in leaf.csr -CA int.crt -CAkey int.key -set_serial 0x88 -days 30 -sha256 \
  -extfile leaf.ext -out leaf.crt
crl() {  # crl CA OUT [CERT_TO_REVOKE]
  rm -rf "db-$1-$2" && mkdir -p "db-$1-$2"
  : > "db-$1-$2/index.txt"
  echo 1000 > "db-$1-$2/crlnumber"
  printf '[ ca ]\ndefault_ca = c\n[ c ]\ndatabase = db-%s-%s/index.txt\ncrlnumber = db-%s-%s/crlnumber\ncertificate = %s.crt\nprivate_key = %s.key\ndefault_md = sha256\ndefault_crl_days = 7\n' \
    "$1" "$2" "$1" "$2" "$1" "$1" > "db-$1-$2/ca.cnf"
  if [ $# -ge 3 ]; then o ca -batch -config "db-$1-$2/ca.cnf" -revoke "$3"; fi
  o ca -batch -config "db-$1-$2/ca.cnf" -gencrl -out "$2"
}
crl root root-empty.pem
crl root root-revokes-int.pem int.crt
crl int int-empty.pem
crl int int-revokes-leaf.pem leaf.crt
cat root.crt int.crt > bundle.crt
)SH";

class TlsChainCrlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = DevPki::Get();
    ASSERT_NE(pki_, nullptr);
    WriteFile(dir_.File("chain.sh"), kScript);
    std::string cmd = "bash '" + dir_.File("chain.sh") + "' '" + dir_.path().string() + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl chain generation failed";
    FILE* f = std::fopen(dir_.File("leaf.crt").c_str(), "r");
    ASSERT_NE(f, nullptr);
    leaf_ = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    ASSERT_NE(leaf_, nullptr);
  }
  void TearDown() override { X509_free(leaf_); }

  ServerTlsOptions Options(const std::vector<std::string>& crls) {
    std::string text;
    for (const auto& c : crls) text += ReadFile(dir_.File(c));
    WriteFile(dir_.File("crls.pem"), text);
    return ServerTlsOptions{pki_->Crt("gateway"), pki_->Key("gateway"), dir_.File("bundle.crt"),
                            dir_.File("crls.pem")};
  }

  // Verifies the leaf against a server context trusting root + intermediate with `crls`.
  Status VerifyLeafWith(const std::vector<std::string>& crls) {
    auto ctx = BuildServerContext(Options(crls));
    if (!ctx.ok()) return ctx.status();
    return VerifyClientCertificate((*ctx)->native_handle(), leaf_, nullptr);
  }

  const DevPki* pki_ = nullptr;
  TempDir dir_;
  X509* leaf_ = nullptr;
};

TEST_F(TlsChainCrlTest, LeafUnderGoodIntermediateVerifies) {
  Status s = VerifyLeafWith({"root-empty.pem", "int-empty.pem"});
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_F(TlsChainCrlTest, RevokedLeafFails) {
  Status s = VerifyLeafWith({"root-empty.pem", "int-revokes-leaf.pem"});
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("revoked"), std::string::npos) << s.message();
}

TEST_F(TlsChainCrlTest, RevokedIntermediateFailsTheLeafItIssued) {
  // The leaf itself is listed nowhere: only its issuing CA is revoked by the root.
  Status s = VerifyLeafWith({"root-revokes-int.pem", "int-empty.pem"});
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("revoked"), std::string::npos) << s.message();
}

TEST_F(TlsChainCrlTest, MissingCrlOfAnIssuingCaFailsClosed) {
  Status s = VerifyLeafWith({"int-empty.pem"});  // no CRL from the root for the intermediate
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
}

TEST_F(TlsChainCrlTest, CrlCheckAllFlagIsSet) {
  auto ctx = BuildServerContext(Options({"root-empty.pem", "int-empty.pem"}));
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  X509_VERIFY_PARAM* p = X509_STORE_get0_param(SSL_CTX_get_cert_store((*ctx)->native_handle()));
  EXPECT_NE(X509_VERIFY_PARAM_get_flags(p) & X509_V_FLAG_CRL_CHECK_ALL, 0ul);
}

TEST_F(TlsChainCrlTest, DescribeServerContextReportsExpiries) {
  ServerTlsOptions o = Options({"root-empty.pem", "int-empty.pem"});
  auto ctx = BuildServerContext(o);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  ContextExpiry e = DescribeServerContext((*ctx)->native_handle());
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  // CRLs: default_crl_days = 7; CA certificates: 30 days; dev server certificate: 825 days.
  EXPECT_GT(e.crl_next_update, now + 6 * 86400);
  EXPECT_LT(e.crl_next_update, now + 8 * 86400);
  EXPECT_GT(e.ca_not_after, now + 29 * 86400);
  EXPECT_LT(e.ca_not_after, now + 31 * 86400);
  EXPECT_GT(e.server_cert_not_after, now + 800 * 86400);
  // Without a CRL the gauge says 0.
  o.crl_path.clear();
  auto plain = BuildServerContext(o);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(DescribeServerContext((*plain)->native_handle()).crl_next_update, 0);
}

}  // namespace
}  // namespace vv::tls
