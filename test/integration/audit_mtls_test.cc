// With xDS over mutual TLS, the audit trail names who a proxy proved to be: its certificate's
// identity is in its connect and disconnect records, and a proxy refused for claiming another
// gateway leaves a disconnect record saying PERMISSION_DENIED, with the identity it presented.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "support/certs.h"
#include "support/process.h"
#include "support/tern_process.h"

namespace tern {
namespace {

using envoy::service::discovery::v3::AggregatedDiscoveryService;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;
using testing::Pem;

const char kServices[] = R"(services:
  - name: web
    endpoints: [ { address: 127.0.0.1, port: 9001 } ]
gateways:
  - name: edge
    listeners:
      - name: edge_http
        port: 10000
        virtual_hosts: [ { name: all, domains: ["*"], routes: [ { match: { prefix: / }, service: web } ] } ]
)";

TEST(AuditMtlsTest, ConnectAndRefusalRecordsCarryTheProxysCertificateIdentity) {
  testing::TempDir dir;
  Pem ca = testing::MakeCa("tern test CA");
  Pem server = testing::MakeCert({.common_name = "tern", .dns_sans = {"localhost"}, .uri_sans = {}}, ca);
  Pem client = testing::MakeCert({.common_name = "edge-proxy", .uri_sans = {"spiffe://tern/gateway/edge"}}, ca);
  ASSERT_TRUE(testing::WriteFile(dir.path() + "/ca.pem", ca.cert).ok());
  ASSERT_TRUE(testing::WriteFile(dir.path() + "/server.pem", server.cert).ok());
  ASSERT_TRUE(testing::WriteFile(dir.path() + "/server.key", server.key).ok());
  ASSERT_TRUE(testing::WriteFile(dir.path() + "/services.yaml", kServices).ok());
  auto tern = testing::TernServer::Start({.dir = dir.path(),
                                          .files = {"services.yaml"},
                                          .extra_config = "audit:\n  path: audit.jsonl\n",
                                          .xds_extra = "  tls:\n"
                                                       "    cert_file: server.pem\n"
                                                       "    key_file: server.key\n"
                                                       "    ca_file: ca.pem\n"
                                                       "    require_client_cert: true\n"
                                                       "    client_identity: \"spiffe://tern/gateway/{node_cluster}\"\n"});
  ASSERT_TRUE(tern.ok()) << tern.status();

  // The edge proxy asks for its own gateway's listeners, then for another gateway's.
  for (const std::string node_cluster : {"edge", "internal"}) {
    grpc::SslCredentialsOptions opts{.pem_root_certs = ca.cert, .pem_private_key = client.key,
                                     .pem_cert_chain = client.cert};
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    auto stub = AggregatedDiscoveryService::NewStub(
        grpc::CreateCustomChannel((*tern)->xds_address(), grpc::SslCredentials(opts), args));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    auto stream = stub->StreamAggregatedResources(&ctx);
    DiscoveryRequest req;
    req.set_type_url("type.googleapis.com/envoy.config.listener.v3.Listener");
    req.mutable_node()->set_id(node_cluster + "-1");
    req.mutable_node()->set_cluster(node_cluster);
    stream->Write(req);
    DiscoveryResponse resp;
    if (stream->Read(&resp)) stream->WritesDone();
    grpc::Status st = stream->Finish();
    EXPECT_EQ(st.ok(), node_cluster == "edge") << node_cluster << ": " << st.error_message();
  }
  (*tern)->process().Kill();

  std::ifstream in(dir.path() + "/audit.jsonl");
  std::vector<nlohmann::json> proxy;
  for (std::string l; std::getline(in, l);) {
    auto j = nlohmann::json::parse(l);
    if (j["kind"].get<std::string>().rfind("proxy_", 0) == 0) proxy.push_back(j);
  }
  bool edge_connect = false, edge_disconnect = false, refused = false;
  for (const auto& j : proxy) {
    EXPECT_EQ(j["identity"], "spiffe://tern/gateway/edge") << j.dump();
    if (j["kind"] == "proxy_connect" && j["node_cluster"] == "edge") edge_connect = true;
    if (j["kind"] == "proxy_disconnect" && j["node_cluster"] == "edge" && j["grpc_status"] == "OK") {
      edge_disconnect = true;
    }
    if (j["kind"] == "proxy_connect") {
      EXPECT_NE(j["node_cluster"], "internal") << "a refused stream never connected";
    }
    if (j["kind"] == "proxy_disconnect" && j["node_cluster"] == "internal") {
      refused = j["grpc_status"] == "PERMISSION_DENIED" &&
                j["grpc_message"].get<std::string>().find("spiffe://tern/gateway/internal") != std::string::npos;
    }
  }
  EXPECT_TRUE(edge_connect);
  EXPECT_TRUE(edge_disconnect);
  EXPECT_TRUE(refused);
}

}  // namespace
}  // namespace tern
