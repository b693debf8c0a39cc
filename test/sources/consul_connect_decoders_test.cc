// Consul Connect CA answers (/v1/agent/connect/ca/leaf/:name, /v1/agent/connect/ca/roots) shaped
// as Consul's API documentation shows them, decoded and checked with OpenSSL; and an
// ingress-gateway with TLS.Enabled mapped to a TLS listener whose certificate is the gateway's
// Connect leaf. No message ever quotes a private key.
#include "sources/consul/connect_ca.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sources/consul/decoders.h"
#include "sources/consul/mapper.h"
#include "support/certs.h"

namespace tern::sources::consul {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using tern::testing::MakeCa;
using tern::testing::MakeCert;
using tern::testing::Pem;
using namespace std::chrono_literals;

const std::string kLeafEp = ConnectLeafPath("edge");

std::string KeyBody(const std::string& key_pem) {
  const size_t start = key_pem.find('\n') + 1;
  return key_pem.substr(start, key_pem.find('\n', start) - start);
}

std::string LeafJson(const Pem& leaf, const std::string& key, const std::string& valid_before = "2030-01-04T10:00:00Z") {
  return nlohmann::json{{"SerialNumber", "5e:3e:9c"},
                        {"CertPEM", leaf.cert},
                        {"PrivateKeyPEM", key},
                        {"Service", "edge"},
                        {"ServiceURI", "spiffe://11111111-2222-3333-4444-555555555555.consul/ns/default/dc/dc1/svc/edge"},
                        {"ValidAfter", "2024-01-01T10:00:00Z"},
                        {"ValidBefore", valid_before},
                        {"CreateIndex", 12},
                        {"ModifyIndex", 12}}
      .dump();
}

std::string RootsJson(const Pem& ca, const std::string& active = "aa:bb") {
  return nlohmann::json{{"ActiveRootID", active},
                        {"TrustDomain", "11111111-2222-3333-4444-555555555555.consul"},
                        {"Roots",
                         {{{"ID", "aa:bb"},
                           {"Name", "Consul CA Root Cert"},
                           {"SerialNumber", 7},
                           {"SigningKeyID", "cc:dd"},
                           {"ExternalTrustDomain", "11111111-2222-3333-4444-555555555555"},
                           {"NotBefore", "2024-01-01T10:00:00Z"},
                           {"NotAfter", "2034-01-01T10:00:00Z"},
                           {"RootCert", ca.cert},
                           {"IntermediateCerts", nullptr},
                           {"Active", true},
                           {"PrivateKeyType", "ec"},
                           {"PrivateKeyBits", 256},
                           {"CreateIndex", 8},
                           {"ModifyIndex", 8}}}}}
      .dump();
}

class ConnectCaTest : public ::testing::Test {
 protected:
  Pem ca_ = MakeCa("Consul CA 7");
  Pem leaf_ = MakeCert({.common_name = "edge", .uri_sans = {"spiffe://x.consul/ns/default/dc/dc1/svc/edge"}}, ca_);
};

TEST_F(ConnectCaTest, ALeafAnswerDecodesWithItsLifetime) {
  auto leaf = DecodeConnectLeaf(LeafJson(leaf_, leaf_.key), kLeafEp);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(leaf->cert_pem, leaf_.cert);
  EXPECT_TRUE(leaf->private_key_pem == leaf_.key);
  EXPECT_EQ(leaf->serial, "5e:3e:9c");
  EXPECT_EQ(leaf->valid_before, *ParseRfc3339("2030-01-04T10:00:00Z"));
  EXPECT_EQ(leaf->valid_after, *ParseRfc3339("2024-01-01T10:00:00Z"));
}

TEST_F(ConnectCaTest, ARefreshIsScheduledTwoThirdsIntoTheLifetime) {
  ConnectLeaf leaf;
  leaf.valid_after = *ParseRfc3339("2024-01-01T00:00:00Z");
  leaf.valid_before = *ParseRfc3339("2024-01-04T00:00:00Z");  // 72 h, Consul's default
  EXPECT_EQ(LeafRefreshAt(leaf, leaf.valid_after), *ParseRfc3339("2024-01-03T00:00:00Z"));
  // Already past 2/3: soon, not in a busy loop.
  const auto late = *ParseRfc3339("2024-01-03T12:00:00Z");
  EXPECT_EQ(LeafRefreshAt(leaf, late), late + 1s);
  EXPECT_TRUE(ParseRfc3339("2024-01-03T12:00:00.123456789+01:00").has_value());
  EXPECT_FALSE(ParseRfc3339("yesterday").has_value());
}

TEST_F(ConnectCaTest, AKeyThatDoesNotMatchIsRefusedWithoutQuotingIt) {
  const Pem other = MakeCert({.common_name = "other"}, ca_);
  auto leaf = DecodeConnectLeaf(LeafJson(leaf_, other.key), kLeafEp);
  ASSERT_FALSE(leaf.ok());
  EXPECT_THAT(std::string(leaf.status().message()), HasSubstr(kLeafEp + ": PrivateKeyPEM: private key does not match"));
  EXPECT_THAT(std::string(leaf.status().message()), Not(HasSubstr(KeyBody(other.key))));
}

TEST_F(ConnectCaTest, MalformedLeafAnswersNameTheEndpointAndField) {
  auto missing = DecodeConnectLeaf(R"({"CertPEM":"x"})", kLeafEp);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("PrivateKeyPEM: is required"));
  auto bad_cert = DecodeConnectLeaf(LeafJson({.cert = "-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n"},
                                             leaf_.key),
                                    kLeafEp);
  EXPECT_THAT(std::string(bad_cert.status().message()), HasSubstr(kLeafEp + ": CertPEM: not a valid PEM certificate"));
  auto bad_key = DecodeConnectLeaf(LeafJson(leaf_, "-----BEGIN PRIVATE KEY-----\nsecretish\n-----END PRIVATE KEY-----\n"),
                                   kLeafEp);
  EXPECT_THAT(std::string(bad_key.status().message()), HasSubstr("PrivateKeyPEM: not a valid PEM private key"));
  EXPECT_THAT(std::string(bad_key.status().message()), Not(HasSubstr("secretish")));
  auto bad_time = DecodeConnectLeaf(LeafJson(leaf_, leaf_.key, "soon"), kLeafEp);
  EXPECT_THAT(std::string(bad_time.status().message()), HasSubstr("ValidBefore: expected an RFC 3339 time"));
  EXPECT_THAT(std::string(DecodeConnectLeaf("{", kLeafEp).status().message()), HasSubstr("malformed JSON"));
}

TEST_F(ConnectCaTest, RootsDecodeIntoOneTrustedBundle) {
  const Pem old_ca = MakeCa("Consul CA 6");
  auto j = nlohmann::json::parse(RootsJson(ca_));
  j["Roots"].push_back({{"ID", "old"}, {"RootCert", old_ca.cert}, {"Active", false}});
  auto roots = DecodeConnectRoots(j.dump(), kConnectRootsPath);
  ASSERT_TRUE(roots.ok()) << roots.status();
  EXPECT_EQ(roots->active_root_id, "aa:bb");
  ASSERT_EQ(roots->roots.size(), 2u);
  EXPECT_THAT(roots->TrustedCaPem(), HasSubstr(ca_.cert));
  EXPECT_THAT(roots->TrustedCaPem(), HasSubstr(old_ca.cert));
}

TEST_F(ConnectCaTest, MalformedRootsAreRefused) {
  EXPECT_THAT(std::string(DecodeConnectRoots(RootsJson(ca_, "zz"), kConnectRootsPath).status().message()),
              HasSubstr("/v1/agent/connect/ca/roots: ActiveRootID: names no root in Roots"));
  EXPECT_THAT(std::string(DecodeConnectRoots(R"({"Roots":[]})", kConnectRootsPath).status().message()),
              HasSubstr("Roots: no root certificate"));
  auto j = nlohmann::json::parse(RootsJson(ca_));
  j["Roots"][0]["RootCert"] = ca_.cert + leaf_.key;
  auto with_key = DecodeConnectRoots(j.dump(), kConnectRootsPath);
  EXPECT_THAT(std::string(with_key.status().message()), HasSubstr("Roots[0].RootCert: contains a private key"));
  EXPECT_THAT(std::string(with_key.status().message()), Not(HasSubstr(KeyBody(leaf_.key))));
}

// The documented ingress-gateway TLS field.
TEST_F(ConnectCaTest, IngressGatewayTlsEnabledIsDecoded) {
  std::vector<model::Problem> problems;
  auto gws = DecodeIngressGateways(R"([{"Kind":"ingress-gateway","Name":"edge","TLS":{"Enabled":true},
      "Listeners":[{"Port":8443,"Protocol":"http","Services":[{"Name":"web"}]}]},
      {"Kind":"ingress-gateway","Name":"plain","Listeners":[]},
      {"Kind":"ingress-gateway","Name":"bad","TLS":{"Enabled":"yes"}}])",
                                   "/v1/config/ingress-gateway", &problems);
  ASSERT_TRUE(gws.ok()) << gws.status();
  ASSERT_EQ(gws->size(), 2u);
  EXPECT_TRUE((*gws)[0].tls_enabled);
  EXPECT_FALSE((*gws)[1].tls_enabled);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].ToString(), "ingress-gateway/bad: TLS.Enabled: expected true or false");
}

ConsulView GatewayView(bool tls) {
  ConsulView view;
  view.services = {{"web", {}}};
  DiscoveryChain chain;
  chain.service = "web";
  chain.datacenter = "dc1";
  chain.protocol = "http";
  chain.start_node = "resolver:web.default.dc1";
  chain.nodes["resolver:web.default.dc1"] = {.type = "resolver", .name = "web.default.dc1",
                                             .target = "web.default.dc1"};
  chain.targets["web.default.dc1"] = {.id = "web.default.dc1", .service = "web", .datacenter = "dc1"};
  view.chains["web"] = chain;
  view.health[ServiceHealthPath("web")] = {{.id = "web-1", .service = "web", .address = "127.0.0.1", .port = 8080}};
  IngressGateway gw{.name = "edge", .listeners = {{.port = 8443, .protocol = "http", .services = {{.name = "web"}}}},
                    .tls_enabled = tls};
  view.ingress = {gw};
  return view;
}

TEST_F(ConnectCaTest, ATlsGatewayServesItsConnectLeafAndNamesTheRoots) {
  ConsulView view = GatewayView(true);
  view.leaves["edge"] = *DecodeConnectLeaf(LeafJson(leaf_, leaf_.key), kLeafEp);
  view.roots = *DecodeConnectRoots(RootsJson(ca_), kConnectRootsPath);
  std::vector<model::Problem> problems;
  model::World world = BuildWorld(view, &problems);
  EXPECT_TRUE(problems.empty()) << problems[0].ToString();
  ASSERT_TRUE(world.secrets.count("connect-leaf/edge"));
  const model::Secret& leaf = world.secrets["connect-leaf/edge"];
  EXPECT_EQ(leaf.kind, model::Secret::Kind::kTlsCertificate);
  EXPECT_EQ(leaf.cert_chain_pem, leaf_.cert);
  EXPECT_EQ(leaf.origin, "consul /v1/agent/connect/ca/leaf/edge");
  ASSERT_TRUE(world.secrets.count("connect-roots"));
  EXPECT_EQ(world.secrets["connect-roots"].kind, model::Secret::Kind::kValidationContext);
  EXPECT_EQ(world.secrets["connect-roots"].trusted_ca_pem, ca_.cert);
  const model::Listener& l = world.gateways["edge"].listeners.at(0);
  ASSERT_TRUE(l.tls.has_value());
  ASSERT_EQ(l.tls->certs.size(), 1u);
  EXPECT_TRUE(l.tls->certs[0].server_names.empty()) << "the leaf is the default (SNI-less) certificate";
  EXPECT_EQ(l.tls->certs[0].secret, "connect-leaf/edge");
  EXPECT_EQ(l.tls->client_ca_secret, "connect-roots");
  EXPECT_FALSE(l.tls->require_client_cert);
  EXPECT_TRUE(model::Validate(world).empty());
}

TEST_F(ConnectCaTest, ATlsGatewayWithoutItsLeafGetsNoPlaintextListener) {
  ConsulView view = GatewayView(true);
  std::vector<model::Problem> problems;
  model::World world = BuildWorld(view, &problems);
  EXPECT_TRUE(world.gateways["edge"].listeners.empty());
  EXPECT_TRUE(world.secrets.empty());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0].ToString(), HasSubstr("ingress-gateway/edge: TLS is enabled but the Connect CA leaf"));
}

TEST_F(ConnectCaTest, APlainGatewayHasNoSecrets) {
  ConsulView view = GatewayView(false);
  view.roots = *DecodeConnectRoots(RootsJson(ca_), kConnectRootsPath);
  std::vector<model::Problem> problems;
  model::World world = BuildWorld(view, &problems);
  EXPECT_TRUE(world.secrets.empty());
  EXPECT_FALSE(world.gateways["edge"].listeners.at(0).tls.has_value());
}

}  // namespace
}  // namespace tern::sources::consul
