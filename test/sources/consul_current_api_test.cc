// Every Consul answer tern reads, as current Consul (1.15 – 1.20) gives it: the fixtures in
// test/fixtures/consul-current/ are shaped after the HTTP API documentation (see the README
// there), with the documented discovery-chain compilations (router, splitter, redirect,
// failover). Each test checks what tern makes of the answer (decoded values, and where it matters
// the model world from BuildWorld), including the compatibility rules of docs/consul.md
// ("Consul versions"): unknown fields ignored, null read as empty, config entries typed loosely as
// Consul's Go client accepts them, namespaces and partitions carried through, peered targets and
// split header rewrites refused by name.
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sources/consul/connect_ca.h"
#include "sources/consul/decoders.h"
#include "sources/consul/mapper.h"
#include "sources/consul/proxy_defaults.h"

namespace tern::sources::consul {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
using namespace std::chrono_literals;

std::string Fixture(const std::string& name) {
  const std::string path = std::string(TERN_SOURCE_DIR) + "/test/fixtures/consul-current/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Problems(const std::vector<model::Problem>& problems) {
  std::string out;
  for (const auto& p : problems) out += p.ToString() + "\n";
  return out;
}

DiscoveryChain Chain(const std::string& fixture, const std::string& service = "web") {
  auto chain = DecodeDiscoveryChain(Fixture(fixture), "/v1/discovery-chain/" + service);
  EXPECT_TRUE(chain.ok()) << chain.status();
  return chain.ok() ? *chain : DiscoveryChain{};
}

// One passing instance of `service` at `address`:8080.
std::vector<Instance> OneInstance(const std::string& id, const std::string& address, const std::string& service = "web") {
  return {{.id = id, .service = service, .node = "n-" + id, .address = address, .port = 8080}};
}

std::vector<std::string> ClusterNames(const std::vector<model::WeightedCluster>& wcs) {
  std::vector<std::string> out;
  for (const auto& wc : wcs) out.push_back(wc.cluster + "=" + std::to_string(wc.weight));
  return out;
}

TEST(ConsulCurrentApi, CatalogServicesWithNullTags) {
  auto services = DecodeCatalogServices(Fixture("catalog_services.json"), "/v1/catalog/services");
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, ElementsAre(Pair("admin", ElementsAre("internal")), Pair("billing", IsEmpty()),
                                     Pair("consul", IsEmpty()), Pair("edge", IsEmpty()),
                                     Pair("web", ElementsAre("v1", "primary"))));
}

TEST(ConsulCurrentApi, HealthServiceInstancesBecomeEndpoints) {
  auto inst = DecodeHealthService(Fixture("health_service_web.json"), "/v1/health/service/web");
  ASSERT_TRUE(inst.ok()) << inst.status();
  ASSERT_EQ(inst->size(), 4u);
  const Instance& web1 = (*inst)[0];
  EXPECT_EQ(web1.id, "web-1");
  EXPECT_EQ(web1.node, "ip-10-0-1-11");
  EXPECT_EQ(web1.address, "10.0.1.21");
  EXPECT_EQ(web1.weight_passing, 10u);
  EXPECT_THAT(web1.tags, ElementsAre("v1", "primary"));
  EXPECT_THAT(web1.meta, ElementsAre(Pair("version", "1")));
  // web-2: empty Service.Address (its node's is used), Tags and Meta null, its check in warning.
  const Instance& web2 = (*inst)[1];
  EXPECT_EQ(web2.address, "10.0.1.12");
  EXPECT_TRUE(web2.tags.empty());
  EXPECT_TRUE(web2.meta.empty());
  EXPECT_EQ(web2.health, model::Health::kWarning);
  // web-3: its node's serfHealth is critical.
  EXPECT_EQ((*inst)[2].health, model::Health::kCritical);
  // web-4: Checks null means no failing check.
  EXPECT_EQ((*inst)[3].health, model::Health::kPassing);

  std::vector<std::string> eps;
  for (const auto& i : *inst) {
    if (auto ep = ToEndpoint(i)) eps.push_back(ep->id + "@" + ep->address + ":" + std::to_string(ep->port) + " w" +
                                               std::to_string(ep->weight));
  }
  EXPECT_THAT(eps, ElementsAre("web-1@10.0.1.21:8080 w10", "web-2@10.0.1.12:8080 w1", "web-4@10.0.1.24:8080 w1"));
}

TEST(ConsulCurrentApi, HealthStateFingerprintsFollowOneCheck) {
  const std::string text = Fixture("health_state_any.json");
  auto state = DecodeHealthState(text, "/v1/health/state/any");
  ASSERT_TRUE(state.ok()) << state.status();
  std::vector<std::string> services, nodes;
  for (const auto& [s, fp] : state->services) services.push_back(s);
  for (const auto& [n, fp] : state->nodes) nodes.push_back(n);
  EXPECT_THAT(services, ElementsAre("admin", "web"));
  EXPECT_THAT(nodes, ElementsAre("ip-10-0-1-11", "ip-10-0-1-12", "ip-10-0-1-13"));

  // web-2's check turns critical: web's fingerprint changes, admin's and the nodes' do not.
  nlohmann::json j = nlohmann::json::parse(text);
  j[3]["Status"] = "critical";
  auto after = DecodeHealthState(j.dump(), "/v1/health/state/any");
  ASSERT_TRUE(after.ok());
  EXPECT_NE(after->services.at("web"), state->services.at("web"));
  EXPECT_EQ(after->services.at("admin"), state->services.at("admin"));
  EXPECT_EQ(after->nodes, state->nodes);
}

// The discovery-chain API's "Multi-Datacenter Failover" compilation: web's instances in dc1, then
// dc3, then dc4, in one cluster at priorities 0, 1, 2.
TEST(ConsulCurrentApi, ChainFailoverBecomesPrioritiesOfOneCluster) {
  DiscoveryChain chain = Chain("chain_failover.json");
  EXPECT_EQ(chain.ns, "default");
  EXPECT_EQ(chain.partition, "default");
  const ChainNode& resolver = chain.nodes.at(chain.start_node);
  EXPECT_EQ(resolver.connect_timeout, 15s);
  EXPECT_THAT(resolver.failover_targets, ElementsAre("web.default.default.dc3", "web.default.default.dc4"));
  EXPECT_FALSE(PlainChain(chain));
  EXPECT_THAT(HealthPaths(chain), ElementsAre("/v1/health/service/web", "/v1/health/service/web?dc=dc3",
                                              "/v1/health/service/web?dc=dc4"));

  ConsulView view;
  view.services = {{"web", {}}};
  view.chains["web"] = chain;
  view.health["/v1/health/service/web"] = OneInstance("a", "10.0.1.1");
  view.health["/v1/health/service/web?dc=dc3"] = OneInstance("b", "10.3.1.1");
  view.health["/v1/health/service/web?dc=dc4"] = OneInstance("c", "10.4.1.1");
  std::vector<model::Problem> problems;
  model::World w = BuildWorld(view, &problems);
  EXPECT_TRUE(problems.empty()) << Problems(problems);
  const model::Cluster& c = w.clusters.at("web.default.default.dc1");
  EXPECT_EQ(c.connect_timeout, 15s);
  std::vector<std::string> eps;
  for (const auto& ep : c.endpoints) eps.push_back(ep.address + " p" + std::to_string(ep.priority));
  EXPECT_THAT(eps, ElementsAre("10.0.1.1 p0", "10.3.1.1 p1", "10.4.1.1 p2"));
  ASSERT_EQ(w.service_routes.at("web").routes.size(), 1u);
  EXPECT_THAT(ClusterNames(w.service_routes.at("web").routes[0].action.clusters), ElementsAre("web.default.default.dc1=1"));
}

// The "Datacenter Redirect" compilation: every request for web goes to web in dc2.
TEST(ConsulCurrentApi, ChainRedirectToAnotherDatacenter) {
  DiscoveryChain chain = Chain("chain_redirect.json");
  EXPECT_THAT(HealthPaths(chain), ElementsAre("/v1/health/service/web?dc=dc2"));
  EXPECT_FALSE(PlainChain(chain));
  ConsulView view;
  view.services = {{"web", {}}};
  view.chains["web"] = chain;
  view.health["/v1/health/service/web"] = OneInstance("local", "10.0.1.1");
  view.health["/v1/health/service/web?dc=dc2"] = OneInstance("remote", "10.2.1.1");
  std::vector<model::Problem> problems;
  model::World w = BuildWorld(view, &problems);
  const model::Cluster& c = w.clusters.at("web.default.default.dc2");
  EXPECT_EQ(c.connect_timeout, 7s);
  EXPECT_EQ(c.protocol, model::Protocol::kHttp);
  ASSERT_EQ(c.endpoints.size(), 1u);
  EXPECT_EQ(c.endpoints[0].address, "10.2.1.1");
  EXPECT_THAT(ClusterNames(w.service_routes.at("web").routes[0].action.clusters), ElementsAre("web.default.default.dc2=1"));
}

// Consul Enterprise: db redirected to namespace "data" in partition "team-a". The target's
// instances are read there, never from the chain's namespace under the same service name.
TEST(ConsulCurrentApi, ChainTargetInAnotherNamespaceAndPartitionIsReadThere) {
  DiscoveryChain chain = Chain("chain_redirect_namespace.json", "db");
  const ChainTarget& t = chain.targets.at("db.data.team-a.dc1");
  EXPECT_EQ(t.ns, "data");
  EXPECT_EQ(t.partition, "team-a");
  EXPECT_FALSE(PlainChain(chain)) << "a redirect to another namespace is routing of its own";
  EXPECT_THAT(HealthPaths(chain), ElementsAre("/v1/health/service/db?ns=data&partition=team-a"));

  ConsulView view;
  view.services = {{"db", {}}};
  view.chains["db"] = chain;
  view.health[ServiceHealthPath("db")] = OneInstance("default-ns", "10.0.7.1", "db");
  std::vector<model::Problem> problems;
  model::World w = BuildWorld(view, &problems);
  EXPECT_TRUE(w.clusters.at("db.data.team-a.dc1").endpoints.empty())
      << "the default namespace's db is not the target";
  view.health["/v1/health/service/db?ns=data&partition=team-a"] = OneInstance("data-ns", "10.0.8.1", "db");
  w = BuildWorld(view, &problems);
  ASSERT_EQ(w.clusters.at("db.data.team-a.dc1").endpoints.size(), 1u);
  EXPECT_EQ(w.clusters.at("db.data.team-a.dc1").endpoints[0].address, "10.0.8.1");

  // Targets in the chain's own namespace and partition need no query parameter, whether the
  // answer spells them "default" or leaves them out (Consul OSS).
  ChainTarget same = t;
  EXPECT_EQ(HealthPath(same, "dc1", "data", "team-a"), "/v1/health/service/db");
  same.ns = same.partition = "";
  EXPECT_EQ(HealthPath(same, "dc1", "default", ""), "/v1/health/service/db");
}

// The service-splitter example: 90 % to subset v1, 10 % to v2, each subset its own cluster.
TEST(ConsulCurrentApi, ChainSplitterBecomesWeightedClusters) {
  DiscoveryChain chain = Chain("chain_splitter.json");
  EXPECT_THAT(HealthPaths(chain),
              ElementsAre("/v1/health/service/web?filter=Service.Meta.version%20%3D%3D%201",
                          "/v1/health/service/web?filter=Service.Meta.version%20%3D%3D%202"));
  ConsulView view;
  view.services = {{"web", {}}};
  view.chains["web"] = chain;
  std::vector<model::Problem> problems;
  model::World w = BuildWorld(view, &problems);
  EXPECT_TRUE(w.clusters.count("v1.web.default.default.dc1"));
  EXPECT_TRUE(w.clusters.count("v2.web.default.default.dc1"));
  ASSERT_EQ(w.service_routes.at("web").routes.size(), 1u);
  EXPECT_THAT(ClusterNames(w.service_routes.at("web").routes[0].action.clusters),
              ElementsAre("v1.web.default.default.dc1=90", "v2.web.default.default.dc1=10"));
}

// Header rewrites on one split (Consul 1.9+) cannot be carried by tern's weighted clusters: the
// chain is refused by name rather than served without them.
TEST(ConsulCurrentApi, ChainSplitWithHeaderRewritesIsRefusedByName) {
  auto chain = DecodeDiscoveryChain(Fixture("chain_splitter_headers.json"), "/v1/discovery-chain/web");
  ASSERT_FALSE(chain.ok());
  EXPECT_THAT(std::string(chain.status().message()),
              HasSubstr("/v1/discovery-chain/web: Chain.Nodes.splitter:web.default.default.Splits[1].Definition."
                        "RequestHeaders: header rewrites on a split are not supported by tern"));
}

// The service-router examples: a path prefix to another service with every destination option,
// a header match to a subset, and the default route.
TEST(ConsulCurrentApi, ChainRouterBecomesRoutes) {
  DiscoveryChain chain = Chain("chain_router.json");
  std::vector<model::Route> routes = ChainRoutes(chain);
  ASSERT_EQ(routes.size(), 3u);

  const model::Route& admin = routes[0];
  EXPECT_EQ(admin.match.path_kind, model::RouteMatch::PathKind::kPrefix);
  EXPECT_EQ(admin.match.path, "/admin");
  EXPECT_THAT(admin.match.methods, ElementsAre("GET", "POST"));
  EXPECT_THAT(ClusterNames(admin.action.clusters), ElementsAre("admin.default.default.dc1=1"));
  EXPECT_EQ(admin.action.prefix_rewrite, "/");
  EXPECT_EQ(admin.action.timeout, 4s);
  EXPECT_EQ(admin.action.idle_timeout, 30s);
  ASSERT_TRUE(admin.action.retry.has_value());
  EXPECT_EQ(admin.action.retry->num_retries, 2u);
  EXPECT_TRUE(admin.action.retry->on_connect_failure);
  EXPECT_THAT(admin.action.retry->on_status_codes, ElementsAre(503u));
  EXPECT_THAT(admin.action.retry->retry_on, ElementsAre("reset", "gateway-error"));
  EXPECT_THAT(admin.action.request_headers.add, ElementsAre(Pair("x-routed-by", "router")));
  EXPECT_THAT(admin.action.request_headers.remove, ElementsAre("x-internal"));
  EXPECT_THAT(admin.action.response_headers.set, ElementsAre(Pair("cache-control", "no-store")));

  const model::Route& debug = routes[1];
  ASSERT_EQ(debug.match.headers.size(), 1u);
  EXPECT_EQ(debug.match.headers[0].name, "x-debug");
  EXPECT_EQ(debug.match.headers[0].match.kind, model::StringMatch::Kind::kExact);
  EXPECT_EQ(debug.match.headers[0].match.value, "1");
  EXPECT_THAT(ClusterNames(debug.action.clusters), ElementsAre("canary.web.default.default.dc1=1"));
  EXPECT_FALSE(debug.action.timeout.has_value()) << "RequestTimeout \"0s\" is unset, as in Consul";
  EXPECT_FALSE(debug.action.retry.has_value());

  EXPECT_EQ(routes[2].match.path, "/");
  EXPECT_THAT(ClusterNames(routes[2].action.clusters), ElementsAre("web.default.default.dc1=1"));

  ConsulView view;
  view.services = {{"web", {}}, {"admin", {}}};
  view.chains["web"] = chain;
  std::vector<model::Problem> problems;
  model::World w = BuildWorld(view, &problems);
  EXPECT_EQ(w.clusters.at("web.default.default.dc1").lb_policy, model::LbPolicy::kLeastRequest);
  EXPECT_EQ(w.service_routes.at("web").routes, routes);
}

// service-resolver RequestTimeout (Consul 1.16+): the timeout of requests to that resolver's
// target, unless the service-router route sets its own.
TEST(ConsulCurrentApi, ResolverRequestTimeoutAppliesWhereTheRouteSetsNone) {
  nlohmann::json failover = nlohmann::json::parse(Fixture("chain_failover.json"));
  failover["Chain"]["Nodes"]["resolver:web.default.default.dc1"]["Resolver"]["RequestTimeout"] = "20s";
  auto plain = DecodeDiscoveryChain(failover.dump(), "/v1/discovery-chain/web");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(ChainRoutes(*plain).at(0).action.timeout, 20s);

  nlohmann::json router = nlohmann::json::parse(Fixture("chain_router.json"));
  for (const char* node : {"resolver:admin.default.default.dc1", "resolver:canary.web.default.default.dc1"})
    router["Chain"]["Nodes"][node]["Resolver"]["RequestTimeout"] = 9000000000;  // nanoseconds, as Go encodes it
  auto chain = DecodeDiscoveryChain(router.dump(), "/v1/discovery-chain/web");
  ASSERT_TRUE(chain.ok()) << chain.status();
  std::vector<model::Route> routes = ChainRoutes(*chain);
  EXPECT_EQ(routes.at(0).action.timeout, 4s) << "the route's own RequestTimeout wins";
  EXPECT_EQ(routes.at(1).action.timeout, 9s);
  EXPECT_FALSE(routes.at(2).action.timeout.has_value()) << "RequestTimeout \"0s\" is unset";
}

// Match.HTTP.CaseInsensitive (Consul 1.15+): tern matches paths case-sensitively, so such a route
// is refused by name, in the compiled chain and in the service-router entry.
TEST(ConsulCurrentApi, ACaseInsensitivePathMatchIsRefusedByName) {
  nlohmann::json chain = nlohmann::json::parse(Fixture("chain_router.json"));
  chain["Chain"]["Nodes"]["router:web.default.default"]["Routes"][0]["Definition"]["Match"]["HTTP"]["CaseInsensitive"] =
      true;
  auto decoded = DecodeDiscoveryChain(chain.dump(), "/v1/discovery-chain/web");
  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(std::string(decoded.status().message()),
              HasSubstr("/v1/discovery-chain/web: Chain.Nodes.router:web.default.default.Routes[0].Definition.Match.HTTP."
                        "CaseInsensitive: case-insensitive path matches are not supported by tern"));

  nlohmann::json entries = nlohmann::json::parse(Fixture("config_service_router.json"));
  entries[0]["Routes"][0]["Match"]["HTTP"]["CaseInsensitive"] = true;
  std::vector<model::Problem> problems;
  auto names = DecodeChainEntries("service-router", entries.dump(), "/v1/config/service-router", &problems);
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].ToString(), "service-router/web: Routes[0]: Match.HTTP.CaseInsensitive: case-insensitive path "
                                    "matches are not supported by tern");
}

TEST(ConsulCurrentApi, ChainFailoverToAPeerIsRefusedByName) {
  auto chain = DecodeDiscoveryChain(Fixture("chain_peer_failover.json"), "/v1/discovery-chain/web");
  ASSERT_FALSE(chain.ok());
  EXPECT_THAT(std::string(chain.status().message()),
              HasSubstr("Chain.Targets.web.default.default.external.cluster-02.Peer: target "
                        "'web.default.default.external.cluster-02' is in peer 'cluster-02': peered targets are not "
                        "supported by tern"));
}

// A plain chain (one resolver to the service itself) for a service a gateway exposes.
DiscoveryChain PlainChainFor(const std::string& service, const std::string& protocol) {
  const std::string target = service + ".default.default.dc1";
  DiscoveryChain c{.service = service, .datacenter = "dc1", .ns = "default", .partition = "default",
                   .protocol = protocol, .start_node = "resolver:" + target};
  c.nodes[c.start_node] = {.type = "resolver", .name = target, .target = target};
  c.targets[target] = {.id = target, .service = service, .datacenter = "dc1", .ns = "default", .partition = "default"};
  return c;
}

TEST(ConsulCurrentApi, IngressGatewayWithTlsFromTheConnectCa) {
  std::vector<model::Problem> problems;
  auto gws = DecodeIngressGateways(Fixture("config_ingress_gateway.json"), "/v1/config/ingress-gateway", &problems);
  ASSERT_TRUE(gws.ok()) << gws.status();
  ASSERT_TRUE(problems.empty()) << Problems(problems);
  ASSERT_EQ(gws->size(), 1u);
  const IngressGateway& gw = (*gws)[0];
  EXPECT_EQ(gw.name, "edge");
  EXPECT_TRUE(gw.tls_enabled);
  ASSERT_EQ(gw.listeners.size(), 2u);
  EXPECT_EQ(gw.listeners[0].port, 8443u);
  ASSERT_EQ(gw.listeners[0].services.size(), 2u);
  EXPECT_THAT(gw.listeners[0].services[0].hosts, ElementsAre("web.example.com", "www.example.com"));
  EXPECT_THAT(gw.listeners[0].services[0].request_headers.add, ElementsAre(Pair("x-gateway", "edge")));
  EXPECT_THAT(gw.listeners[0].services[0].response_headers.remove, ElementsAre("server"));
  EXPECT_TRUE(gw.listeners[0].services[1].hosts.empty()) << "Hosts null";
  EXPECT_EQ(gw.listeners[1].protocol, "tcp");
  ASSERT_TRUE(gw.rate_limits.ports.count(8443));
  EXPECT_EQ(gw.rate_limits.ports.at(8443).tokens_per_fill, 200u);
  EXPECT_EQ(gw.rate_limits.ports.at(8443).max_tokens, 400u);

  ConsulView view;
  view.ingress = *gws;
  for (const auto& [s, p] : {std::pair{"web", "http"}, {"admin", "http"}, {"billing", "tcp"}}) {
    view.services[s];
    view.chains[s] = PlainChainFor(s, p);
  }
  auto leaf = DecodeConnectLeaf(Fixture("connect_ca_leaf.json"), ConnectLeafPath("edge"));
  auto roots = DecodeConnectRoots(Fixture("connect_ca_roots.json"), kConnectRootsPath);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  ASSERT_TRUE(roots.ok()) << roots.status();
  view.leaves["edge"] = *leaf;
  view.roots = *roots;
  model::World w = BuildWorld(view, &problems);
  EXPECT_TRUE(problems.empty()) << Problems(problems);
  const model::Gateway& g = w.gateways.at("edge");
  ASSERT_EQ(g.listeners.size(), 2u);
  for (const auto& l : g.listeners) {
    ASSERT_TRUE(l.tls.has_value()) << l.name;
    EXPECT_EQ(l.tls->certs.at(0).secret, "connect-leaf/edge");
    EXPECT_EQ(l.tls->client_ca_secret, "connect-roots");
  }
  EXPECT_EQ(w.secrets.at("connect-leaf/edge").cert_chain_pem.rfind("-----BEGIN CERTIFICATE-----", 0), 0u);
  EXPECT_EQ(w.secrets.at("connect-roots").trusted_ca_pem, roots->TrustedCaPem());
  EXPECT_TRUE(model::Validate(w).empty());
}

// The same entry typed loosely: Consul's Go client (api.DecodeConfigEntry, mapstructure weakly
// typed) reads it as the strict one, and so does tern.
TEST(ConsulCurrentApi, IngressGatewayTypedLooselyReadsAsConsulsGoClientReadsIt) {
  std::vector<model::Problem> problems;
  auto gws = DecodeIngressGateways(Fixture("config_ingress_gateway_loose.json"), "/v1/config/ingress-gateway",
                                   &problems);
  ASSERT_TRUE(gws.ok()) << gws.status();
  ASSERT_TRUE(problems.empty()) << Problems(problems);
  ASSERT_EQ(gws->size(), 1u);
  const IngressGateway& gw = (*gws)[0];
  EXPECT_TRUE(gw.tls_enabled) << "\"true\"";
  ASSERT_EQ(gw.listeners.size(), 2u);
  EXPECT_EQ(gw.listeners[0].port, 8443u) << "\"8443\"";
  EXPECT_THAT(gw.listeners[0].services[0].hosts, ElementsAre("web.example.com")) << "one value for a list";
  EXPECT_THAT(gw.listeners[0].services[0].request_headers.add, ElementsAre(Pair("x-shard", "7"))) << "7";
  EXPECT_TRUE(gw.listeners[0].services[0].request_headers.set.empty()) << "[] for a map";
  EXPECT_EQ(gw.listeners[1].port, 9000u) << "9000.0";
  ASSERT_TRUE(gw.rate_limits.gateway.has_value()) << "50 for a Meta string";
  EXPECT_EQ(gw.rate_limits.gateway->tokens_per_fill, 50u);

  // What Go would also refuse, or would silently truncate, is a problem naming the entry and
  // field; the other entries still decode.
  for (const auto& [port, want] : std::vector<std::pair<std::string, std::string>>{
           {R"("80x")", "Listeners[0].Port: expected a non-negative integer (a number, or a string holding one)"},
           {R"(" 80")", "Listeners[0].Port: expected a non-negative integer (a number, or a string holding one)"},
           {"8443.5", "Listeners[0].Port: expected a non-negative integer"},
           {"-1", "Listeners[0].Port: expected a non-negative integer"},
           {R"("0x20FB")", ""},  // 8443, as Go's strconv.ParseUint(s, 0, ...) reads it
       }) {
    problems.clear();
    auto out = DecodeIngressGateways(R"([{"Kind":"ingress-gateway","Name":"bad","Listeners":[{"Port":)" + port +
                                         R"(,"Protocol":"tcp","Services":[{"Name":"db"}]}]},
                                        {"Kind":"ingress-gateway","Name":"good"}])",
                                     "/v1/config/ingress-gateway", &problems);
    ASSERT_TRUE(out.ok());
    if (want.empty()) {
      EXPECT_TRUE(problems.empty()) << port << ": " << Problems(problems);
      ASSERT_EQ(out->size(), 2u);
      EXPECT_EQ((*out)[0].listeners.at(0).port, 8443u);
      continue;
    }
    ASSERT_EQ(problems.size(), 1u) << port;
    EXPECT_EQ(problems[0].origin, "ingress-gateway/bad");
    EXPECT_THAT(problems[0].message, HasSubstr(want)) << port;
    ASSERT_EQ(out->size(), 1u);
    EXPECT_EQ((*out)[0].name, "good");
  }

  // Health answers are decoded strictly, as Go's encoding/json decodes them in Consul's client.
  auto strict = DecodeHealthService(R"([{"Node":{"Address":"10.0.0.1"},"Service":{"ID":"a","Port":"8080"}}])",
                                    "/v1/health/service/web");
  ASSERT_FALSE(strict.ok());
  EXPECT_THAT(std::string(strict.status().message()), HasSubstr("[0].Service.Port: expected a non-negative integer"));
}

// Consul Enterprise: an ingress-gateway may expose a service of another namespace or partition;
// tern follows one namespace and partition, so that entry is a problem naming the field.
TEST(ConsulCurrentApi, IngressServiceOfAnotherNamespaceOrPartitionIsRefusedByName) {
  nlohmann::json entries = nlohmann::json::parse(Fixture("config_ingress_gateway.json"));
  entries.push_back(entries[0]);
  entries.push_back(entries[0]);
  entries[1]["Name"] = "edge-ns";
  entries[1]["Listeners"][0]["Services"][1]["Namespace"] = "data";
  entries[2]["Name"] = "edge-partition";
  entries[2]["Listeners"][0]["Services"][0]["Partition"] = "team-a";
  std::vector<model::Problem> problems;
  auto gws = DecodeIngressGateways(entries.dump(), "/v1/config/ingress-gateway", &problems);
  ASSERT_TRUE(gws.ok()) << gws.status();
  ASSERT_EQ(gws->size(), 1u);
  EXPECT_EQ((*gws)[0].name, "edge");
  ASSERT_EQ(problems.size(), 2u) << Problems(problems);
  EXPECT_EQ(problems[0].ToString(),
            "ingress-gateway/edge-ns: Listeners[0].Services[1].Namespace: 'data' is not the gateway's namespace "
            "('default'): services of another namespace are not supported by tern");
  EXPECT_EQ(problems[1].ToString(),
            "ingress-gateway/edge-partition: Listeners[0].Services[0].Partition: 'team-a' is not the gateway's "
            "partition ('default'): services of another partition are not supported by tern");
}

TEST(ConsulCurrentApi, ServiceDefaultsGiveProtocols) {
  std::vector<model::Problem> problems;
  auto sd = DecodeServiceDefaults(Fixture("config_service_defaults.json"), "/v1/config/service-defaults", &problems);
  ASSERT_TRUE(sd.ok()) << sd.status();
  ASSERT_TRUE(problems.empty()) << Problems(problems);
  ASSERT_EQ(sd->size(), 3u);
  // (Their UpstreamConfig is consul_limits_test's subject.)
  EXPECT_EQ((*sd)[0].name, "web");
  EXPECT_EQ((*sd)[0].protocol, "http");
  EXPECT_EQ((*sd)[1].name, "admin");
  EXPECT_EQ((*sd)[1].protocol, "http2");
  EXPECT_EQ((*sd)[2].name, "billing");
  EXPECT_EQ((*sd)[2].protocol, "");

  // service-defaults decides a target's cluster protocol.
  ConsulView view;
  view.services = {{"admin", {}}};
  view.chains["admin"] = PlainChainFor("admin", "tcp");
  for (const auto& d : *sd) view.defaults[d.name] = d;
  model::World w = BuildWorld(view, &problems);
  EXPECT_EQ(w.clusters.at("admin.default.default.dc1").protocol, model::Protocol::kHttp2);
}

TEST(ConsulCurrentApi, ProxyDefaultsGiveTracingCollectorAndAccessLogs) {
  std::vector<model::Problem> problems;
  auto pd = DecodeProxyDefaults(Fixture("config_proxy_defaults.json"), "/v1/config/proxy-defaults", &problems);
  ASSERT_TRUE(pd.ok()) << pd.status();
  ASSERT_TRUE(problems.empty()) << Problems(problems);
  ASSERT_TRUE(pd->has_value());
  const ProxyDefaults& d = **pd;
  ASSERT_TRUE(d.defaults.tracing.has_value());
  EXPECT_EQ(d.defaults.tracing->provider, model::Tracing::Provider::kZipkin);
  EXPECT_EQ(d.defaults.tracing->collector_cluster, "zipkin");
  ASSERT_EQ(d.clusters.size(), 1u);
  EXPECT_EQ(d.clusters[0].name, "zipkin");
  ASSERT_EQ(d.clusters[0].endpoints.size(), 1u);
  EXPECT_EQ(d.clusters[0].endpoints[0].address, "10.0.9.4");
  EXPECT_EQ(d.clusters[0].endpoints[0].port, 9411u);
  ASSERT_TRUE(d.defaults.access_logs.has_value());
  ASSERT_EQ(d.defaults.access_logs->size(), 1u);
  EXPECT_EQ((*d.defaults.access_logs)[0].sink, model::AccessLog::Sink::kStdout);
  EXPECT_EQ((*d.defaults.access_logs)[0].text_format, "[%START_TIME%] %REQ(:METHOD)% %RESPONSE_CODE%\n");
}

// AccessLogs typed loosely, as Consul's Go client accepts them.
TEST(ConsulCurrentApi, ProxyDefaultsAccessLogsTypedLoosely) {
  for (const auto& [enabled, on] : std::vector<std::pair<std::string, bool>>{
           {R"("true")", true}, {"1", true}, {R"("1")", true}, {R"("false")", false}, {"0", false}, {R"("")", false}}) {
    std::vector<model::Problem> problems;
    auto pd = DecodeProxyDefaults(R"([{"Kind":"proxy-defaults","Name":"global","AccessLogs":{"Enabled":)" + enabled +
                                      R"(,"Type":"stderr"}}])",
                                  "/v1/config/proxy-defaults", &problems);
    ASSERT_TRUE(pd.ok()) << enabled;
    ASSERT_TRUE(problems.empty()) << enabled << ": " << Problems(problems);
    ASSERT_TRUE(pd->has_value()) << enabled;
    EXPECT_EQ((*pd)->defaults.access_logs.has_value(), on) << enabled;
  }
  std::vector<model::Problem> problems;
  auto pd = DecodeProxyDefaults(R"([{"Kind":"proxy-defaults","Name":"global","AccessLogs":{"Enabled":"yes"}}])",
                                "/v1/config/proxy-defaults", &problems);
  ASSERT_TRUE(pd.ok());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].ToString(), "proxy-defaults/global: AccessLogs.Enabled: expected true or false");
}

TEST(ConsulCurrentApi, RouterSplitterAndResolverEntriesAreWellFormed) {
  struct Case {
    std::string kind, fixture;
    std::vector<std::string> names;
  };
  for (const Case& c : {Case{"service-router", "config_service_router.json", {"web"}},
                        Case{"service-splitter", "config_service_splitter.json", {"web"}},
                        Case{"service-resolver", "config_service_resolver.json", {"web", "web-dc2", "db", "api"}}}) {
    std::vector<model::Problem> problems;
    auto names = DecodeChainEntries(c.kind, Fixture(c.fixture), "/v1/config/" + c.kind, &problems);
    ASSERT_TRUE(names.ok()) << c.kind << ": " << names.status();
    EXPECT_TRUE(problems.empty()) << c.kind << ": " << Problems(problems);
    EXPECT_EQ(*names, c.names) << c.kind;
  }
  // Weakly typed like the Go client: a numeric string weight, a bool as "true".
  std::vector<model::Problem> problems;
  auto loose = DecodeChainEntries("service-splitter", R"([{"Kind":"service-splitter","Name":"web",
      "Splits":[{"Weight":"90","ServiceSubset":"v1"},{"Weight":10,"ServiceSubset":"v2"}]},
      {"Kind":"service-splitter","Name":"api","Splits":[{"Weight":"ninety"}]},
      {"Kind":"service-splitter","Name":"db","Splits":[{"Weight":"nan"},{"Weight":100}]}])",
                                  "/v1/config/service-splitter", &problems);
  ASSERT_TRUE(loose.ok());
  EXPECT_THAT(*loose, ElementsAre("web"));
  ASSERT_EQ(problems.size(), 2u) << Problems(problems);
  EXPECT_EQ(problems[0].ToString(), "service-splitter/api: Splits[0].Weight: expected a number");
  EXPECT_EQ(problems[1].ToString(), "service-splitter/db: Splits[0].Weight: expected a number");
}

TEST(ConsulCurrentApi, ConnectRootsAndLeaf) {
  auto roots = DecodeConnectRoots(Fixture("connect_ca_roots.json"), kConnectRootsPath);
  ASSERT_TRUE(roots.ok()) << roots.status();
  EXPECT_EQ(roots->active_root_id, "c2:cb:3f:cb:03:f1:45:d1:81:2e:cf:e4:57:e6:e3:41:a3:4a:9f:96");
  ASSERT_EQ(roots->roots.size(), 2u);
  EXPECT_TRUE(roots->ActiveIntermediates().empty()) << "IntermediateCerts null";
  const std::string bundle = roots->TrustedCaPem();
  EXPECT_EQ(bundle, roots->roots[0].root_cert + roots->roots[1].root_cert) << "the rotated-out root is still trusted";

  auto leaf = DecodeConnectLeaf(Fixture("connect_ca_leaf.json"), ConnectLeafPath("edge"));
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(leaf->service, "edge");
  EXPECT_EQ(leaf->serial, "03:7f:11:a9:80:a7:f7:2f:4f:94:92:fc:19:6c:c3:28:35:46:68:85");
  EXPECT_EQ(leaf->valid_after, *ParseRfc3339("2026-12-01T03:57:13Z"));
  EXPECT_EQ(leaf->valid_before, *ParseRfc3339("2125-06-25T03:57:13Z"));
  EXPECT_EQ(leaf->private_key_pem.rfind("-----BEGIN EC PRIVATE KEY-----", 0), 0u);
  // Renewed two thirds into its lifetime.
  const auto now = *ParseRfc3339("2030-01-01T00:00:00Z");
  EXPECT_EQ(LeafRefreshAt(*leaf, now), leaf->valid_after + (leaf->valid_before - leaf->valid_after) * 2 / 3);

  // The leaf's key belongs to its certificate: another answer's key is refused, unquoted.
  nlohmann::json j = nlohmann::json::parse(Fixture("connect_ca_leaf.json"));
  nlohmann::json roots_json = nlohmann::json::parse(Fixture("connect_ca_roots.json"));
  j["CertPEM"] = roots_json["Roots"][0]["RootCert"];
  auto mismatched = DecodeConnectLeaf(j.dump(), ConnectLeafPath("edge"));
  ASSERT_FALSE(mismatched.ok());
  EXPECT_THAT(std::string(mismatched.status().message()), HasSubstr("/v1/agent/connect/ca/leaf/edge: PrivateKeyPEM"));
  EXPECT_EQ(std::string(mismatched.status().message()).find("PRIVATE KEY-----"), std::string::npos);
}

}  // namespace
}  // namespace tern::sources::consul
