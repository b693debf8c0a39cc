// Stories of what a proxy receives for a world: gateway listeners and routes, proxyless gRPC
// API listeners, and how the pieces reference each other.
#include "translate/translator.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <gtest/gtest.h>

#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "translate/worlds.h"

namespace tern::translate {
namespace {

using envoy::config::listener::v3::Listener;
using envoy::config::route::v3::RouteConfiguration;
using envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
using testing::Find;
using testing::Shop;

const envoy::config::route::v3::Route& RouteNamed(const RouteConfiguration& rc, const std::string& name) {
  for (const auto& vh : rc.virtual_hosts()) {
    for (const auto& r : vh.routes()) {
      if (r.name() == name) return r;
    }
  }
  static const envoy::config::route::v3::Route kNone;
  ADD_FAILURE() << "no route " << name;
  return kNone;
}

TEST(TranslatorTest, GatewayHttpListenerFetchesItsRoutesOverAds) {
  const Translation t = Translate(Shop());
  const auto& edge = t.gateways.at("edge");
  const auto* l = Find<Listener>(edge.listeners, "edge-http");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->address().socket_address().address(), "0.0.0.0");
  EXPECT_EQ(l->address().socket_address().port_value(), 8080u);
  const auto& filter = l->filter_chains(0).filters(0);
  EXPECT_EQ(filter.name(), "envoy.filters.network.http_connection_manager");
  HttpConnectionManager hcm;
  ASSERT_TRUE(filter.typed_config().UnpackTo(&hcm));
  EXPECT_EQ(hcm.stat_prefix(), "edge-http");
  EXPECT_EQ(hcm.codec_type(), HttpConnectionManager::AUTO);
  EXPECT_TRUE(hcm.rds().config_source().has_ads());
  EXPECT_EQ(hcm.rds().config_source().resource_api_version(), envoy::config::core::v3::V3);
  EXPECT_EQ(hcm.rds().route_config_name(), "edge-http");
  ASSERT_EQ(hcm.http_filters_size(), 1);
  EXPECT_EQ(hcm.http_filters(0).name(), "envoy.filters.http.router");
  EXPECT_TRUE(hcm.http_filters(0).typed_config().type_url().ends_with("envoy.extensions.filters.http.router.v3.Router"));
}

TEST(TranslatorTest, TcpListenerProxiesToItsClusterAndHasNoRouteConfig) {
  const Translation t = Translate(Shop());
  const auto& edge = t.gateways.at("edge");
  const auto* l = Find<Listener>(edge.listeners, "edge-db");
  ASSERT_NE(l, nullptr);
  const auto& filter = l->filter_chains(0).filters(0);
  EXPECT_EQ(filter.name(), "envoy.filters.network.tcp_proxy");
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy tcp;
  ASSERT_TRUE(filter.typed_config().UnpackTo(&tcp));
  EXPECT_EQ(tcp.cluster(), "db");
  EXPECT_EQ(tcp.stat_prefix(), "edge-db");
  EXPECT_EQ(Find<RouteConfiguration>(edge.routes, "edge-db"), nullptr);
  ASSERT_EQ(edge.routes.size(), 1u);
}

TEST(TranslatorTest, ListenersComeOutSortedByName) {
  const Translation t = Translate(Shop());
  const auto& edge = t.gateways.at("edge");
  ASSERT_EQ(edge.listeners.size(), 2u);
  EXPECT_EQ(edge.listeners[0].name, "edge-db");
  EXPECT_EQ(edge.listeners[1].name, "edge-http");
}

TEST(TranslatorTest, CanarySplitOf90To10BecomesWeightedClusters) {
  const Translation t = Translate(Shop());
  const auto* rc = Find<RouteConfiguration>(t.gateways.at("edge").routes, "edge-http");
  ASSERT_NE(rc, nullptr);
  const auto& action = RouteNamed(*rc, "api").route();
  ASSERT_TRUE(action.has_weighted_clusters());
  const auto& wc = action.weighted_clusters();
  ASSERT_EQ(wc.clusters_size(), 2);
  EXPECT_EQ(wc.clusters(0).name(), "api");
  EXPECT_EQ(wc.clusters(0).weight().value(), 90u);
  EXPECT_EQ(wc.clusters(1).name(), "api-canary");
  EXPECT_EQ(wc.clusters(1).weight().value(), 10u);
  // Deprecated, but gRPC 1.51 checks the weights against it (100 when absent): it is the sum.
  EXPECT_EQ(wc.total_weight().value(), 100u);
}

TEST(TranslatorTest, RetriesTimeoutsAndRewriteReachTheRoute) {
  const Translation t = Translate(Shop());
  const auto* rc = Find<RouteConfiguration>(t.gateways.at("edge").routes, "edge-http");
  const auto& action = RouteNamed(*rc, "api").route();
  EXPECT_EQ(action.timeout().seconds(), 2);
  EXPECT_EQ(action.timeout().nanos(), 500000000);
  EXPECT_EQ(action.prefix_rewrite(), "/");
  const auto& retry = action.retry_policy();
  EXPECT_EQ(retry.retry_on(), "reset,connect-failure,retriable-status-codes") << "Consul's order: RetryOn, then the legacy flags";
  EXPECT_EQ(retry.num_retries().value(), 3u);
  ASSERT_EQ(retry.retriable_status_codes_size(), 1);
  EXPECT_EQ(retry.retriable_status_codes(0), 503u);
  EXPECT_EQ(retry.per_try_timeout().nanos(), 500000000);
}

TEST(TranslatorTest, MatchesOnHeadersQueryAndMethod) {
  const Translation t = Translate(Shop());
  const auto* rc = Find<RouteConfiguration>(t.gateways.at("edge").routes, "edge-http");
  const auto& match = RouteNamed(*rc, "api").match();
  EXPECT_EQ(match.prefix(), "/api/");
  ASSERT_EQ(match.headers_size(), 2);
  EXPECT_EQ(match.headers(0).name(), "x-tenant");
  EXPECT_EQ(match.headers(0).prefix_match(), "acme");
  EXPECT_FALSE(match.headers(0).invert_match());
  EXPECT_EQ(match.headers(1).name(), ":method");
  EXPECT_EQ(match.headers(1).safe_regex_match().regex(), "^(GET|POST)$");
  ASSERT_EQ(match.query_parameters_size(), 1);
  EXPECT_EQ(match.query_parameters(0).name(), "debug");
  EXPECT_TRUE(match.query_parameters(0).present_match());
}

TEST(TranslatorTest, RoutesKeepTheirOrderAndRedirectsBecomeRedirectActions) {
  const Translation t = Translate(Shop());
  const auto* rc = Find<RouteConfiguration>(t.gateways.at("edge").routes, "edge-http");
  ASSERT_EQ(rc->virtual_hosts_size(), 1);
  const auto& vh = rc->virtual_hosts(0);
  EXPECT_EQ(vh.name(), "shop");
  ASSERT_EQ(vh.domains_size(), 2);
  ASSERT_EQ(vh.routes_size(), 3);
  EXPECT_EQ(vh.routes(1).match().path(), "/old");
  const auto& redirect = vh.routes(1).redirect();
  EXPECT_EQ(redirect.response_code(), envoy::config::route::v3::RedirectAction::PERMANENT_REDIRECT);
  EXPECT_EQ(redirect.host_redirect(), "new.example.com");
  EXPECT_EQ(redirect.path_redirect(), "/new");
  EXPECT_TRUE(redirect.https_redirect());
  EXPECT_EQ(vh.routes(2).route().cluster(), "web");
}

TEST(TranslatorTest, GatewayListsTheClustersItUsesAndTheReferences) {
  const Translation t = Translate(Shop());
  const auto& edge = t.gateways.at("edge");
  EXPECT_EQ(edge.clusters, (std::vector<std::string>{"api", "api-canary", "db", "web"}));
  auto has = [&](ResourceType ft, const std::string& f, ResourceType tt, const std::string& to) {
    for (const auto& d : edge.dependencies) {
      if (d.from_type == ft && d.from_name == f && d.to_type == tt && d.to_name == to) return true;
    }
    return false;
  };
  EXPECT_TRUE(has(ResourceType::kListener, "edge-http", ResourceType::kRoute, "edge-http"));
  EXPECT_TRUE(has(ResourceType::kRoute, "edge-http", ResourceType::kCluster, "api-canary"));
  EXPECT_TRUE(has(ResourceType::kListener, "edge-db", ResourceType::kCluster, "db"));
  EXPECT_TRUE(has(ResourceType::kCluster, "web", ResourceType::kEndpoint, "web"));
}

TEST(TranslatorTest, AMissingClusterIsSkippedAndTheRestOfTheSplitKept) {
  model::World w = Shop();
  w.clusters.erase("api-canary");
  const Translation t = Translate(w);
  const auto& edge = t.gateways.at("edge");
  const auto* rc = Find<RouteConfiguration>(edge.routes, "edge-http");
  EXPECT_EQ(RouteNamed(*rc, "api").route().cluster(), "api");
  EXPECT_EQ(edge.clusters, (std::vector<std::string>{"api", "db", "web"}));
}

TEST(TranslatorTest, ARouteWhoseClustersAreAllMissingAnswers503InsteadOfFallingThrough) {
  model::World w = Shop();
  w.clusters.erase("api");
  w.clusters.erase("api-canary");
  const Translation t = Translate(w);
  const auto* rc = Find<RouteConfiguration>(t.gateways.at("edge").routes, "edge-http");
  EXPECT_EQ(RouteNamed(*rc, "api").direct_response().status(), 503u);
}

TEST(TranslatorTest, EveryServiceGetsAnApiListenerForProxylessGrpc) {
  const Translation t = Translate(Shop());
  std::vector<std::string> names;
  for (const auto& l : t.mesh.listeners) names.push_back(l.name);
  EXPECT_EQ(names, (std::vector<std::string>{"api", "api-canary", "db", "web"}));
  EXPECT_EQ(t.mesh.clusters, (std::vector<std::string>{"api", "api-canary", "db", "web"}));

  const auto* l = Find<Listener>(t.mesh.listeners, "web");
  ASSERT_NE(l, nullptr);
  HttpConnectionManager hcm;
  ASSERT_TRUE(l->api_listener().api_listener().UnpackTo(&hcm));
  EXPECT_EQ(hcm.rds().route_config_name(), "svc/web");
  EXPECT_TRUE(hcm.rds().config_source().has_ads());
  EXPECT_EQ(hcm.http_filters(0).name(), "envoy.filters.http.router");

  const auto* rc = Find<RouteConfiguration>(t.mesh.routes, "svc/web");
  ASSERT_NE(rc, nullptr);
  ASSERT_EQ(rc->virtual_hosts_size(), 1);
  EXPECT_EQ(rc->virtual_hosts(0).name(), "web");
  EXPECT_EQ(rc->virtual_hosts(0).domains(0), "*");
  ASSERT_EQ(rc->virtual_hosts(0).routes_size(), 1);
  EXPECT_EQ(rc->virtual_hosts(0).routes(0).match().prefix(), "/");
  EXPECT_EQ(rc->virtual_hosts(0).routes(0).route().cluster(), "web");
}

TEST(TranslatorTest, AServiceWithServiceRoutesGetsThemOnItsApiListener) {
  const Translation t = Translate(Shop());
  const auto* rc = Find<RouteConfiguration>(t.mesh.routes, "svc/api");
  ASSERT_NE(rc, nullptr);
  const auto& routes = rc->virtual_hosts(0).routes();
  ASSERT_EQ(routes.size(), 2);
  EXPECT_EQ(routes[0].match().path(), "/shop.Api/Checkout");
  EXPECT_EQ(routes[0].route().cluster(), "api-canary");
  EXPECT_EQ(routes[1].match().prefix(), "/");
  EXPECT_EQ(routes[1].route().cluster(), "api");
}

TEST(TranslatorTest, ServiceRoutesWithoutAClusterOfTheSameNameStillGetAListener) {
  model::World w = Shop();
  model::ServiceRoutes sr;
  sr.service = "checkout";
  sr.routes = {testing::Forward("/", {{"api", 1}})};
  w.service_routes["checkout"] = sr;
  const Translation t = Translate(w);
  EXPECT_NE(Find<Listener>(t.mesh.listeners, "checkout"), nullptr);
  const auto* rc = Find<RouteConfiguration>(t.mesh.routes, "svc/checkout");
  ASSERT_NE(rc, nullptr);
  EXPECT_EQ(rc->virtual_hosts(0).routes(0).route().cluster(), "api");
}

std::string Deterministic(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

std::vector<std::string> AllBytes(const Translation& t) {
  std::vector<std::string> out;
  for (const auto& [name, m] : t.clusters) out.push_back(name + "=" + Deterministic(*m));
  for (const auto& [name, m] : t.endpoints) out.push_back(name + "=" + Deterministic(*m));
  auto add = [&](const GatewayResources& g) {
    for (const auto& nm : g.listeners) out.push_back(nm.name + "=" + Deterministic(*nm.message));
    for (const auto& nm : g.routes) out.push_back(nm.name + "=" + Deterministic(*nm.message));
    for (const auto& c : g.clusters) out.push_back(c);
  };
  for (const auto& [name, g] : t.gateways) add(g);
  add(t.mesh);
  return out;
}

TEST(TranslatorTest, TranslatingTwiceGivesByteIdenticalResources) {
  EXPECT_EQ(AllBytes(Translate(Shop())), AllBytes(Translate(Shop())));
}

TEST(TranslatorTest, InputOrderOfEndpointsAndListenersDoesNotChangeTheOutput) {
  model::World a = Shop();
  model::World b = Shop();
  std::reverse(b.clusters["web"].endpoints.begin(), b.clusters["web"].endpoints.end());
  std::reverse(b.gateways["edge"].listeners.begin(), b.gateways["edge"].listeners.end());
  EXPECT_EQ(AllBytes(Translate(a)), AllBytes(Translate(b)));
}

TEST(TranslatorTest, AnEmptyWorldTranslatesToNothing) {
  const Translation t = Translate(model::World{});
  EXPECT_TRUE(t.clusters.empty());
  EXPECT_TRUE(t.gateways.empty());
  EXPECT_TRUE(t.mesh.listeners.empty());
}


TEST(TranslatorOddInputTest, ADomainClaimedTwiceGoesToTheFirstHostOnly) {
  model::World w = testing::Shop();
  auto& vhs = w.gateways["edge"].listeners[1].virtual_hosts;
  model::VirtualHost dup;
  dup.domains = {"shop.example.com"};  // already claimed by "shop"; Envoy would NACK the table
  dup.routes = {testing::Forward("/", {{"web", 1}})};
  model::VirtualHost extra;
  extra.domains = {"admin.example.com", "shop.example.com"};
  vhs.push_back(dup);
  vhs.push_back(extra);
  const Translation t = Translate(w);
  const auto* rc = testing::Find<envoy::config::route::v3::RouteConfiguration>(t.gateways.at("edge").routes, "edge-http");
  ASSERT_EQ(rc->virtual_hosts_size(), 2);
  EXPECT_EQ(rc->virtual_hosts(1).name(), "admin.example.com");
  ASSERT_EQ(rc->virtual_hosts(1).domains_size(), 1);
  EXPECT_EQ(rc->virtual_hosts(1).domains(0), "admin.example.com");
}

// On demand (VHDS): the route configuration names VHDS and holds no host; each host is a
// message of its own named "<route configuration>/<host name>" with the domains it keeps (first
// claim wins, as inline), unique names (an unnamed host named after a taken domain gets "#2"),
// and references to the clusters it routes to; the listener gets the on-demand filter. The
// proxyless pieces of the same world stay inline.
TEST(TranslatorOnDemandTest, EachVirtualHostIsAResourceOfItsOwn) {
  model::World w = testing::Shop();
  w.gateways["edge"].vhds = model::VhdsMode::kOnDemand;
  auto& vhs = w.gateways["edge"].listeners[1].virtual_hosts;
  model::VirtualHost dup;
  dup.domains = {"shop.example.com"};  // claimed by "shop": dropped
  model::VirtualHost unnamed;
  unnamed.domains = {"shop", "www.shop.example.com", "new.example.com"};  // named "shop" like the first
  unnamed.routes = {testing::Forward("/", {{"db", 1}})};
  vhs.push_back(dup);
  vhs.push_back(unnamed);
  const Translation t = Translate(w);
  const auto& edge = t.gateways.at("edge");
  const auto* rc = testing::Find<RouteConfiguration>(edge.routes, "edge-http");
  ASSERT_NE(rc, nullptr);
  EXPECT_EQ(rc->virtual_hosts_size(), 0);
  EXPECT_EQ(rc->vhds().config_source().api_config_source().grpc_services(0).envoy_grpc().cluster_name(), "tern_xds");
  ASSERT_EQ(edge.virtual_hosts.size(), 2u);
  EXPECT_EQ(edge.virtual_hosts[0].name, "edge-http/shop");
  EXPECT_EQ(edge.virtual_hosts[0].domains, (std::vector<std::string>{"shop.example.com", "www.shop.example.com"}));
  EXPECT_EQ(edge.virtual_hosts[1].name, "edge-http/shop#2");
  EXPECT_EQ(edge.virtual_hosts[1].domains, (std::vector<std::string>{"shop", "new.example.com"}));
  envoy::config::route::v3::VirtualHost second;
  second.CopyFrom(*edge.virtual_hosts[1].message);
  EXPECT_EQ(second.name(), "edge-http/shop#2") << "named like its resource: Envoy keys on-demand hosts by name";
  auto has = [&](ResourceType ft, const std::string& f, ResourceType tt, const std::string& to) {
    for (const auto& d : edge.dependencies) {
      if (d.from_type == ft && d.from_name == f && d.to_type == tt && d.to_name == to) return true;
    }
    return false;
  };
  EXPECT_TRUE(has(ResourceType::kVirtualHost, "edge-http/shop", ResourceType::kCluster, "api-canary"));
  EXPECT_TRUE(has(ResourceType::kVirtualHost, "edge-http/shop#2", ResourceType::kCluster, "db"));
  EXPECT_FALSE(has(ResourceType::kRoute, "edge-http", ResourceType::kCluster, "api-canary"));
  EXPECT_TRUE(has(ResourceType::kListener, "edge-http", ResourceType::kRoute, "edge-http"));
  EXPECT_EQ(edge.clusters, (std::vector<std::string>{"api", "api-canary", "db", "web"}));
  const auto* l = Find<Listener>(edge.listeners, "edge-http");
  ASSERT_NE(l, nullptr);
  HttpConnectionManager hcm;
  ASSERT_TRUE(l->filter_chains(0).filters(0).typed_config().UnpackTo(&hcm));
  ASSERT_GE(hcm.http_filters_size(), 2);
  EXPECT_EQ(hcm.http_filters(hcm.http_filters_size() - 2).name(), "envoy.filters.http.on_demand");
  EXPECT_EQ(hcm.http_filters(hcm.http_filters_size() - 1).name(), "envoy.filters.http.router");
  EXPECT_TRUE(t.mesh.virtual_hosts.empty());
  const auto* api = testing::Find<RouteConfiguration>(t.mesh.routes, "svc/api");
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->virtual_hosts_size(), 1);
  EXPECT_FALSE(api->has_vhds());
}

TEST(TranslatorOddInputTest, DanglingReferencesAndEmptyThingsDoNotCrash) {
  model::World w;
  model::Listener tcp;
  tcp.name = "tcp";
  tcp.protocol = model::Protocol::kTcp;
  tcp.tcp_cluster = "nowhere";
  model::Listener http;
  http.name = "http";
  model::VirtualHost vh;
  vh.domains = {"*"};
  model::Route r;  // no clusters, no redirect
  vh.routes = {r, testing::Forward("/", {{"ghost", 0}, {"phantom", 0}})};
  http.virtual_hosts = {vh, model::VirtualHost{}};
  w.gateways["g"] = model::Gateway{.name = "g", .listeners = {tcp, http}, .origin = ""};
  model::ServiceRoutes sr;
  sr.service = "lonely";
  w.service_routes["lonely"] = sr;
  w.clusters["empty"] = testing::MakeCluster("empty");

  const Translation t = Translate(w);
  const auto& g = t.gateways.at("g");
  EXPECT_TRUE(g.clusters.empty());
  for (const auto& d : g.dependencies) EXPECT_NE(d.to_type, ResourceType::kCluster) << d.to_name;
  const auto* rc = testing::Find<envoy::config::route::v3::RouteConfiguration>(g.routes, "http");
  ASSERT_EQ(rc->virtual_hosts_size(), 1);
  EXPECT_EQ(rc->virtual_hosts(0).routes(0).direct_response().status(), 503u);
  EXPECT_EQ(rc->virtual_hosts(0).routes(1).direct_response().status(), 503u);
  EXPECT_EQ(t.endpoints.at("empty")->GetDescriptor()->name(), "ClusterLoadAssignment");
  EXPECT_NE(testing::Find<envoy::config::route::v3::RouteConfiguration>(t.mesh.routes, "svc/lonely"), nullptr);
}


TEST(TranslatorSplitTest, ABlueGreenSplitAt100To0SendsAllToBlueButKeepsGreenWarm) {
  model::World w = testing::Shop();
  auto& route = w.gateways["edge"].listeners[1].virtual_hosts[0].routes[0];
  route.action.clusters = {{"api", 100}, {"api-canary", 0}};
  const Translation t = Translate(w);
  const auto& edge = t.gateways.at("edge");
  const auto* rc = testing::Find<envoy::config::route::v3::RouteConfiguration>(edge.routes, "edge-http");
  EXPECT_EQ(rc->virtual_hosts(0).routes(0).route().cluster(), "api");
  EXPECT_EQ(edge.clusters, (std::vector<std::string>{"api", "api-canary", "db", "web"}));
}

TEST(TranslatorSplitTest, WeightsSummingPastUint32AreScaledDown) {
  model::World w = testing::Shop();
  auto& route = w.gateways["edge"].listeners[1].virtual_hosts[0].routes[0];
  route.action.clusters = {{"api", 0xFFFFFFFFu}, {"api-canary", 0xFFFFFFFFu}};
  const Translation t = Translate(w);
  const auto* rc = testing::Find<envoy::config::route::v3::RouteConfiguration>(t.gateways.at("edge").routes, "edge-http");
  const auto& wc = rc->virtual_hosts(0).routes(0).route().weighted_clusters();
  ASSERT_EQ(wc.clusters_size(), 2);
  EXPECT_EQ(wc.clusters(0).weight().value(), wc.clusters(1).weight().value());
  EXPECT_LE(uint64_t{wc.clusters(0).weight().value()} + wc.clusters(1).weight().value(), 0xFFFFFFFFull);
}


TEST(TranslatorMatchTest, MethodNamesAreMatchedLiterally) {
  model::World w = testing::Shop();
  w.gateways["edge"].listeners[1].virtual_hosts[0].routes[0].match.methods = {"GET", "M.X"};
  const Translation t = Translate(w);
  const auto* rc = testing::Find<envoy::config::route::v3::RouteConfiguration>(t.gateways.at("edge").routes, "edge-http");
  EXPECT_EQ(rc->virtual_hosts(0).routes(0).match().headers(1).safe_regex_match().regex(), "^(GET|M\\.X)$");
}

}  // namespace
}  // namespace tern::translate
