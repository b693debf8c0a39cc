// Consul Connect's CA end to end: a real `consul agent -dev` (Connect and its built-in CA are on by
// default), the real `build/tern serve`, and a raw ADS client subscribing to secrets the way Envoy
// does. The operator writes an ingress-gateway entry with TLS enabled; the gateway's proxies get
// the gateway's Connect leaf and Consul's roots over SDS, and its listener terminates TLS with
// that leaf. The served certificate is put behind `openssl s_server`, and `openssl s_client`
// verifies it against nothing but Consul's roots. Nobody else receives the secrets, and the
// private key is never printed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/type_urls.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "integration/consul_agent.h"
#include "support/http_get.h"
#include "support/process.h"
#include "support/raw_xds_client.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"

namespace tern::testing {
namespace {

using envoy::extensions::transport_sockets::tls::v3::Secret;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kGateway[] = "edge";
constexpr char kLeaf[] = "connect-leaf/edge";
constexpr char kRoots[] = "connect-roots";
const std::string kSecretTypeUrl(kSecretType);

// The base64 body's first line identifies a PEM key without printing it anywhere.
std::string KeyBody(const std::string& key_pem) {
  const size_t start = key_pem.find('\n') + 1;
  return key_pem.substr(start, key_pem.find('\n', start) - start);
}

class ConsulConnectCaTest : public TernTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(Started(ConsulAgent::Start(dir_.path()), &consul_));
    ASSERT_TRUE(consul_->Register("web", "web-1", FreePort()).ok());
    ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"service-defaults","Name":"web","Protocol":"http"})").ok());
    ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"ingress-gateway","Name":"edge","TLS":{"Enabled":true},
      "Listeners":[{"Port":8443,"Protocol":"http","Services":[{"Name":"web"}]}]})").ok());
    // TernTest prints tern's log on failure: it never holds key material (checked below), so that
    // cannot leak.
    StartTern({.extra_config = absl::StrCat("consul: { address: \"", consul_->address(), "\" }\n")});
  }


  // The secrets a proxy of `node_cluster` receives when it asks for the leaf and the roots,
  // collected until both arrived or `timeout` passed.
  std::map<std::string, Secret> Subscribe(const std::string& node_cluster, milliseconds timeout = seconds(10)) {
    std::map<std::string, Secret> got;
    RawXdsClient client(tern_->xds_address(), kAdsMethod);
    if (!client.Send(RawXdsClient::Request(kSecretTypeUrl, {kLeaf, kRoots}, "", "", node_cluster, "envoy-1"))) return got;
    const auto deadline = Clock::now() + timeout;
    while (got.size() < 2 && Clock::now() < deadline) {
      auto r = client.Next(milliseconds(500));
      if (!r) continue;
      for (const auto& any : r->resources()) {
        Secret s;
        if (any.UnpackTo(&s)) got[s.name()] = s;
      }
      client.Send(RawXdsClient::Request(kSecretTypeUrl, {kLeaf, kRoots}, r->version_info(), r->nonce(), node_cluster,
                                        "envoy-1"));
    }
    return got;
  }

  // Consul's own answer for its roots: every RootCert.
  std::vector<std::string> ConsulRoots() {
    auto r = ConsulRequest(consul_->http_port(), "GET", "/v1/agent/connect/ca/roots");
    std::vector<std::string> out;
    if (!r.ok()) return out;
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    for (const auto& root : j["Roots"]) out.push_back(root["RootCert"].get<std::string>());
    return out;
  }

  std::unique_ptr<ConsulAgent> consul_;
};

TEST_F(ConsulConnectCaTest, TheGatewayReceivesItsConnectLeafAndConsulsRootsOverSds) {
  auto got = Subscribe(kGateway);
  ASSERT_TRUE(got.count(kLeaf)) << "no leaf served";
  ASSERT_TRUE(got.count(kRoots)) << "no roots served";
  const auto& leaf = got[kLeaf].tls_certificate();
  EXPECT_THAT(leaf.certificate_chain().inline_bytes(), HasSubstr("-----BEGIN CERTIFICATE-----"));
  EXPECT_THAT(leaf.private_key().inline_bytes(), HasSubstr("PRIVATE KEY-----"));
  const auto roots = ConsulRoots();
  ASSERT_FALSE(roots.empty());
  for (const auto& root : roots) {
    EXPECT_THAT(got[kRoots].validation_context().trusted_ca().inline_bytes(), HasSubstr(root));
  }

  // The listener presents the leaf by SDS name (the default certificate: no SNI match).
  auto r = RunTern({"render", "--config", tern_->config_path(), "--node-cluster", kGateway, "--type", "all"},
                   dir_.File("render.out"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << r->err;
  auto j = nlohmann::json::parse(r->out, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  bool saw_listener = false;
  for (const auto& type : j["types"]) {
    for (const auto& res : type["resources"]) {
      if (res.value("name", "") != "http_8443" || !res.contains("filterChains")) continue;
      saw_listener = true;
      ASSERT_EQ(res["filterChains"].size(), 1u) << res.dump();
      const auto& chain = res["filterChains"][0];
      EXPECT_FALSE(chain.contains("filterChainMatch") && chain["filterChainMatch"].contains("serverNames"));
      const auto& ts = chain["transportSocket"]["typedConfig"];
      EXPECT_EQ(ts["@type"], "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext");
      const auto& common = ts["commonTlsContext"];
      EXPECT_EQ(common["tlsCertificateSdsSecretConfigs"][0]["name"], kLeaf) << ts.dump();
      EXPECT_EQ(common["validationContextSdsSecretConfig"]["name"], kRoots) << ts.dump();
      EXPECT_EQ(common["tlsParams"]["tlsMinimumProtocolVersion"], "TLSv1_2");
    }
  }
  EXPECT_TRUE(saw_listener) << r->out.substr(0, 3000);
  const std::string key = KeyBody(leaf.private_key().inline_bytes());
  EXPECT_THAT(r->out, HasSubstr(kLeaf));
  EXPECT_FALSE(r->out.find(key) != std::string::npos) << "render printed the private key";
  EXPECT_FALSE(r->err.find(key) != std::string::npos) << "render logged the private key";
  EXPECT_FALSE(tern_->process().Log().find(key) != std::string::npos) << "tern logged the private key";
  auto d = HttpGet("127.0.0.1", tern_->admin_port(), "/debug/resources?node_cluster=edge&type=secret");
  ASSERT_TRUE(d.ok());
  EXPECT_THAT(d->body, HasSubstr(kLeaf));
  EXPECT_FALSE(d->body.find(key) != std::string::npos) << "/debug/resources showed the private key";
}

// A TLS client that trusts only Consul's roots verifies the chain of the certificate tern serves.
TEST_F(ConsulConnectCaTest, ATlsClientVerifiesTheServedLeafAgainstConsulsRoots) {
  auto got = Subscribe(kGateway);
  ASSERT_TRUE(got.count(kLeaf) && got.count(kRoots));
  const std::string cert = dir_.File("leaf.pem"), key = dir_.File("leaf.key"), roots = dir_.File("roots.pem");
  ASSERT_TRUE(WriteFile(cert, got[kLeaf].tls_certificate().certificate_chain().inline_bytes()).ok());
  ASSERT_TRUE(WriteFile(key, got[kLeaf].tls_certificate().private_key().inline_bytes()).ok());
  ::chmod(key.c_str(), 0600);
  ASSERT_TRUE(WriteFile(roots, got[kRoots].validation_context().trusted_ca().inline_bytes()).ok());

  const int port = FreePort();
  auto server = Subprocess::Start({.argv = {"openssl", "s_server", "-www", "-accept", absl::StrCat("127.0.0.1:", port),
                                            "-cert", cert, "-key", key},
                                   .log_path = dir_.File("s_server.log")});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->WaitForLine("^ACCEPT", seconds(10)).ok()) << (*server)->LogTail();
  auto verify = Subprocess::Start(
      {.argv = {"sh", "-c",
                absl::StrCat("openssl s_client -connect 127.0.0.1:", port, " -CAfile ", roots,
                             " -verify_return_error </dev/null")},
       .log_path = dir_.File("s_client.log")});
  ASSERT_TRUE(verify.ok()) << verify.status();
  auto code = (*verify)->Wait(seconds(15));
  ASSERT_TRUE(code.ok()) << code.status();
  const std::string log = (*verify)->Log();
  // "Verify return code: 0 (ok)" alone is also printed when no certificate arrived at all.
  EXPECT_THAT(log, HasSubstr("Server certificate")) << (*verify)->LogTail(3000);
  EXPECT_THAT(log, HasSubstr("Verification: OK")) << (*verify)->LogTail(3000);
  EXPECT_THAT(log, HasSubstr("Verify return code: 0 (ok)")) << (*verify)->LogTail(3000);
  EXPECT_EQ(*code, 0);
  (*server)->Kill();

  // And a client that trusts another CA refuses it (the check above is not vacuous).
  auto self_signed = Subprocess::Start(
      {.argv = {"sh", "-c", absl::StrCat("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
                                         "-subj /CN=other -keyout ", dir_.File("other.key"), " -out ",
                                         dir_.File("other.pem"))},
       .log_path = dir_.File("req.log")});
  ASSERT_TRUE(self_signed.ok());
  ASSERT_EQ(*(*self_signed)->Wait(seconds(15)), 0) << (*self_signed)->LogTail();
  const int port2 = FreePort();
  auto server2 = Subprocess::Start({.argv = {"openssl", "s_server", "-www", "-accept", absl::StrCat("127.0.0.1:", port2),
                                             "-cert", cert, "-key", key},
                                    .log_path = dir_.File("s_server2.log")});
  ASSERT_TRUE(server2.ok());
  ASSERT_TRUE((*server2)->WaitForLine("^ACCEPT", seconds(10)).ok()) << (*server2)->LogTail();
  auto refuse = Subprocess::Start(
      {.argv = {"sh", "-c",
                absl::StrCat("openssl s_client -connect 127.0.0.1:", port2, " -CAfile ", dir_.File("other.pem"),
                             " -verify_return_error </dev/null")},
       .log_path = dir_.File("s_client2.log")});
  ASSERT_TRUE(refuse.ok());
  auto code2 = (*refuse)->Wait(seconds(15));
  ASSERT_TRUE(code2.ok());
  EXPECT_NE(*code2, 0) << (*refuse)->LogTail(2000);
  (*server2)->Kill();
}

TEST_F(ConsulConnectCaTest, NoOtherNodeClusterEverReceivesTheSecrets) {
  ASSERT_TRUE(Subscribe(kGateway).count(kLeaf)) << "the gateway itself gets the leaf";
  for (const std::string node_cluster : {"proxyless", "other-gateway"}) {
    auto got = Subscribe(node_cluster, milliseconds(1500));
    EXPECT_TRUE(got.empty()) << node_cluster << " was sent " << got.size() << " secrets";
  }
}


// Consul rotates its CA (a new root key through /v1/connect/ca/configuration): the roots blocking
// query brings both roots to the subscribed gateway at once, and the leaf's blocking query brings
// the leaf Consul's agent re-issues from the new root (after the agent's own jitter), each under
// the same secret name with a new version; the new leaf verifies against the served roots.
TEST_F(ConsulConnectCaTest, AConsulCaRotationReachesTheSubscribedGatewayUnderTheSameNames) {
  RawXdsClient client(tern_->xds_address(), kAdsMethod);
  ASSERT_TRUE(client.Send(RawXdsClient::Request(kSecretTypeUrl, {kLeaf, kRoots}, "", "", kGateway, "envoy-1")));
  std::map<std::string, Secret> seen;
  auto pump = [&](milliseconds wait) {
    auto r = client.Next(wait);
    if (!r) return;
    for (const auto& any : r->resources()) {
      Secret s;
      if (any.UnpackTo(&s)) seen[s.name()] = s;
    }
    client.Send(RawXdsClient::Request(kSecretTypeUrl, {kLeaf, kRoots}, r->version_info(), r->nonce(), kGateway, "envoy-1"));
  };
  for (auto end = Clock::now() + seconds(10); seen.size() < 2 && Clock::now() < end;) pump(milliseconds(500));
  ASSERT_EQ(seen.size(), 2u);
  // The leaf is the chain's first certificate (the chain may also carry the active root's
  // intermediates, e.g. the new root cross-signed by the old one during a rotation).
  auto first_cert = [](const std::string& chain) {
    const std::string end = "-----END CERTIFICATE-----";
    return chain.substr(0, chain.find(end) + end.size());
  };
  const std::string old_leaf = first_cert(seen[kLeaf].tls_certificate().certificate_chain().inline_bytes());
  const std::string old_roots = seen[kRoots].validation_context().trusted_ca().inline_bytes();

  // A new root key (the test's own; Consul generates the root certificate from it).
  auto keygen = Subprocess::Start({.argv = {"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
                                            dir_.File("ca.key")},
                                   .log_path = dir_.File("keygen.log")});
  ASSERT_TRUE(keygen.ok());
  ASSERT_EQ(*(*keygen)->Wait(seconds(10)), 0);
  auto ca_key = ReadFile(dir_.File("ca.key"));
  ASSERT_TRUE(ca_key.ok());
  const auto start = Clock::now();
  ASSERT_TRUE(consul_->Call("PUT", "/v1/connect/ca/configuration",
                            nlohmann::json{{"Provider", "consul"},
                                           {"Config", {{"PrivateKey", *ca_key}, {"LeafCertTTL", "72h"},
                                                       {"RotationPeriod", "2160h"}, {"IntermediateCertTTL", "8760h"}}}}
                                .dump())
                  .ok());
  auto count_certs = [](const std::string& pem) {
    size_t n = 0;
    for (size_t pos = 0; (pos = pem.find("BEGIN CERTIFICATE", pos)) != std::string::npos; ++pos) ++n;
    return n;
  };
  long roots_ms = -1, leaf_ms = -1;
  for (auto end = Clock::now() + seconds(90); Clock::now() < end && (roots_ms < 0 || leaf_ms < 0);) {
    pump(milliseconds(500));
    const auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
    if (roots_ms < 0 && count_certs(seen[kRoots].validation_context().trusted_ca().inline_bytes()) == 2) roots_ms = ms;
    if (leaf_ms < 0 && first_cert(seen[kLeaf].tls_certificate().certificate_chain().inline_bytes()) != old_leaf) {
      leaf_ms = ms;
    }
  }
  std::cerr << "CA rotation: both roots served after " << roots_ms << " ms, the re-issued leaf after " << leaf_ms
            << " ms\n";
  ASSERT_GE(roots_ms, 0) << "the new root never reached the gateway";
  EXPECT_LT(roots_ms, 5000);
  EXPECT_THAT(seen[kRoots].validation_context().trusted_ca().inline_bytes(), HasSubstr(old_roots));
  ASSERT_GE(leaf_ms, 0) << "the re-issued leaf never reached the gateway";

  // The new leaf is issued by the new root: a client trusting only the new root accepts it.
  auto j = nlohmann::json::parse(ConsulRequest(consul_->http_port(), "GET", "/v1/agent/connect/ca/roots")->body);
  std::string active_root;
  for (const auto& r : j["Roots"]) {
    if (r["ID"] == j["ActiveRootID"]) active_root = r["RootCert"].get<std::string>();
  }
  ASSERT_FALSE(active_root.empty());
  EXPECT_THAT(old_roots, Not(HasSubstr(active_root)));
  const std::string cert = dir_.File("leaf2.pem"), key = dir_.File("leaf2.key"), ca = dir_.File("new-root.pem");
  ASSERT_TRUE(WriteFile(cert, seen[kLeaf].tls_certificate().certificate_chain().inline_bytes()).ok());
  ASSERT_TRUE(WriteFile(key, seen[kLeaf].tls_certificate().private_key().inline_bytes()).ok());
  ::chmod(key.c_str(), 0600);
  ASSERT_TRUE(WriteFile(ca, active_root).ok());
  auto verify = Subprocess::Start({.argv = {"openssl", "verify", "-CAfile", ca, cert}, .log_path = dir_.File("verify.log")});
  ASSERT_TRUE(verify.ok());
  EXPECT_EQ(*(*verify)->Wait(seconds(10)), 0) << (*verify)->LogTail();
  EXPECT_FALSE(tern_->process().Log().find(KeyBody(seen[kLeaf].tls_certificate().private_key().inline_bytes())) !=
               std::string::npos)
      << "tern logged the private key";
}

}  // namespace
}  // namespace tern::testing
