// Secrets never leave tern except to the proxy that needs them (issue 12, point 6). One run of the
// real `tern serve` holds every kind of secret it can hold, each a canary value: the admin bearer
// token, the Consul and Nomad ACL tokens, the xDS server's private key, a gateway certificate's
// private key and the audit signing key. The run is driven through everything that shows what
// tern knows — every admin page, CSDS, xDS, `tern render`, `tern validate` on a broken file,
// `tern audit verify`, an SIGTERM shutdown — and then every byte tern wrote or answered is
// searched for the canaries. Positive controls show the canaries were live: the gateway's proxy
// receives its key over SDS, and Consul and Nomad (which require nothing, resp. the token)
// were read.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <map>
#include <regex>
#include <signal.h>
#include <sstream>
#include <sys/stat.h>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/type_urls.h"
#include "consul_agent.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "envoy/service/status/v3/csds.grpc.pb.h"
#include "nomad_fake.h"
#include "support/certs.h"
#include "support/http_get.h"
#include "support/process.h"
#include "support/raw_xds_client.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"

namespace tern::testing {
namespace {

namespace fs = std::filesystem;
namespace csds = envoy::service::status::v3;
using envoy::extensions::transport_sockets::tls::v3::Secret;

constexpr char kAdminToken[] = "canary-admin-5d1f0e7a2b9c4368";
constexpr char kConsulToken[] = "canary-consul-8e2a6c1d-4b7f-49a0-9c3e-7f1d2b6a0e54";
constexpr char kNomadToken[] = "canary-nomad-3c9b7e21-6d4a-4f18-b2e0-95a7c4d1f836";

// Every base64 line of a PEM private key, and the whole PEM in base64 (how JSON shows protobuf
// bytes, e.g. a Secret's inline_bytes): any one of them found means key material leaked.
std::vector<std::string> KeyLines(const std::string& pem) {
  std::vector<std::string> out = {absl::Base64Escape(pem)};
  std::istringstream in(pem);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.rfind("-----", 0) != 0) out.push_back(line);
  }
  return out;
}

class SecretsCanaryTest : public TernTest {
 protected:
  void SetUp() override {
    ca_ = MakeCa("tern canary CA");
    xds_cert_ = MakeCert({.common_name = "tern", .dns_sans = {"localhost"}}, ca_);
    shop_cert_ = MakeCert({.common_name = "shop.example.com", .dns_sans = {"shop.example.com"}}, ca_);
    proxy_cert_ = MakeCert({.common_name = "edge-proxy", .uri_sans = {"spiffe://tern/gateway/edge"}}, ca_);
    ASSERT_EQ(::mkdir(dir_.File("certs").c_str(), 0700), 0);
    for (const auto& [file, text] : std::map<std::string, std::string>{
             {"certs/ca.pem", ca_.cert},
             {"certs/xds.pem", xds_cert_.cert},
             {"certs/xds.key", xds_cert_.key},
             {"certs/shop.crt", shop_cert_.cert},
             {"certs/shop.key", shop_cert_.key},
             {"admin-token", std::string(kAdminToken) + "\n"},
             {"consul-token", std::string(kConsulToken) + "\n"},
             {"nomad-token", std::string(kNomadToken) + "\n"},
             {"services.yaml", kServices}}) {
      ASSERT_TRUE(WriteFile(dir_.File(file), text).ok()) << file;
      fs::permissions(dir_.File(file), fs::perms::owner_read | fs::perms::owner_write);
    }
    RunCommand({"openssl", "genpkey", "-algorithm", "ed25519", "-out", dir_.File("certs/audit.key")});
    auto audit_key = ReadFile(dir_.File("certs/audit.key"));
    ASSERT_TRUE(audit_key.ok());
    audit_key_ = *audit_key;
    canaries_ = {{"admin token", kAdminToken}, {"Consul token", kConsulToken}, {"Nomad token", kNomadToken}};
    for (const auto& [what, pem] : std::map<std::string, std::string>{
             {"xDS server key", xds_cert_.key}, {"gateway key", shop_cert_.key}, {"audit signing key", audit_key_}}) {
      for (const auto& line : KeyLines(pem)) canaries_.emplace_back(what, line);
    }

    ASSERT_NO_FATAL_FAILURE(Started(ConsulAgent::Start(dir_.path()), &consul_));
    ASSERT_NO_FATAL_FAILURE(Started(FakeNomad::Start(dir_.path(), kNomadToken), &nomad_));
    ASSERT_TRUE(nomad_->Register("alloc-a", "greeter", 9100).ok());

    StartTern(
        {.files = {"services.yaml"},
         .extra_config = absl::StrCat("consul: { address: \"", consul_->address(), "\", token_file: consul-token }\n",
                                      "nomad: { address: \"", nomad_->address(), "\", token_file: nomad-token }\n",
                                      "audit: { path: audit.jsonl, signing_key_file: certs/audit.key }\n"),
         .xds_extra = "  tls: { cert_file: certs/xds.pem, key_file: certs/xds.key, ca_file: certs/ca.pem,\n"
                      "         require_client_cert: true, client_identity: \"spiffe://tern/gateway/{node_cluster}\" }\n",
         .admin_extra = "  token_file: admin-token\n"});
  }

  // No log on failure (unlike TernTest): tern's log is among what is searched for leaks, and a
  // failure here may mean it holds a token or a key.
  void TearDown() override {}

  void RunCommand(const std::vector<std::string>& argv) {
    testing::RunCommand(argv, dir_.File("cmd-" + std::to_string(++runs_) + ".log"));
  }

  std::shared_ptr<grpc::ChannelCredentials> ProxyCredentials() const {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = ca_.cert;
    o.pem_cert_chain = proxy_cert_.cert;
    o.pem_private_key = proxy_cert_.key;
    return grpc::SslCredentials(o);
  }
  static grpc::ChannelArguments Localhost() {
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return args;
  }

  // `what` was seen by someone other than the proxy that owns the key: record it for the search.
  void Seen(const std::string& where, std::string text) { outputs_.emplace_back(where, std::move(text)); }

  static constexpr char kServices[] = R"(secrets:
  - { name: shop-cert, cert_file: certs/shop.crt, key_file: certs/shop.key }
services:
  - name: web
    endpoints: [ { address: 127.0.0.1, port: 8080 } ]
gateways:
  - name: edge
    listeners:
      - name: https
        port: 8443
        tls:
          certs: [ { server_names: [shop.example.com], secret: shop-cert } ]
        virtual_hosts: [ { domains: ["*"], routes: [ { service: web } ] } ]
)";

  Pem ca_, xds_cert_, shop_cert_, proxy_cert_;
  std::string audit_key_;
  std::unique_ptr<ConsulAgent> consul_;
  std::unique_ptr<FakeNomad> nomad_;
  std::vector<std::pair<std::string, std::string>> canaries_;  // what, value
  std::vector<std::pair<std::string, std::string>> outputs_;   // where, text
  int runs_ = 0;
};

TEST_F(SecretsCanaryTest, NoTokenOrPrivateKeyAppearsAnywhereButInItsOwnProxysSecret) {
  // The edge proxy, over mTLS, takes everything it gets; its secret holds the gateway key (the
  // positive control), nothing else it receives holds any canary.
  RawXdsClient proxy(tern_->xds_address(), kAdsMethod, ProxyCredentials(), Localhost());
  for (const std::string& type : {std::string(kClusterType), std::string(kListenerType), std::string(kSecretType)}) {
    // SDS has no wildcard: the proxy names the secret its listener refers to.
    const std::vector<std::string> names = type == kSecretType ? std::vector<std::string>{"shop-cert"}
                                                               : std::vector<std::string>{};
    ASSERT_TRUE(proxy.Send(RawXdsClient::Request(type, names, "", "", "edge", "edge-envoy-1")));
    auto r = proxy.Next(seconds(5));
    ASSERT_TRUE(r.has_value()) << type << ": " << proxy.AwaitStatus(seconds(1)).error_message();
    if (type == kSecretType) {
      ASSERT_EQ(r->resources_size(), 1);
      Secret s;
      ASSERT_TRUE(r->resources(0).UnpackTo(&s));
      EXPECT_EQ(s.tls_certificate().private_key().inline_bytes(), shop_cert_.key) << "the owner gets its key";
    } else {
      Seen(absl::StrCat("xDS ", type), r->SerializeAsString());
    }
    ASSERT_TRUE(proxy.Send(RawXdsClient::Request(type, names, r->version_info(), r->nonce(), "edge", "edge-envoy-1")));
  }
  // The other sources were read with their tokens (Nomad requires its token: its service is here).
  auto dump = RunTern({"render", "--config", tern_->config_path(), "--node-cluster", "edge", "--type", "all"},
                      dir_.File("render.log"));
  ASSERT_TRUE(dump.ok()) << dump.status();
  EXPECT_EQ(dump->exit_code, 0) << dump->err;
  Seen("tern render", dump->out + dump->err);

  // Every admin page, with the bearer token.
  const std::string bearer = absl::StrCat("Bearer ", kAdminToken);
  const std::vector<std::string> pages = {"/", "/debug/sources", "/debug/proxies", "/debug/resources?node_cluster=edge",
                                          "/debug/resources?node_cluster=edge&type=secret", "/metrics", "/readyz",
                                          "/healthz", "/debug/resources?node_cluster=edge&type=nonsense", "/no-such-page"};
  for (const std::string& path : pages) {
    auto r = HttpGet("127.0.0.1", tern_->admin_port(), path, {{"Authorization", bearer}});
    ASSERT_TRUE(r.ok()) << path << ": " << r.status();
    Seen("GET " + path, r->body);
    if (path == "/debug/sources") {
      EXPECT_NE(r->body.find("greeter"), std::string::npos) << "Nomad was read with its token: " << r->body;
    }
  }
  // CSDS with the resources' contents (the secret's must be left out).
  {
    auto stub = csds::ClientStatusDiscoveryService::NewStub(
        grpc::CreateCustomChannel(tern_->xds_address(), ProxyCredentials(), Localhost()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(5));
    csds::ClientStatusRequest req;
    csds::ClientStatusResponse resp;
    grpc::Status st = stub->FetchClientStatus(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(resp.config_size(), 1);
    EXPECT_GE(resp.config(0).generic_xds_configs_size(), 3);
    Seen("CSDS", resp.SerializeAsString());
  }
  // An operator's mistakes: a key given as a certificate, a config naming a token file that
  // holds garbage — the errors name the files, never their content.
  ASSERT_TRUE(WriteFile(dir_.File("bad.yaml"), "secrets:\n  - { name: shop-cert, cert_file: certs/shop.key, "
                                               "key_file: certs/shop.key }\n")
                  .ok());
  ASSERT_TRUE(WriteFile(dir_.File("bad-tern.yaml"), "files: [bad.yaml]\n").ok());
  auto invalid = RunTern({"validate", "--config", dir_.File("bad-tern.yaml")}, dir_.File("validate.log"));
  ASSERT_TRUE(invalid.ok()) << invalid.status();
  EXPECT_NE(invalid->exit_code, 0);
  EXPECT_NE((invalid->out + invalid->err).find("certs/shop.key"), std::string::npos) << invalid->out << invalid->err;
  Seen("tern validate (a key as a certificate)", invalid->out + invalid->err);

  // A crash would write no core file (the keys and tokens are in tern's memory).
  auto limits = ReadFile("/proc/" + std::to_string(tern_->process().pid()) + "/limits");
  ASSERT_TRUE(limits.ok()) << limits.status();
  EXPECT_TRUE(std::regex_search(*limits, std::regex("Max core file size +0 +0 "))) << *limits;

  // A proxy disconnects, tern is stopped with SIGTERM: the shutdown's own log lines and records.
  proxy.Finish();
  ASSERT_EQ(::kill(tern_->process().pid(), SIGTERM), 0);
  auto code = tern_->process().Wait(seconds(10));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  Seen("tern's log", tern_->process().Log());
  auto verify = RunTern({"audit", "verify", dir_.File("audit.jsonl")}, dir_.File("verify.log"));
  ASSERT_TRUE(verify.ok()) << verify.status();
  EXPECT_EQ(verify->exit_code, 0) << verify->err;
  Seen("tern audit verify", verify->out + verify->err);
  for (const auto& e : fs::directory_iterator(dir_.path())) {
    const std::string name = e.path().filename().string();
    if (name.rfind("audit.jsonl", 0) == 0) {
      auto text = ReadFile(e.path().string());
      ASSERT_TRUE(text.ok());
      Seen("audit file " + name, *text);
    }
  }

  ASSERT_GE(outputs_.size(), 17u);
  for (const auto& [where, text] : outputs_) {
    EXPECT_FALSE(text.empty()) << where << " said nothing: the search would prove nothing";
    for (const auto& [what, value] : canaries_) {
      EXPECT_EQ(text.find(value), std::string::npos) << "the " << what << " appears in " << where;
    }
  }
}

}  // namespace
}  // namespace tern::testing
