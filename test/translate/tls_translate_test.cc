// Stories of TLS on the data plane: what an Envoy of a gateway receives for a TLS listener with
// several certificates, for an upstream that needs mTLS, and which secrets reach which proxy.
#include <gtest/gtest.h>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "translate/pgv_validator.h"
#include "translate/tls_builder.h"
#include "translate/translator.h"
#include "translate/worlds.h"

namespace tern::translate {
namespace {

namespace tls = envoy::extensions::transport_sockets::tls::v3;
using envoy::config::cluster::v3::Cluster;
using envoy::config::listener::v3::Listener;
using testing::As;
using testing::Find;
using testing::Shop;

// Placeholder PEM: the translator copies bytes, it does not parse them.
model::Secret Cert(const std::string& name) {
  return {.name = name, .kind = model::Secret::Kind::kTlsCertificate,
          .cert_chain_pem = "-----BEGIN CERTIFICATE-----\n" + name + "\n-----END CERTIFICATE-----\n",
          .private_key_pem = "-----BEGIN PRIVATE KEY-----\n" + name + "\n-----END PRIVATE KEY-----\n",
          .origin = "test secrets[" + name + "]"};
}
model::Secret Ca(const std::string& name) {
  return {.name = name, .kind = model::Secret::Kind::kValidationContext,
          .trusted_ca_pem = "-----BEGIN CERTIFICATE-----\n" + name + "\n-----END CERTIFICATE-----\n",
          .origin = "test secrets[" + name + "]"};
}

// The shop, with HTTPS on its edge gateway: shop.example.com and admin.example.com have their
// own certificates on port 8443, clients must present a certificate from the partner CA; api is
// reached over mTLS; a second gateway "internal" uses none of it.
model::World TlsShop() {
  model::World w = Shop();
  w.secrets["shop-cert"] = Cert("shop-cert");
  w.secrets["admin-cert"] = Cert("admin-cert");
  w.secrets["partner-ca"] = Ca("partner-ca");
  w.secrets["mesh-ca"] = Ca("mesh-ca");
  w.secrets["edge-client"] = Cert("edge-client");
  w.secrets["unused-cert"] = Cert("unused-cert");

  model::Listener https = w.gateways["edge"].listeners[1];  // edge-http
  https.name = "edge-https";
  https.port = 8443;
  https.tls = model::ListenerTls{
      .certs = {{.server_names = {"shop.example.com", "www.shop.example.com"}, .secret = "shop-cert"},
                {.server_names = {"admin.example.com"}, .secret = "admin-cert"}},
      .require_client_cert = true,
      .client_ca_secret = "partner-ca"};
  w.gateways["edge"].listeners.push_back(https);

  w.clusters["api"].tls = model::UpstreamTls{.sni = "api.internal", .ca_secret = "mesh-ca",
                                             .client_cert_secret = "edge-client",
                                             .verify_sans = {"spiffe://shop/api", "api.internal"}};

  model::Listener plain;
  plain.name = "internal-http";
  plain.port = 8080;
  plain.virtual_hosts = {{.name = "all", .domains = {"*"}, .routes = {testing::Forward("/", {{"web", 1}})}}};
  w.gateways["internal"] = model::Gateway{.name = "internal", .listeners = {plain}, .origin = "test"};
  return w;
}

TEST(TlsTranslateTest, TwoSniCertificatesBecomeTwoFilterChainsWithTheSameRoutes) {
  const Translation t = Translate(TlsShop());
  const auto* l = Find<Listener>(t.gateways.at("edge").listeners, "edge-https");
  ASSERT_NE(l, nullptr);
  ASSERT_EQ(l->filter_chains_size(), 2);
  ASSERT_EQ(l->listener_filters_size(), 1);
  EXPECT_EQ(l->listener_filters(0).name(), kTlsInspectorName) << "SNI is only known after the inspector reads it";

  const auto& shop = l->filter_chains(0);
  ASSERT_EQ(shop.filter_chain_match().server_names_size(), 2);
  EXPECT_EQ(shop.filter_chain_match().server_names(0), "shop.example.com");
  EXPECT_EQ(shop.filter_chain_match().server_names(1), "www.shop.example.com");
  EXPECT_EQ(l->filter_chains(1).filter_chain_match().server_names(0), "admin.example.com");
  // Both chains terminate TLS and then run the same HTTP connection manager.
  EXPECT_EQ(shop.filters(0).SerializeAsString(), l->filter_chains(1).filters(0).SerializeAsString());

  EXPECT_EQ(shop.transport_socket().name(), "envoy.transport_sockets.tls");
  tls::DownstreamTlsContext ctx;
  ASSERT_TRUE(shop.transport_socket().typed_config().UnpackTo(&ctx));
  const auto& common = ctx.common_tls_context();
  ASSERT_EQ(common.tls_certificate_sds_secret_configs_size(), 1);
  EXPECT_EQ(common.tls_certificate_sds_secret_configs(0).name(), "shop-cert");
  EXPECT_TRUE(common.tls_certificate_sds_secret_configs(0).sds_config().has_ads());
  EXPECT_EQ(common.tls_certificate_sds_secret_configs(0).sds_config().resource_api_version(),
            envoy::config::core::v3::V3);
  EXPECT_EQ(common.tls_params().tls_minimum_protocol_version(), tls::TlsParameters::TLSv1_2);
  // TLS 1.2 suites: forward secret and AEAD only (no CBC, no RSA key exchange).
  ASSERT_GT(common.tls_params().cipher_suites_size(), 0);
  for (const auto& suite : common.tls_params().cipher_suites()) {
    EXPECT_EQ(suite.rfind("ECDHE-", 0), 0u) << suite;
    EXPECT_TRUE(suite.find("GCM") != std::string::npos || suite.find("CHACHA20-POLY1305") != std::string::npos) << suite;
  }
  ASSERT_EQ(common.alpn_protocols_size(), 2);
  EXPECT_EQ(common.alpn_protocols(0), "h2");
  EXPECT_EQ(common.alpn_protocols(1), "http/1.1");
  EXPECT_EQ(common.validation_context_sds_secret_config().name(), "partner-ca");
  EXPECT_TRUE(ctx.require_client_certificate().value());

  tls::DownstreamTlsContext admin;
  ASSERT_TRUE(l->filter_chains(1).transport_socket().typed_config().UnpackTo(&admin));
  EXPECT_EQ(admin.common_tls_context().tls_certificate_sds_secret_configs(0).name(), "admin-cert");
}

TEST(TlsTranslateTest, PlainListenersStayPlain) {
  const Translation t = Translate(TlsShop());
  const auto* l = Find<Listener>(t.gateways.at("edge").listeners, "edge-http");
  ASSERT_NE(l, nullptr);
  ASSERT_EQ(l->filter_chains_size(), 1);
  EXPECT_FALSE(l->filter_chains(0).has_transport_socket());
  EXPECT_EQ(l->listener_filters_size(), 0);
}

TEST(TlsTranslateTest, UpstreamMtlsClusterVerifiesTheServerAndPresentsItsCertificate) {
  const Translation t = Translate(TlsShop());
  const auto& c = As<Cluster>(t.clusters.at("api"));
  ASSERT_EQ(c.transport_socket().name(), "envoy.transport_sockets.tls");
  tls::UpstreamTlsContext ctx;
  ASSERT_TRUE(c.transport_socket().typed_config().UnpackTo(&ctx));
  EXPECT_EQ(ctx.sni(), "api.internal");
  const auto& common = ctx.common_tls_context();
  ASSERT_EQ(common.tls_certificate_sds_secret_configs_size(), 1);
  EXPECT_EQ(common.tls_certificate_sds_secret_configs(0).name(), "edge-client");
  ASSERT_TRUE(common.has_combined_validation_context());
  const auto& combined = common.combined_validation_context();
  EXPECT_EQ(combined.validation_context_sds_secret_config().name(), "mesh-ca");
  const auto& sans = combined.default_validation_context().match_typed_subject_alt_names();
  ASSERT_EQ(sans.size(), 2);
  EXPECT_EQ(sans[0].san_type(), tls::SubjectAltNameMatcher::URI);
  EXPECT_EQ(sans[0].matcher().exact(), "spiffe://shop/api");
  EXPECT_EQ(sans[1].san_type(), tls::SubjectAltNameMatcher::DNS);
  EXPECT_EQ(sans[1].matcher().exact(), "api.internal");
}

TEST(TlsTranslateTest, UpstreamTlsWithoutSansUsesTheCaSecretDirectly) {
  model::World w = TlsShop();
  w.clusters["api"].tls = model::UpstreamTls{.ca_secret = "mesh-ca"};
  const Translation t = Translate(w);
  tls::UpstreamTlsContext ctx;
  ASSERT_TRUE(As<Cluster>(t.clusters.at("api")).transport_socket().typed_config().UnpackTo(&ctx));
  EXPECT_EQ(ctx.common_tls_context().validation_context_sds_secret_config().name(), "mesh-ca");
  EXPECT_EQ(ctx.common_tls_context().tls_certificate_sds_secret_configs_size(), 0) << "no mTLS asked for";
  EXPECT_EQ(ctx.sni(), "");
}

TEST(TlsTranslateTest, SecretsGoOnlyToTheGatewayThatUsesThem) {
  const Translation t = Translate(TlsShop());
  // edge: its listener's two certificates and client CA, and api's CA and client certificate
  // (api is routed to by edge). The unused certificate goes nowhere.
  EXPECT_EQ(t.gateways.at("edge").secrets,
            (std::vector<std::string>{"admin-cert", "edge-client", "mesh-ca", "partner-ca", "shop-cert"}));
  // internal routes only to web (plaintext): no secrets at all.
  EXPECT_TRUE(t.gateways.at("internal").secrets.empty());
  // Proxyless gRPC clients never receive secrets.
  EXPECT_TRUE(t.mesh.secrets.empty());
  for (const auto& d : t.mesh.dependencies) EXPECT_NE(d.to_type, ResourceType::kSecret);
}

TEST(TlsTranslateTest, ListenersAndClustersDependOnTheirSecrets) {
  const Translation t = Translate(TlsShop());
  std::set<std::string> deps;
  for (const auto& d : t.gateways.at("edge").dependencies) {
    if (d.to_type == ResourceType::kSecret) deps.insert(std::string(ShortName(d.from_type)) + " " + d.from_name + " -> " + d.to_name);
  }
  EXPECT_EQ(deps, (std::set<std::string>{"cluster api -> edge-client", "cluster api -> mesh-ca",
                                         "listener edge-https -> admin-cert", "listener edge-https -> partner-ca",
                                         "listener edge-https -> shop-cert"}));
}

TEST(TlsTranslateTest, SecretsCarryThePemAsInlineBytes) {
  const Translation t = Translate(TlsShop());
  const auto& cert = As<tls::Secret>(t.secrets.at("shop-cert"));
  EXPECT_EQ(cert.name(), "shop-cert");
  EXPECT_EQ(cert.tls_certificate().certificate_chain().inline_bytes(), Cert("shop-cert").cert_chain_pem);
  EXPECT_EQ(cert.tls_certificate().private_key().inline_bytes(), Cert("shop-cert").private_key_pem);
  const auto& ca = As<tls::Secret>(t.secrets.at("partner-ca"));
  EXPECT_EQ(ca.validation_context().trusted_ca().inline_bytes(), Ca("partner-ca").trusted_ca_pem);
  EXPECT_FALSE(ca.has_tls_certificate());
}

TEST(TlsTranslateTest, EverythingPassesEnvoysRules) {
  const Translation t = Translate(TlsShop());
  for (const auto& [name, m] : t.secrets) EXPECT_EQ(ValidateResource(*m), std::vector<std::string>{}) << name;
  for (const auto& [name, m] : t.clusters) EXPECT_EQ(ValidateResource(*m), std::vector<std::string>{}) << name;
  for (const auto& l : t.gateways.at("edge").listeners) {
    EXPECT_EQ(ValidateResource(*l.message), std::vector<std::string>{}) << l.name;
  }
}

TEST(TlsTranslateTest, TlsOnATcpListenerTerminatesAndForwards) {
  model::World w = TlsShop();
  auto& db = w.gateways["edge"].listeners[0];  // edge-db
  db.tls = model::ListenerTls{.certs = {{.secret = "shop-cert"}}, .alpn = {}};
  const Translation t = Translate(w);
  const auto* l = Find<Listener>(t.gateways.at("edge").listeners, "edge-db");
  ASSERT_EQ(l->filter_chains_size(), 1);
  EXPECT_FALSE(l->filter_chains(0).has_filter_chain_match()) << "the default certificate matches any SNI";
  EXPECT_EQ(l->filter_chains(0).filters(0).name(), "envoy.filters.network.tcp_proxy");
  tls::DownstreamTlsContext ctx;
  ASSERT_TRUE(l->filter_chains(0).transport_socket().typed_config().UnpackTo(&ctx));
  EXPECT_EQ(ctx.common_tls_context().alpn_protocols_size(), 0);
  EXPECT_FALSE(ctx.has_require_client_certificate());
  EXPECT_EQ(ValidateResource(*l), std::vector<std::string>{});
}

}  // namespace
}  // namespace tern::translate
