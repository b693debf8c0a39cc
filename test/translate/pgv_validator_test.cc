// Envoy's acceptance rules (protoc-gen-validate annotations) applied to what tern serves, and to
// hand-made resources that Envoy would NACK.
#include "translate/pgv_validator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/core/v3/protocol.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "translate/cluster_builder.h"
#include "translate/translator.h"
#include "translate/worlds.h"

namespace tern::translate {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Contains;

TEST(PgvValidatorTest, EveryResourceOfARealisticWorldPasses) {
  const Translation t = Translate(testing::Shop());
  size_t checked = 0;
  auto check = [&](const std::string& name, const MessagePtr& m) {
    EXPECT_THAT(ValidateResource(*m), IsEmpty()) << name;
    ++checked;
  };
  for (const auto& [name, m] : t.clusters) check(name, m);
  for (const auto& [name, m] : t.endpoints) check(name, m);
  for (const auto& [_, g] : t.gateways) {
    for (const auto& nm : g.listeners) check(nm.name, nm.message);
    for (const auto& nm : g.routes) check(nm.name, nm.message);
  }
  for (const auto& nm : t.mesh.listeners) check(nm.name, nm.message);
  for (const auto& nm : t.mesh.routes) check(nm.name, nm.message);
  EXPECT_EQ(checked, 4u + 4u + 3u + 8u);
}

envoy::config::cluster::v3::Cluster GoodCluster() {
  return *BuildCluster(testing::MakeCluster("web"), "ads");
}

TEST(PgvValidatorTest, AClusterWithoutANameIsRejected) {
  auto c = GoodCluster();
  c.set_name("");
  EXPECT_THAT(ValidateResource(c), ElementsAre("Cluster '': name: must be at least 1 characters"));
}

TEST(PgvValidatorTest, AZeroConnectTimeoutIsRejected) {
  auto c = GoodCluster();
  c.mutable_connect_timeout()->set_seconds(0);
  EXPECT_THAT(ValidateResource(c), ElementsAre("Cluster 'web': connect_timeout: must be greater than 0s"));
}

TEST(PgvValidatorTest, AModelClusterWithAZeroConnectTimeoutIsCaughtBeforeEnvoySeesIt) {
  auto m = testing::MakeCluster("web");
  m.connect_timeout = std::chrono::milliseconds(0);
  const Translation t = Translate(model::World{.clusters = {{"web", m}}, .gateways = {}, .service_routes = {}});
  EXPECT_THAT(ValidateResource(*t.clusters.at("web")),
              ElementsAre("Cluster 'web': connect_timeout: must be greater than 0s"));
}

TEST(PgvValidatorTest, AnUndefinedEnumValueIsRejected) {
  auto c = GoodCluster();
  c.set_lb_policy(static_cast<envoy::config::cluster::v3::Cluster::LbPolicy>(99));
  EXPECT_THAT(ValidateResource(c), ElementsAre(HasSubstr("lb_policy: must be a defined LbPolicy value")));
}

TEST(PgvValidatorTest, WrappersAreCheckedLikeTheirScalar) {
  auto c = GoodCluster();
  // max_ejection_percent is a UInt32Value with {lte: 100}.
  c.mutable_outlier_detection()->mutable_max_ejection_percent()->set_value(101);
  EXPECT_THAT(ValidateResource(c),
              ElementsAre("Cluster 'web': outlier_detection.max_ejection_percent: must be less than or equal to 100"));
}

TEST(PgvValidatorTest, APortAbove65535InAnEndpointIsRejectedWithItsPath) {
  envoy::config::endpoint::v3::ClusterLoadAssignment cla;
  cla.set_cluster_name("web");
  auto* sa = cla.add_endpoints()->add_lb_endpoints()->mutable_endpoint()->mutable_address()->mutable_socket_address();
  sa->set_address("10.0.0.1");
  sa->set_port_value(70000);
  EXPECT_THAT(ValidateResource(cla),
              ElementsAre("ClusterLoadAssignment 'web': endpoints[0].lb_endpoints[0].endpoint.address."
                          "socket_address.port_value: must be less than or equal to 65535"));
}

TEST(PgvValidatorTest, AListenerPortAbove65535IsRejected) {
  model::Listener l;
  l.name = "edge";
  l.port = 70000;
  model::World w;
  w.gateways["g"] = model::Gateway{.name = "g", .listeners = {l}, .origin = ""};
  const Translation t = Translate(w);
  EXPECT_THAT(ValidateResource(*t.gateways.at("g").listeners[0].message),
              ElementsAre("Listener 'edge': address.socket_address.port_value: must be less than or equal to 65535"));
}

TEST(PgvValidatorTest, ARouteWithNoActionIsRejected) {
  envoy::config::route::v3::RouteConfiguration rc;
  rc.set_name("edge");
  auto* vh = rc.add_virtual_hosts();
  vh->set_name("shop");
  vh->add_domains("*");
  vh->add_routes()->mutable_match()->set_prefix("/");
  EXPECT_THAT(ValidateResource(rc),
              ElementsAre(HasSubstr("RouteConfiguration 'edge': virtual_hosts[0].routes[0].action: is required")));
}

TEST(PgvValidatorTest, ARouteWithNoPathMatchIsRejected) {
  envoy::config::route::v3::RouteConfiguration rc;
  rc.set_name("edge");
  auto* vh = rc.add_virtual_hosts();
  vh->set_name("shop");
  vh->add_domains("*");
  auto* r = vh->add_routes();
  r->mutable_match();
  r->mutable_route()->set_cluster("web");
  EXPECT_THAT(ValidateResource(rc), ElementsAre(HasSubstr("virtual_hosts[0].routes[0].match.path_specifier: is required")));
}

TEST(PgvValidatorTest, AVirtualHostWithoutDomainsIsRejected) {
  envoy::config::route::v3::RouteConfiguration rc;
  rc.set_name("edge");
  rc.add_virtual_hosts()->set_name("shop");
  EXPECT_THAT(ValidateResource(rc),
              ElementsAre("RouteConfiguration 'edge': virtual_hosts[0].domains: must have at least 1 item(s)"));
}

TEST(PgvValidatorTest, ABadHeaderNameIsRejected) {
  envoy::config::route::v3::RouteConfiguration rc;
  rc.set_name("edge");
  auto* vh = rc.add_virtual_hosts();
  vh->set_name("shop");
  vh->add_domains("*");
  auto* r = vh->add_routes();
  r->mutable_match()->set_prefix("/");
  r->mutable_route()->set_cluster("web");
  auto* h = r->mutable_match()->add_headers();
  h->set_name("x-evil\r\nhost");
  h->set_present_match(true);
  EXPECT_THAT(ValidateResource(rc), ElementsAre("RouteConfiguration 'edge': virtual_hosts[0].routes[0].match."
                                                "headers[0].name: must be a valid HTTP header name"));
}

TEST(PgvValidatorTest, ProblemsInsideAnAnyAreFoundByUnpackingIt) {
  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager hcm;
  hcm.set_stat_prefix("");  // min_len 1
  hcm.mutable_rds()->mutable_config_source()->mutable_ads();
  envoy::config::listener::v3::Listener l;
  l.set_name("edge");
  auto* f = l.add_filter_chains()->add_filters();
  f->set_name("envoy.filters.network.http_connection_manager");
  f->mutable_typed_config()->PackFrom(hcm);
  EXPECT_THAT(ValidateResource(l),
              Contains("Listener 'edge': filter_chains[0].filters[0].typed_config.stat_prefix: must be at least 1 characters"));
}

TEST(PgvValidatorTest, AnUnsetOptionalMessageIsNotValidated) {
  // outlier_detection is absent: its rules (which would fail on an empty message) do not apply.
  auto c = GoodCluster();
  c.clear_outlier_detection();
  c.clear_circuit_breakers();
  EXPECT_THAT(ValidateResource(c), IsEmpty());
}

TEST(PgvValidatorTest, IgnoreEmptySkipsAnEmptyStringButNotABadOne) {
  // override_auto_sni_header: {well_known_regex: HTTP_HEADER_NAME, ignore_empty: true}; the
  // empty string would fail the header-name check (and does in Envoy's PGV without the flag).
  envoy::config::core::v3::UpstreamHttpProtocolOptions opts;
  EXPECT_THAT(ValidateResource(opts), IsEmpty());
  opts.set_override_auto_sni_header("bad header");
  EXPECT_THAT(ValidateResource(opts),
              ElementsAre("UpstreamHttpProtocolOptions: override_auto_sni_header: must be a valid HTTP header name"));
}

}  // namespace
}  // namespace tern::translate
