// tern's own xDS server over mutual TLS: a proxy's certificate decides which gateway's
// configuration it may receive. Real tern binary, real gRPC TLS, certificates from a test CA.
#include <gtest/gtest.h>

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>

#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "support/certs.h"
#include "support/process.h"
#include "support/tern_process.h"

namespace tern {
namespace {

using envoy::service::discovery::v3::AggregatedDiscoveryService;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;
using testing::CertSpec;
using testing::Pem;

const char kServices[] = R"(services:
  - name: web
    endpoints: [ { address: 127.0.0.1, port: 9001 } ]
  - name: admin-api
    endpoints: [ { address: 127.0.0.1, port: 9002 } ]
gateways:
  - name: edge
    listeners:
      - name: edge_http
        port: 10000
        virtual_hosts: [ { name: all, domains: ["*"], routes: [ { match: { prefix: / }, service: web } ] } ]
  - name: internal
    listeners:
      - name: internal_http
        port: 10001
        virtual_hosts: [ { name: all, domains: ["*"], routes: [ { match: { prefix: / }, service: admin-api } ] } ]
)";

struct Outcome {
  grpc::Status status;
  std::vector<std::string> listeners;
};

class XdsMtlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = testing::MakeCa("tern test CA");
    server_cert_ = testing::MakeCert({.common_name = "tern", .dns_sans = {"localhost"}, .uri_sans = {}}, ca_);
    ASSERT_TRUE(testing::WriteFile(dir_.path() + "/ca.pem", ca_.cert).ok());
    ASSERT_TRUE(testing::WriteFile(dir_.path() + "/server.pem", server_cert_.cert).ok());
    ASSERT_TRUE(testing::WriteFile(dir_.path() + "/server.key", server_cert_.key).ok());
    ASSERT_TRUE(testing::WriteFile(dir_.path() + "/services.yaml", kServices).ok());
    auto t = testing::TernServer::Start({.dir = dir_.path(),
                                         .files = {"services.yaml"},
                                         .xds_extra = "  tls:\n"
                                                      "    cert_file: server.pem\n"
                                                      "    key_file: server.key\n"
                                                      "    ca_file: ca.pem\n"
                                                      "    require_client_cert: true\n"
                                                      "    client_identity: \"spiffe://tern/gateway/{node_cluster}\"\n"});
    ASSERT_TRUE(t.ok()) << t.status();
    tern_ = std::move(*t);
  }

  // Connects with `client` (or no client certificate) as a proxy of `node_cluster` and asks for
  // its listeners.
  Outcome Fetch(const std::optional<Pem>& client, const std::string& node_cluster) {
    grpc::SslCredentialsOptions opts;
    opts.pem_root_certs = ca_.cert;
    if (client) {
      opts.pem_private_key = client->key;
      opts.pem_cert_chain = client->cert;
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    auto channel = grpc::CreateCustomChannel(tern_->xds_address(), grpc::SslCredentials(opts), args);
    auto stub = AggregatedDiscoveryService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    auto stream = stub->StreamAggregatedResources(&ctx);
    DiscoveryRequest req;
    req.set_type_url("type.googleapis.com/envoy.config.listener.v3.Listener");
    req.mutable_node()->set_id(node_cluster + "-1");
    req.mutable_node()->set_cluster(node_cluster);
    Outcome out;
    stream->Write(req);
    DiscoveryResponse resp;
    if (stream->Read(&resp)) {
      for (const auto& any : resp.resources()) {
        envoy::config::listener::v3::Listener l;
        if (any.UnpackTo(&l)) out.listeners.push_back(l.name());
      }
      ctx.TryCancel();
    }
    out.status = stream->Finish();
    return out;
  }

  Pem Client(const std::string& gateway, std::chrono::hours not_after = std::chrono::hours(24),
             std::chrono::hours not_before = std::chrono::hours(-1)) {
    return testing::MakeCert({.common_name = gateway + "-proxy",
                              .uri_sans = {"spiffe://tern/gateway/" + gateway},
                              .not_before_offset = not_before,
                              .not_after_offset = not_after},
                             ca_);
  }

  testing::TempDir dir_;
  Pem ca_, server_cert_;
  std::unique_ptr<testing::TernServer> tern_;
};

TEST_F(XdsMtlsTest, AProxyWithItsGatewaysCertificateGetsItsResources) {
  auto out = Fetch(Client("edge"), "edge");
  EXPECT_EQ(out.listeners, (std::vector<std::string>{"edge_http"}));
}

TEST_F(XdsMtlsTest, ACertificateForAnotherGatewayIsRefusedAndSeesNothing) {
  auto out = Fetch(Client("edge"), "internal");
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << out.status.error_message();
  EXPECT_NE(out.status.error_message().find("spiffe://tern/gateway/internal"), std::string::npos);
  EXPECT_TRUE(out.listeners.empty());
}

TEST_F(XdsMtlsTest, NoClientCertificateIsRefused) {
  auto out = Fetch(std::nullopt, "edge");
  EXPECT_FALSE(out.status.ok());
  EXPECT_TRUE(out.listeners.empty());
}

TEST_F(XdsMtlsTest, AnExpiredClientCertificateIsRefused) {
  auto out = Fetch(Client("edge", std::chrono::hours(-24), std::chrono::hours(-48)), "edge");
  EXPECT_FALSE(out.status.ok());
  EXPECT_TRUE(out.listeners.empty());
}

TEST_F(XdsMtlsTest, ACertificateFromAnotherCaIsRefused) {
  Pem other_ca = testing::MakeCa("someone else");
  Pem forged = testing::MakeCert({.common_name = "edge-proxy", .uri_sans = {"spiffe://tern/gateway/edge"}}, other_ca);
  auto out = Fetch(forged, "edge");
  EXPECT_FALSE(out.status.ok());
  EXPECT_TRUE(out.listeners.empty());
}

// What `openssl s_client` negotiates with tern's xDS port: "TLSv1.3" or "TLSv1.2 <suite>", or ""
// when the handshake fails. The client presents a valid certificate, so a refusal is the
// protocol's or the suite's, never the identity's. (The test certificates are ECDSA: the suites
// named are ECDHE-ECDSA ones.)
std::string Negotiate(const testing::TempDir& dir, const std::string& address, const std::vector<std::string>& opts) {
  static int runs = 0;
  std::vector<std::string> argv = {"openssl", "s_client", "-connect", address, "-servername", "localhost",
                                   "-CAfile", dir.path() + "/ca.pem", "-cert", dir.path() + "/client.pem",
                                   "-key", dir.path() + "/client.key", "-brief", "-verify_return_error"};
  argv.insert(argv.end(), opts.begin(), opts.end());
  auto p = testing::Subprocess::Start({.argv = argv, .log_path = dir.path() + "/s_client-" + std::to_string(++runs) + ".log"});
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return "";
  auto code = (*p)->Wait(std::chrono::seconds(10));
  EXPECT_TRUE(code.ok()) << code.status();
  const std::string log = (*p)->Log();
  auto field = [&](const std::string& name) {
    size_t at = log.find(name);
    if (at == std::string::npos) return std::string();
    at += name.size();
    return log.substr(at, log.find('\n', at) - at);
  };
  const std::string protocol = field("Protocol version: ");
  // gRPC closes without a close_notify, so s_client's exit code says nothing: a handshake that
  // completed printed its protocol, one that failed did not.
  if (protocol.empty()) return "";
  return protocol == "TLSv1.3" ? protocol : protocol + " " + field("Ciphersuite: ");
}

// docs/tls.md, "Protocol versions and cipher suites": the xDS port speaks TLS 1.3 and TLS 1.2 with
// forward-secret AEAD suites only; TLS 1.1 and 1.0, RSA key exchange and CBC suites are refused.
TEST_F(XdsMtlsTest, TheXdsPortSpeaksTls13AndForwardSecretTls12Only) {
  Pem client = Client("edge");
  ASSERT_TRUE(testing::WriteFile(dir_.path() + "/client.pem", client.cert).ok());
  ASSERT_TRUE(testing::WriteFile(dir_.path() + "/client.key", client.key).ok());
  const std::string address = tern_->xds_address();
  EXPECT_EQ(Negotiate(dir_, address, {}), "TLSv1.3");
  EXPECT_EQ(Negotiate(dir_, address, {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"}),
            "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256");
  EXPECT_EQ(Negotiate(dir_, address, {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"}),
            "TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384");
  // Offered by a client that allows them (SECLEVEL=0), refused by tern.
  EXPECT_EQ(Negotiate(dir_, address, {"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"}), "");
  EXPECT_EQ(Negotiate(dir_, address, {"-tls1", "-cipher", "DEFAULT@SECLEVEL=0"}), "");
  EXPECT_EQ(Negotiate(dir_, address, {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"}), "") << "CBC";
  EXPECT_EQ(Negotiate(dir_, address, {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-SHA"}), "") << "CBC, SHA-1";
  EXPECT_EQ(Negotiate(dir_, address, {"-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"}), "")
      << "not in gRPC's list (docs/tls.md)";
}

}  // namespace
}  // namespace tern
