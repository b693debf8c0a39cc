// The Consul decoders read answers shaped exactly as Consul's HTTP API documentation shows them,
// including fields added after 1.8 (Peer, Partition, Locality, SocketPath, ...), which must not
// break decoding; a malformed answer is an error naming the endpoint and the JSON path.
#include "sources/consul/decoders.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sources/consul/mapper.h"

namespace tern::sources::consul {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr char kHealthEp[] = "/v1/health/service/web";

// /v1/health/service/web as current Consul answers it: one passing instance with its own address,
// one in warning with Weights.Warning = 0, one relying on its node's address, one in maintenance.
constexpr char kHealthWeb[] = R"([
  {
    "Node": {
      "ID": "40e4a748-2192-161a-0510-9bf59fe950b5", "Node": "foobar", "Address": "10.1.10.12",
      "Datacenter": "dc1", "Partition": "default", "PeerName": "",
      "TaggedAddresses": { "lan": "10.1.10.12", "wan": "10.1.10.12" },
      "Meta": { "instance_type": "t2.medium" }, "Locality": { "Region": "us-east-1", "Zone": "a" }
    },
    "Service": {
      "Kind": "", "ID": "web1", "Service": "web", "Tags": ["primary"], "Address": "10.1.10.20",
      "TaggedAddresses": { "lan": { "address": "127.0.0.1", "port": 8000 },
                           "wan": { "address": "198.18.0.53", "port": 80 } },
      "Meta": { "version": "1" }, "Port": 8000, "SocketPath": "", "Weights": { "Passing": 10, "Warning": 1 },
      "EnableTagOverride": false, "Proxy": { "MeshGateway": {}, "Expose": {} }, "Connect": {},
      "Namespace": "default", "Partition": "default", "PeerName": "", "Locality": null
    },
    "Checks": [
      { "Node": "foobar", "CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing",
        "Notes": "", "Output": "", "ServiceID": "", "ServiceName": "", "ServiceTags": [], "Type": "",
        "ExposedPort": 0, "Definition": {}, "Namespace": "default" },
      { "Node": "foobar", "CheckID": "service:web1", "Name": "Service 'web' check", "Status": "passing",
        "ServiceID": "web1", "ServiceName": "web", "ServiceTags": ["primary"] }
    ]
  },
  {
    "Node": { "Node": "n2", "Address": "10.1.10.13" },
    "Service": { "ID": "web2", "Service": "web", "Tags": null, "Address": "10.1.10.21", "Meta": null,
                 "Port": 8000, "Weights": { "Passing": 5, "Warning": 0 } },
    "Checks": [ { "CheckID": "service:web2", "Status": "warning" } ]
  },
  {
    "Node": { "Node": "n3", "Address": "10.1.10.14" },
    "Service": { "ID": "web3", "Service": "web", "Address": "", "Port": 8001,
                 "Weights": { "Passing": 3, "Warning": 2 } },
    "Checks": [ { "CheckID": "service:web3", "Status": "warning" } ]
  },
  {
    "Node": { "Node": "n4", "Address": "10.1.10.15" },
    "Service": { "ID": "web4", "Service": "web", "Address": "10.1.10.22", "Port": 8000 },
    "Checks": [ { "CheckID": "_service_maintenance:web4", "Status": "critical", "Notes": "deploying" },
                { "CheckID": "service:web4", "Status": "passing" } ]
  }
])";

TEST(ConsulHealthDecoder, ReadsInstancesWithTheirHealthAndWeights) {
  auto inst = DecodeHealthService(kHealthWeb, kHealthEp);
  ASSERT_TRUE(inst.ok()) << inst.status();
  ASSERT_EQ(inst->size(), 4u);
  EXPECT_EQ((*inst)[0].id, "web1");
  EXPECT_EQ((*inst)[0].address, "10.1.10.20");
  EXPECT_EQ((*inst)[0].port, 8000u);
  EXPECT_EQ((*inst)[0].weight_passing, 10u);
  EXPECT_EQ((*inst)[0].meta.at("version"), "1");
  EXPECT_THAT((*inst)[0].tags, ElementsAre("primary"));
  EXPECT_EQ((*inst)[0].health, model::Health::kPassing);
  EXPECT_EQ((*inst)[1].health, model::Health::kWarning);
  EXPECT_EQ((*inst)[2].address, "10.1.10.14") << "an empty Service.Address falls back to Node.Address";
  EXPECT_EQ((*inst)[3].health, model::Health::kMaintenance);
}

TEST(ConsulHealthDecoder, OnlyPassingAndWeightedWarningInstancesBecomeEndpoints) {
  auto inst = DecodeHealthService(kHealthWeb, kHealthEp);
  ASSERT_TRUE(inst.ok());
  std::vector<std::pair<std::string, uint32_t>> eps;
  for (const auto& i : *inst) {
    if (auto ep = ToEndpoint(i)) eps.push_back({ep->id, ep->weight});
  }
  // web2 is warning with Weights.Warning 0; web4 is in maintenance: neither gets traffic.
  EXPECT_THAT(eps, ElementsAre(std::pair<std::string, uint32_t>{"web1", 10}, std::pair<std::string, uint32_t>{"web3", 2}));
}

TEST(ConsulHealthDecoder, NodeMaintenanceDrainsEveryInstanceOnTheNode) {
  auto inst = DecodeHealthService(R"([{"Node":{"Node":"n","Address":"10.0.0.1"},
      "Service":{"ID":"a","Service":"web","Port":80},
      "Checks":[{"CheckID":"_node_maintenance","Status":"critical"},{"CheckID":"service:a","Status":"passing"}]}])",
                                  kHealthEp);
  ASSERT_TRUE(inst.ok());
  EXPECT_EQ((*inst)[0].health, model::Health::kMaintenance);
  EXPECT_FALSE(ToEndpoint((*inst)[0]).has_value());
}

TEST(ConsulHealthDecoder, CriticalInstancesAreRemoved) {
  auto inst = DecodeHealthService(R"([{"Node":{"Address":"10.0.0.1"},"Service":{"ID":"a","Service":"web","Port":80},
      "Checks":[{"CheckID":"service:a","Status":"critical"}]}])", kHealthEp);
  ASSERT_TRUE(inst.ok());
  EXPECT_FALSE(ToEndpoint((*inst)[0]).has_value());
}

TEST(ConsulHealthDecoder, MalformedAnswersNameTheEndpointAndThePath) {
  auto bad_json = DecodeHealthService("[{\"Node\": ", kHealthEp);
  ASSERT_FALSE(bad_json.ok());
  EXPECT_THAT(std::string(bad_json.status().message()), HasSubstr("/v1/health/service/web: malformed JSON"));

  auto bad_port = DecodeHealthService(
      R"([{"Node":{"Address":"a"},"Service":{"ID":"x","Port":80}},{"Node":{"Address":"a"},"Service":{"ID":"y","Port":"80"}}])",
      kHealthEp);
  ASSERT_FALSE(bad_port.ok());
  EXPECT_THAT(std::string(bad_port.status().message()), HasSubstr("/v1/health/service/web: [1].Service.Port"));

  auto bad_checks = DecodeHealthService(R"([{"Service":{"ID":"x","Port":80},"Checks":{"a":1}}])", kHealthEp);
  ASSERT_FALSE(bad_checks.ok());
  EXPECT_THAT(std::string(bad_checks.status().message()), HasSubstr("[0].Checks: expected a list"));

  auto not_list = DecodeHealthService(R"({"web": []})", kHealthEp);
  EXPECT_FALSE(not_list.ok());
}

TEST(ConsulCatalogDecoder, ReadsServiceNamesAndTags) {
  auto s = DecodeCatalogServices(R"({"consul": [], "redis": [], "postgresql": ["primary", "secondary"]})",
                                 "/v1/catalog/services");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->size(), 3u);
  EXPECT_THAT(s->at("postgresql"), ElementsAre("primary", "secondary"));
  auto bad = DecodeCatalogServices(R"({"web": "v1"})", "/v1/catalog/services");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("/v1/catalog/services: web"));
}

// /v1/discovery-chain/web for a router (path prefix + header) in front of a splitter over two
// subsets, as current Consul returns it (with LoadBalancer, Failover, Peer/Partition fields).
constexpr char kChainWeb[] = R"({
  "Chain": {
    "ServiceName": "web", "Namespace": "default", "Partition": "default", "Datacenter": "dc1",
    "CustomizationHash": "", "Default": false, "Protocol": "http",
    "ServiceMeta": {}, "EnvoyExtensions": null,
    "StartNode": "router:web.default.default",
    "Nodes": {
      "router:web.default.default": {
        "Type": "router", "Name": "web.default.default",
        "Routes": [
          { "Definition": {
              "Match": { "HTTP": { "PathPrefix": "/admin", "Methods": ["GET", "POST"],
                                   "Header": [ { "Name": "x-debug", "Present": true } ],
                                   "QueryParam": [ { "Name": "beta", "Exact": "1" } ] } },
              "Destination": { "Service": "admin", "PrefixRewrite": "/", "RequestTimeout": "3s",
                               "IdleTimeout": "0s", "NumRetries": 3, "RetryOnConnectFailure": true,
                               "RetryOn": ["reset"], "RetryOnStatusCodes": [503, 504],
                               "RequestHeaders": { "Set": { "x-from": "tern" } } } },
            "NextNode": "resolver:admin.default.default.dc1" },
          { "Definition": {
              "Match": { "HTTP": { "PathExact": "/healthz" } },
              "Destination": { "Service": "web", "ServiceSubset": "v1" } },
            "NextNode": "resolver:v1.web.default.default.dc1" },
          { "Definition": {
              "Match": { "HTTP": { "PathPrefix": "/" } },
              "Destination": { "Service": "web" } },
            "NextNode": "splitter:web.default.default" }
        ]
      },
      "splitter:web.default.default": {
        "Type": "splitter", "Name": "web.default.default",
        "Splits": [
          { "Weight": 90, "NextNode": "resolver:v1.web.default.default.dc1",
            "Definition": { "Weight": 90, "ServiceSubset": "v1" } },
          { "Weight": 10, "NextNode": "resolver:v2.web.default.default.dc1" }
        ]
      },
      "resolver:v1.web.default.default.dc1": {
        "Type": "resolver", "Name": "v1.web.default.default.dc1",
        "Resolver": { "ConnectTimeout": "2s", "RequestTimeout": "0s", "Default": false,
                      "Target": "v1.web.default.default.dc1",
                      "Failover": { "Targets": ["v1.web.default.default.dc2"] } },
        "LoadBalancer": { "Policy": "least_request", "LeastRequestConfig": { "ChoiceCount": 3 } }
      },
      "resolver:v2.web.default.default.dc1": {
        "Type": "resolver", "Name": "v2.web.default.default.dc1",
        "Resolver": { "ConnectTimeout": "5s", "Default": false, "Target": "v2.web.default.default.dc1" }
      },
      "resolver:admin.default.default.dc1": {
        "Type": "resolver", "Name": "admin.default.default.dc1",
        "Resolver": { "ConnectTimeout": "5s", "Default": true, "Target": "admin.default.default.dc1" }
      }
    },
    "Targets": {
      "v1.web.default.default.dc1": {
        "ID": "v1.web.default.default.dc1", "Service": "web", "ServiceSubset": "v1", "Namespace": "default",
        "Partition": "default", "Datacenter": "dc1", "Peer": "", "MeshGateway": { "Mode": "" },
        "Subset": { "Filter": "Service.Meta.version == 1", "OnlyPassing": false },
        "TransparentProxy": {}, "ConnectTimeout": 2000000000, "SNI": "v1.web.default.dc1.internal.x.consul",
        "Name": "v1.web.default.dc1.internal.x.consul", "Locality": null
      },
      "v1.web.default.default.dc2": {
        "ID": "v1.web.default.default.dc2", "Service": "web", "ServiceSubset": "v1", "Datacenter": "dc2",
        "Subset": { "Filter": "Service.Meta.version == 1" }
      },
      "v2.web.default.default.dc1": {
        "ID": "v2.web.default.default.dc1", "Service": "web", "ServiceSubset": "v2", "Datacenter": "dc1",
        "Subset": { "Filter": "Service.Meta.version == 2" }
      },
      "admin.default.default.dc1": {
        "ID": "admin.default.default.dc1", "Service": "admin", "Datacenter": "dc1", "Subset": {}
      }
    }
  }
})";

TEST(ConsulChainDecoder, ReadsRoutersSplittersResolversAndTargets) {
  auto chain = DecodeDiscoveryChain(kChainWeb, "/v1/discovery-chain/web");
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(chain->protocol, "http");
  EXPECT_EQ(chain->start_node, "router:web.default.default");
  const ChainNode& router = chain->nodes.at("router:web.default.default");
  ASSERT_EQ(router.routes.size(), 3u);
  const ChainRoute& admin = router.routes[0];
  EXPECT_EQ(admin.match.path, "/admin");
  EXPECT_THAT(admin.match.methods, ElementsAre("GET", "POST"));
  ASSERT_EQ(admin.match.headers.size(), 1u);
  EXPECT_EQ(admin.match.headers[0].match.kind, model::StringMatch::Kind::kPresent);
  ASSERT_EQ(admin.match.query.size(), 1u);
  EXPECT_EQ(admin.match.query[0].match.value, "1");
  EXPECT_EQ(admin.destination.request_timeout, std::chrono::milliseconds(3000));
  EXPECT_EQ(admin.destination.num_retries, 3u);
  EXPECT_TRUE(admin.destination.retry_on_connect_failure);
  EXPECT_THAT(admin.destination.retry_on_status_codes, ElementsAre(503, 504));
  EXPECT_EQ(router.routes[1].match.path_kind, model::RouteMatch::PathKind::kExact);
  const ChainNode& v1 = chain->nodes.at("resolver:v1.web.default.default.dc1");
  EXPECT_EQ(v1.connect_timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(v1.lb_policy, model::LbPolicy::kLeastRequest);
  EXPECT_THAT(v1.failover_targets, ElementsAre("v1.web.default.default.dc2"));
  EXPECT_EQ(chain->targets.at("v2.web.default.default.dc1").filter, "Service.Meta.version == 2");
}

// Consul 1.8.7's own answer (no Partition, no LoadBalancer) for a service with only defaults.
TEST(ConsulChainDecoder, ReadsTheDefaultChainOfConsul18) {
  auto chain = DecodeDiscoveryChain(R"({"Chain":{"ServiceName":"db","Namespace":"default","Datacenter":"dc1",
      "Protocol":"tcp","StartNode":"resolver:db.default.dc1","Nodes":{"resolver:db.default.dc1":{"Type":"resolver",
      "Name":"db.default.dc1","Resolver":{"ConnectTimeout":"5s","Default":true,"Target":"db.default.dc1"}}},
      "Targets":{"db.default.dc1":{"ID":"db.default.dc1","Service":"db","Namespace":"default","Datacenter":"dc1",
      "MeshGateway":{},"Subset":{},"SNI":"db.default.dc1.internal.c9.consul","Name":"db.default.dc1.internal.c9.consul"}}}})",
                                    "/v1/discovery-chain/db");
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(DefaultTarget(*chain), "db.default.dc1");
  auto routes = ChainRoutes(*chain);
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0].match.path, "/");
  ASSERT_EQ(routes[0].action.clusters.size(), 1u);
  EXPECT_EQ(routes[0].action.clusters[0].cluster, "db.default.dc1");
}

// A current Consul (1.15+) chain whose failover goes to a cluster peer: the target carries "Peer".
// tern does not route to peers; it says so, naming the target, instead of routing the local service.
TEST(ConsulChainDecoder, APeeredTargetIsRefusedByName) {
  auto chain = DecodeDiscoveryChain(R"({"Chain":{"ServiceName":"web","Namespace":"default","Partition":"default",
      "Datacenter":"dc1","Protocol":"http","StartNode":"resolver:web.default.default.dc1",
      "Nodes":{"resolver:web.default.default.dc1":{"Type":"resolver","Name":"web.default.default.dc1",
        "Resolver":{"ConnectTimeout":"5s","Target":"web.default.default.dc1",
                    "Failover":{"Targets":["web.default.default.external-peer"]}}}},
      "Targets":{"web.default.default.dc1":{"ID":"web.default.default.dc1","Service":"web","Namespace":"default",
                   "Partition":"default","Datacenter":"dc1","Peer":"","Locality":null,"SNI":"x","Name":"x"},
                 "web.default.default.external-peer":{"ID":"web.default.default.external-peer","Service":"web",
                   "Namespace":"default","Partition":"default","Datacenter":"","Peer":"cluster-02","SNI":"y","Name":"y"}}}})",
                                    "/v1/discovery-chain/web");
  ASSERT_FALSE(chain.ok());
  EXPECT_THAT(std::string(chain.status().message()),
              HasSubstr("/v1/discovery-chain/web: Chain.Targets.web.default.default.external-peer.Peer: target "
                        "'web.default.default.external-peer' is in peer 'cluster-02'"));
}

TEST(ConsulChainDecoder, BrokenChainsNameThePath) {
  auto wrong_type = DecodeDiscoveryChain(R"({"Chain":{"StartNode":"r","Nodes":{"r":{"Type":"resolver",
      "Resolver":{"Target":"t","ConnectTimeout":"soon"}}},"Targets":{"t":{"Service":"web"}}}})", "/v1/discovery-chain/web");
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_THAT(std::string(wrong_type.status().message()),
              HasSubstr("/v1/discovery-chain/web: Chain.Nodes.r.Resolver.ConnectTimeout"));

  auto dangling = DecodeDiscoveryChain(R"({"Chain":{"StartNode":"s","Nodes":{"s":{"Type":"splitter",
      "Splits":[{"Weight":100,"NextNode":"resolver:gone"}]}},"Targets":{}}})", "/v1/discovery-chain/web");
  ASSERT_FALSE(dangling.ok());
  EXPECT_THAT(std::string(dangling.status().message()), HasSubstr("Chain.Nodes.s.Splits[0].NextNode"));

  auto no_chain = DecodeDiscoveryChain(R"({"chain": {}})", "/v1/discovery-chain/web");
  ASSERT_FALSE(no_chain.ok());
  EXPECT_THAT(std::string(no_chain.status().message()), HasSubstr("Chain: is required"));
}

TEST(ConsulDurations, ReadGoDurationsAndNanoseconds) {
  EXPECT_EQ(ParseGoDuration("5s"), std::chrono::milliseconds(5000));
  EXPECT_EQ(ParseGoDuration("1m30s"), std::chrono::milliseconds(90000));
  EXPECT_EQ(ParseGoDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(ParseGoDuration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(ParseGoDuration("2000000000"), std::chrono::milliseconds(2000));
  EXPECT_FALSE(ParseGoDuration("soon").has_value());
  EXPECT_FALSE(ParseGoDuration("5 s").has_value());
}

// Found by fuzz/consul_answers (UBSan: a double out of int64's range converted to it).
TEST(ConsulDurations, ADurationTooLargeToMeanAnythingIsRefused) {
  EXPECT_FALSE(ParseGoDuration("1666070000000000000000000000000000000000000000").has_value());
  EXPECT_FALSE(ParseGoDuration("99999999999999999999h").has_value());
  EXPECT_FALSE(ParseGoDuration("-5").has_value());
  EXPECT_EQ(ParseGoDuration("87600h"), std::chrono::milliseconds(87600LL * 3600 * 1000));  // ten years is fine
}

TEST(ConsulConfigDecoder, IngressGatewayEntries) {
  std::vector<model::Problem> problems;
  auto gws = DecodeIngressGateways(R"([
    {"Kind":"ingress-gateway","Name":"edge","Namespace":"default","Partition":"default",
     "TLS":{"Enabled":false},"Defaults":{"MaxConnections":100},
     "Listeners":[
       {"Port":8080,"Protocol":"http","Services":[{"Name":"web","Hosts":["web.example.com"]},{"Name":"api"}]},
       {"Port":9000,"Protocol":"tcp","Services":[{"Name":"db"}]}],
     "Meta":{},"CreateIndex":10,"ModifyIndex":12},
    {"Kind":"ingress-gateway","Name":"broken","Listeners":[{"Port":"eighty","Protocol":"http"}]}
  ])", "/v1/config/ingress-gateway", &problems);
  ASSERT_TRUE(gws.ok()) << gws.status();
  ASSERT_EQ(gws->size(), 1u) << "the broken entry is left out, the good one kept";
  EXPECT_EQ((*gws)[0].name, "edge");
  ASSERT_EQ((*gws)[0].listeners.size(), 2u);
  EXPECT_THAT((*gws)[0].listeners[0].services[0].hosts, ElementsAre("web.example.com"));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].origin, "ingress-gateway/broken");
  EXPECT_THAT(problems[0].message, HasSubstr("Listeners[0].Port"));
}

TEST(ConsulConfigDecoder, ChainEntriesAreCheckedPerEntry) {
  std::vector<model::Problem> problems;
  auto names = DecodeChainEntries("service-splitter", R"([
    {"Kind":"service-splitter","Name":"web","Splits":[{"Weight":80,"ServiceSubset":"v1"},{"Weight":20,"ServiceSubset":"v2"}]},
    {"Kind":"service-splitter","Name":"api","Splits":[{"Weight":80},{"Weight":30}]}
  ])", "/v1/config/service-splitter", &problems);
  ASSERT_TRUE(names.ok());
  EXPECT_THAT(*names, ElementsAre("web"));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].origin, "service-splitter/api");

  problems.clear();
  auto routers = DecodeChainEntries("service-router", R"([
    {"Kind":"service-router","Name":"web","Routes":[{"Match":{"HTTP":{"PathPrefix":"/a"}},
      "Destination":{"Service":"a","NumRetries":"three"}}]}])", "/v1/config/service-router", &problems);
  ASSERT_TRUE(routers.ok());
  EXPECT_TRUE(routers->empty());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].origin, "service-router/web");
  EXPECT_THAT(problems[0].message, HasSubstr("Routes[0]"));
  EXPECT_THAT(problems[0].message, HasSubstr("NumRetries"));

  problems.clear();
  auto resolvers = DecodeChainEntries("service-resolver", R"([{"Kind":"service-resolver","Name":"web",
      "DefaultSubset":"v3","Subsets":{"v1":{"Filter":"Service.Meta.version == 1"}}}])", "/v1/config/service-resolver",
                                      &problems);
  ASSERT_TRUE(resolvers.ok());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0].ToString(), HasSubstr("service-resolver/web: DefaultSubset"));

  auto not_a_list = DecodeChainEntries("service-router", R"({"Kind":"service-router"})", "/v1/config/service-router",
                                       &problems);
  EXPECT_FALSE(not_a_list.ok());
  auto null_list = DecodeServiceDefaults("null", "/v1/config/service-defaults", &problems);
  ASSERT_TRUE(null_list.ok());
  EXPECT_TRUE(null_list->empty());
}

// The mapping: targets become clusters with their filtered endpoints, the router becomes routes,
// the splitter a weighted split, the ingress entry a gateway.
TEST(ConsulMapper, BuildsClustersRoutesAndGateways) {
  ConsulView view;
  auto chain = DecodeDiscoveryChain(kChainWeb, "/v1/discovery-chain/web");
  ASSERT_TRUE(chain.ok());
  view.services = {{"web", {}}, {"admin", {}}};
  view.chains["web"] = *chain;
  auto all = DecodeHealthService(kHealthWeb, kHealthEp);
  ASSERT_TRUE(all.ok());
  // Consul filtered these for us: v1 is web1 and web3, v2 nobody, v2's failover dc2 has web2.
  view.health[HealthPath(chain->targets.at("v1.web.default.default.dc1"), "dc1")] = {(*all)[0], (*all)[2]};
  view.health[HealthPath(chain->targets.at("v2.web.default.default.dc1"), "dc1")] = {};
  view.health[HealthPath(chain->targets.at("v1.web.default.default.dc2"), "dc1")] = {(*all)[0]};
  view.defaults["web"] = {"web", "http"};
  view.ingress.push_back({"edge", {{8080, "http", {{"web", {}}}}, {9000, "tcp", {{"web", {}}}}}});
  EXPECT_THAT(HealthPath(chain->targets.at("v1.web.default.default.dc2"), "dc1"), HasSubstr("dc=dc2"));
  EXPECT_THAT(HealthPath(chain->targets.at("v1.web.default.default.dc1"), "dc1"),
              HasSubstr("filter=Service.Meta.version%20%3D%3D%201"));

  std::vector<model::Problem> problems;
  model::World w = BuildWorld(view, &problems);
  EXPECT_TRUE(problems.empty()) << problems[0].ToString();
  ASSERT_EQ(w.clusters.size(), 4u);
  const model::Cluster& v1 = w.clusters.at("v1.web.default.default.dc1");
  EXPECT_EQ(v1.service, "web");
  EXPECT_EQ(v1.protocol, model::Protocol::kHttp);
  EXPECT_EQ(v1.connect_timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(v1.lb_policy, model::LbPolicy::kLeastRequest);
  ASSERT_EQ(v1.endpoints.size(), 3u) << "web1, web3, and web1 from the failover target";
  EXPECT_EQ(v1.endpoints[0].priority, 0u);
  EXPECT_EQ(v1.endpoints[2].priority, 1u);
  EXPECT_TRUE(w.clusters.at("v2.web.default.default.dc1").endpoints.empty());

  const auto& routes = w.service_routes.at("web").routes;
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(routes[0].action.clusters[0].cluster, "admin.default.default.dc1");
  EXPECT_EQ(routes[0].action.prefix_rewrite, "/");
  EXPECT_EQ(routes[0].action.timeout, std::chrono::milliseconds(3000));
  ASSERT_TRUE(routes[0].action.retry.has_value());
  EXPECT_EQ(routes[0].action.retry->num_retries, 3u);
  ASSERT_EQ(routes[2].action.clusters.size(), 2u);
  EXPECT_EQ(routes[2].action.clusters[0].weight, 90u) << "whole percentages stay percentages";
  EXPECT_EQ(routes[2].action.clusters[1].weight, 10u);

  const model::Gateway& edge = w.gateways.at("edge");
  ASSERT_EQ(edge.listeners.size(), 2u);
  EXPECT_EQ(edge.listeners[0].name, "http_8080");
  EXPECT_THAT(edge.listeners[0].virtual_hosts[0].domains, ElementsAre("web.ingress.*", "web.ingress.*:8080"));
  EXPECT_EQ(edge.listeners[0].virtual_hosts[0].routes, routes);
  EXPECT_EQ(edge.listeners[1].name, "tcp_9000");
  EXPECT_EQ(edge.listeners[1].tcp_cluster, "v1.web.default.default.dc1") << "the split's heaviest share";
  EXPECT_TRUE(model::Validate(w).empty());
}

}  // namespace
}  // namespace tern::sources::consul

namespace tern::sources::consul {
namespace {

TEST(ConsulMapper, SplitsWithDecimalsAreScaledToHundredthsOfAPercent) {
  auto chain = DecodeDiscoveryChain(R"({"Chain":{"ServiceName":"web","Datacenter":"dc1","Protocol":"http",
    "StartNode":"s","Nodes":{"s":{"Type":"splitter","Splits":[{"Weight":33.33,"NextNode":"a"},{"Weight":66.67,"NextNode":"b"}]},
    "a":{"Type":"resolver","Resolver":{"Target":"a.web"}},"b":{"Type":"resolver","Resolver":{"Target":"b.web"}}},
    "Targets":{"a.web":{"Service":"web"},"b.web":{"Service":"web"}}}})", "/v1/discovery-chain/web");
  ASSERT_TRUE(chain.ok()) << chain.status();
  auto routes = ChainRoutes(*chain);
  ASSERT_EQ(routes.size(), 1u);
  ASSERT_EQ(routes[0].action.clusters.size(), 2u);
  EXPECT_EQ(routes[0].action.clusters[0].weight, 3333u);
  EXPECT_EQ(routes[0].action.clusters[1].weight, 6667u);
}

}  // namespace
}  // namespace tern::sources::consul

namespace tern::sources::consul {
namespace {
// A health entry shaped like current Consul's (1.15+): Partition, PeerName, Locality, TaggedAddresses
// with objects, Proxy and Connect blocks, check Definition and Type, nulls where Go encodes empty
// slices and maps. Fields tern does not read are ignored; nulls read as empty.
TEST(ConsulHealthDecoder, CurrentConsulAnswersWithNewerFieldsDecode) {
  const char* current = R"([{
    "Node": {"ID": "40e4a748-2192-161a-0510-9bf59fe950b5", "Node": "node-1", "Address": "10.1.0.1",
             "Datacenter": "dc1", "Partition": "default", "PeerName": "", "TaggedAddresses": {"lan": "10.1.0.1"},
             "Meta": {"consul-network-segment": ""}, "CreateIndex": 5, "ModifyIndex": 9},
    "Service": {"Kind": "", "ID": "web-1", "Service": "web", "Tags": null, "Meta": null, "Address": "",
                "Port": 8080, "SocketPath": "", "Weights": {"Passing": 3, "Warning": 1},
                "TaggedAddresses": {"lan_ipv4": {"Address": "10.1.0.1", "Port": 8080}},
                "EnableTagOverride": false, "Proxy": {"Mode": "", "MeshGateway": {}, "Expose": {}},
                "Connect": {}, "Locality": {"Region": "us-west-1", "Zone": "us-west-1a"},
                "PeerName": "", "Namespace": "default", "Partition": "default",
                "CreateIndex": 12, "ModifyIndex": 12},
    "Checks": [{"Node": "node-1", "CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing",
                "Notes": "", "Output": "Agent alive and reachable", "ServiceID": "", "ServiceName": "",
                "ServiceTags": null, "Type": "", "Interval": "", "Timeout": "", "ExposedPort": 0,
                "Definition": {}, "PeerName": "", "Namespace": "default", "Partition": "default",
                "CreateIndex": 5, "ModifyIndex": 5},
               {"Node": "node-1", "CheckID": "service:web-1", "Name": "web", "Status": "warning",
                "ServiceID": "web-1", "ServiceName": "web", "ServiceTags": [], "Type": "http",
                "Definition": {"HTTP": "http://10.1.0.1:8080/health", "Interval": "10s"},
                "Namespace": "default", "Partition": "default", "CreateIndex": 12, "ModifyIndex": 40}]
  }])";
  auto inst = DecodeHealthService(current, "/v1/health/service/web");
  ASSERT_TRUE(inst.ok()) << inst.status();
  ASSERT_EQ(inst->size(), 1u);
  const Instance& i = (*inst)[0];
  EXPECT_EQ(i.id, "web-1");
  EXPECT_EQ(i.address, "10.1.0.1") << "the node's address when the service has none";
  EXPECT_EQ(i.port, 8080u);
  EXPECT_TRUE(i.tags.empty());
  EXPECT_TRUE(i.meta.empty());
  EXPECT_EQ(i.weight_passing, 3u);
  EXPECT_EQ(i.health, model::Health::kWarning);
  auto ep = ToEndpoint(i);
  ASSERT_TRUE(ep.has_value());
  EXPECT_EQ(ep->weight, 1u) << "warning: Weights.Warning";

  auto catalog = DecodeCatalogServices(R"({"consul": null, "web": ["v1", "canary"], "api": []})", "/v1/catalog/services");
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  EXPECT_TRUE(catalog->at("consul").empty());
  EXPECT_EQ(catalog->at("web"), (std::vector<std::string>{"v1", "canary"}));
  auto truncated = DecodeCatalogServices(R"({"web": ["v1", "can)", "/v1/catalog/services");
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(std::string(truncated.status().message()), "/v1/catalog/services: malformed JSON");
}
}  // namespace
}  // namespace tern::sources::consul
