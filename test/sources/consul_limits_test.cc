// Consul's circuit breakers and passive health checks for ingress gateways: the ingress-gateway
// entry's Defaults and per-service fields, and the gateway's own service-defaults UpstreamConfig,
// with Consul's meaning (the gateway's traffic to its upstreams) and tern's precedence. Fixtures
// are transcribed from the current Consul docs: Consul 1.8.7, which the integration tests run,
// has neither ingress Defaults (1.11+) nor UpstreamConfig (1.10+).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "sources/consul/decoders.h"
#include "sources/consul/limits.h"
#include "sources/consul/mapper.h"
#include "translate/pgv_validator.h"
#include "translate/translator.h"

namespace tern::sources::consul {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ms = std::chrono::milliseconds;

DiscoveryChain Plain(const std::string& service, const std::string& protocol) {
  const std::string target = service + ".default.dc1";
  auto c = DecodeDiscoveryChain(R"({"Chain":{"ServiceName":")" + service + R"(","Datacenter":"dc1","Protocol":")" +
                                    protocol + R"(","StartNode":"resolver:)" + target + R"(",
      "Nodes":{"resolver:)" + target + R"(":{"Type":"resolver","Name":")" + target + R"(",
        "Resolver":{"ConnectTimeout":"5s","Default":true,"Target":")" + target + R"("}}},
      "Targets":{")" + target + R"(":{"ID":")" + target + R"(","Service":")" + service +
                                    R"(","Datacenter":"dc1","Subset":{}}}}})",
                                "/v1/discovery-chain/" + service);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

// /v1/config/ingress-gateway as Consul 1.11+ answers it (durations as Go encodes them: numbers
// of nanoseconds; tern also reads "10s" strings, the form `consul config write` takes).
constexpr char kIngress[] = R"([
  {"Kind":"ingress-gateway","Name":"edge",
   "Defaults":{"MaxConnections":512,"MaxPendingRequests":64,"MaxConcurrentRequests":256,
     "PassiveHealthCheck":{"Interval":10000000000,"MaxFailures":5,"EnforcingConsecutive5xx":90,
                           "MaxEjectionPercent":50,"BaseEjectionTime":30000000000}},
   "Listeners":[
     {"Port":8080,"Protocol":"http","Services":[
        {"Name":"web","MaxConnections":100,"PassiveHealthCheck":{"MaxFailures":2,"Interval":"3s"}},
        {"Name":"api"}]},
     {"Port":9000,"Protocol":"tcp","Services":[{"Name":"db","MaxConnections":20,"MaxPendingRequests":0}]}]},
  {"Kind":"ingress-gateway","Name":"plain",
   "Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"web"}]}]},
  {"Kind":"ingress-gateway","Name":"side",
   "Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"web"},{"Name":"api"}]}]}
])";

// /v1/config/service-defaults: the gateways' own entries (edge, side) and web's (web as a caller).
constexpr char kServiceDefaults[] = R"([
  {"Kind":"service-defaults","Name":"edge","Protocol":"http",
   "UpstreamConfig":{
     "Defaults":{"ConnectTimeoutMs":4000,"Limits":{"MaxConnections":7}},
     "Overrides":[{"Name":"web","Namespace":"default","ConnectTimeoutMs":2500,
                   "Limits":{"MaxConcurrentRequests":9}}]}},
  {"Kind":"service-defaults","Name":"side",
   "UpstreamConfig":{
     "Defaults":{"Limits":{"MaxConnections":33,"MaxPendingRequests":0},
                 "PassiveHealthCheck":{"Interval":"2s","MaxFailures":4,"MaxEjectionPercent":100}},
     "Overrides":[{"Name":"api","Limits":{"MaxConnections":44}}]}},
  {"Kind":"service-defaults","Name":"web","Protocol":"http",
   "UpstreamConfig":{"Defaults":{"ConnectTimeoutMs":1,"Limits":{"MaxConnections":1},
                                 "PassiveHealthCheck":{"MaxFailures":1}}}}
])";

ConsulView View() {
  ConsulView v;
  for (const auto& [s, p] : {std::pair{"web", "http"}, std::pair{"api", "http"}, std::pair{"db", "tcp"}}) {
    v.chains[s] = Plain(s, p);
    v.services[s] = {};
  }
  std::vector<model::Problem> problems;
  auto ingress = DecodeIngressGateways(kIngress, "/v1/config/ingress-gateway", &problems);
  EXPECT_TRUE(ingress.ok()) << ingress.status();
  v.ingress = *ingress;
  auto defaults = DecodeServiceDefaults(kServiceDefaults, "/v1/config/service-defaults", &problems);
  EXPECT_TRUE(defaults.ok()) << defaults.status();
  for (const auto& d : *defaults) v.defaults[d.name] = d;
  EXPECT_THAT(problems, IsEmpty());
  return v;
}

TEST(ConsulLimits, DecodesIngressDefaultsAndPerServiceFields) {
  std::vector<model::Problem> problems;
  auto v = DecodeIngressGateways(kIngress, "/v1/config/ingress-gateway", &problems);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_THAT(problems, IsEmpty());
  const IngressGateway& edge = (*v)[0];
  EXPECT_EQ(edge.defaults.max_connections, 512u);
  EXPECT_EQ(edge.defaults.max_pending_requests, 64u);
  EXPECT_EQ(edge.defaults.max_concurrent_requests, 256u);
  ASSERT_TRUE(edge.defaults.passive_health_check);
  EXPECT_EQ(edge.defaults.passive_health_check->interval, ms(10000));
  EXPECT_EQ(edge.defaults.passive_health_check->max_failures, 5u);
  EXPECT_EQ(edge.defaults.passive_health_check->enforcing_consecutive_5xx, 90u);
  EXPECT_EQ(edge.defaults.passive_health_check->max_ejection_percent, 50u);
  EXPECT_EQ(edge.defaults.passive_health_check->base_ejection_time, ms(30000));
  const IngressService& web = edge.listeners[0].services[0];
  EXPECT_EQ(web.limits.max_connections, 100u);
  EXPECT_FALSE(web.limits.max_pending_requests);
  ASSERT_TRUE(web.limits.passive_health_check);
  EXPECT_EQ(web.limits.passive_health_check->interval, ms(3000));
  EXPECT_FALSE(web.limits.passive_health_check->base_ejection_time);
  EXPECT_TRUE(edge.listeners[0].services[1].limits.empty());
  EXPECT_FALSE(edge.listeners[1].services[0].limits.max_pending_requests) << "0 is Consul's unset on ingress fields";
  EXPECT_TRUE((*v)[1].defaults.empty());
}

TEST(ConsulLimits, DecodesUpstreamConfigDefaultsAndOverrides) {
  std::vector<model::Problem> problems;
  auto v = DecodeServiceDefaults(kServiceDefaults, "/v1/config/service-defaults", &problems);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_THAT(problems, IsEmpty());
  const ServiceDefaults& edge = (*v)[0];
  EXPECT_EQ(edge.protocol, "http");
  EXPECT_EQ(edge.upstream_defaults.connect_timeout, ms(4000));
  EXPECT_EQ(edge.upstream_defaults.max_connections, 7u);
  ASSERT_EQ(edge.upstream_overrides.size(), 1u);
  const UpstreamSettings& web = edge.upstream_overrides.at("web");
  EXPECT_EQ(web.connect_timeout, ms(2500));
  EXPECT_EQ(web.max_concurrent_requests, 9u);
  EXPECT_FALSE(web.max_connections);
  EXPECT_EQ(web.origin, "service-defaults/edge UpstreamConfig.Overrides[0]");
  EXPECT_EQ((*v)[1].upstream_defaults.max_pending_requests, 0u) << "UpstreamConfig Limits are pointers: 0 is a limit";
}

// Precedence, field by field: listener service > ingress Defaults > the gateway's
// UpstreamConfig Overrides > its UpstreamConfig Defaults > the cluster's own settings.
TEST(ConsulLimits, PrecedenceFromTheServiceToTheGatewaysUpstreamConfig) {
  std::vector<model::Problem> problems;
  model::World w = BuildWorld(View(), &problems);
  ASSERT_THAT(problems, IsEmpty());
  const auto& edge = w.gateways.at("edge").upstreams;
  ASSERT_EQ(edge.size(), 3u);

  const model::UpstreamPolicy& web = edge.at("web.default.dc1");
  EXPECT_EQ(web.circuit_breakers.max_connections, 100u) << "the listener's service";
  EXPECT_EQ(web.circuit_breakers.max_pending_requests, 64u) << "ingress Defaults";
  EXPECT_EQ(web.circuit_breakers.max_requests, 256u) << "ingress Defaults over the UpstreamConfig override's 9";
  EXPECT_EQ(web.connect_timeout, ms(2500)) << "UpstreamConfig override over its Defaults";
  ASSERT_TRUE(web.outlier_detection);
  EXPECT_EQ(web.outlier_detection->consecutive_5xx, 2u) << "the service's PassiveHealthCheck, whole";
  EXPECT_EQ(web.outlier_detection->interval, ms(3000));
  EXPECT_EQ(web.outlier_detection->base_ejection_time, ms(30000)) << "Envoy's default, not Defaults' value";
  EXPECT_EQ(web.outlier_detection->max_ejection_percent, 10u) << "Envoy's default";
  EXPECT_FALSE(web.outlier_detection->enforcing_consecutive_5xx);
  EXPECT_EQ(web.origin, "ingress-gateway/edge Listeners[0].Services[0]");

  const model::UpstreamPolicy& api = edge.at("api.default.dc1");
  EXPECT_EQ(api.circuit_breakers.max_connections, 512u);
  EXPECT_EQ(api.circuit_breakers.max_requests, 256u);
  EXPECT_EQ(api.connect_timeout, ms(4000)) << "UpstreamConfig Defaults";
  ASSERT_TRUE(api.outlier_detection);
  EXPECT_EQ(api.outlier_detection->consecutive_5xx, 5u);
  EXPECT_EQ(api.outlier_detection->enforcing_consecutive_5xx, 90u);
  EXPECT_EQ(api.outlier_detection->max_ejection_percent, 50u);

  const model::UpstreamPolicy& db = edge.at("db.default.dc1");  // the TCP listener's service
  EXPECT_EQ(db.circuit_breakers.max_connections, 20u);
  EXPECT_EQ(db.circuit_breakers.max_pending_requests, 64u) << "0 on the service is unset: Defaults apply";

  // Only UpstreamConfig: its Defaults for every exposed service, its override for api.
  const auto& side = w.gateways.at("side").upstreams;
  EXPECT_EQ(side.at("web.default.dc1").circuit_breakers.max_connections, 33u);
  EXPECT_EQ(side.at("web.default.dc1").circuit_breakers.max_pending_requests, 0u);
  EXPECT_EQ(side.at("web.default.dc1").outlier_detection->consecutive_5xx, 4u);
  EXPECT_EQ(side.at("api.default.dc1").circuit_breakers.max_connections, 44u);
  EXPECT_EQ(side.at("api.default.dc1").circuit_breakers.max_pending_requests, std::nullopt)
      << "an override's Limits replace its Defaults' Limits whole, as Consul merges UpstreamConfig";
  EXPECT_EQ(side.at("api.default.dc1").outlier_detection->consecutive_5xx, 4u) << "not overridden: Defaults'";
}

// web's own service-defaults UpstreamConfig describes web calling its upstreams: it does not
// apply to traffic sent to web, from any gateway or proxyless client.
TEST(ConsulLimits, AServicesOwnUpstreamConfigDoesNotApplyToTrafficSentToIt) {
  std::vector<model::Problem> problems;
  model::World w = BuildWorld(View(), &problems);
  EXPECT_TRUE(w.gateways.at("plain").upstreams.empty());
  const model::Cluster& web = w.clusters.at("web.default.dc1");
  EXPECT_EQ(web.circuit_breakers, model::CircuitBreakers{});
  EXPECT_FALSE(web.outlier_detection);
  EXPECT_EQ(web.connect_timeout, ms(5000));

  translate::Translation t = translate::Translate(w);
  EXPECT_TRUE(t.gateways.at("plain").cluster_variants.empty());
  EXPECT_TRUE(t.mesh.cluster_variants.empty());
  const auto& shared = dynamic_cast<const envoy::config::cluster::v3::Cluster&>(*t.clusters.at("web.default.dc1"));
  EXPECT_FALSE(shared.has_circuit_breakers());
  EXPECT_FALSE(shared.has_outlier_detection());
  // The gateways with limits get Envoy-valid variants.
  for (const auto& g : {"edge", "side"}) {
    ASSERT_FALSE(t.gateways.at(g).cluster_variants.empty()) << g;
    for (const auto& [name, m] : t.gateways.at(g).cluster_variants) {
      EXPECT_THAT(translate::ValidateResource(*m), IsEmpty()) << g << " " << name;
    }
  }
  const auto& v = dynamic_cast<const envoy::config::cluster::v3::Cluster&>(
      *t.gateways.at("edge").cluster_variants.at("web.default.dc1"));
  EXPECT_EQ(v.circuit_breakers().thresholds(0).max_connections().value(), 100u);
  EXPECT_EQ(v.circuit_breakers().thresholds(0).max_pending_requests().value(), 64u);
  EXPECT_EQ(v.circuit_breakers().thresholds(0).max_requests().value(), 256u);
  EXPECT_EQ(v.outlier_detection().consecutive_5xx().value(), 2u);
  EXPECT_EQ(v.outlier_detection().interval().seconds(), 3);
  EXPECT_EQ(v.connect_timeout().seconds(), 2);
  EXPECT_EQ(v.connect_timeout().nanos(), 500000000);
}

// Each bad entry is one problem naming the entry and the field; the entry is left out (the
// source then keeps its last good version) and the other entries decode.
TEST(ConsulLimits, BadInputNamesTheEntryAndTheField) {
  struct Case {
    std::string entry;  // JSON of one entry
    std::string origin;
    std::string message;
  };
  const std::vector<Case> ingress = {
      {R"({"Name":"edge","Defaults":{"MaxConnections":-1}})", "ingress-gateway/edge",
       "Defaults.MaxConnections: expected a non-negative integer"},
      {R"({"Name":"edge","Defaults":{"PassiveHealthCheck":{"MaxFailures":"five"}}})", "ingress-gateway/edge",
       "Defaults.PassiveHealthCheck.MaxFailures: expected a non-negative integer (a number, or a string holding one)"},
      {R"({"Name":"edge","Defaults":{"PassiveHealthCheck":{"Interval":true}}})", "ingress-gateway/edge",
       "Defaults.PassiveHealthCheck.Interval: expected a duration such as \"5s\""},
      {R"({"Name":"edge","Defaults":{"PassiveHealthCheck":{"BaseEjectionTime":-5000000000}}})", "ingress-gateway/edge",
       "Defaults.PassiveHealthCheck.BaseEjectionTime: expected a duration such as \"5s\""},
      {R"({"Name":"edge","Defaults":{"PassiveHealthCheck":[]}})", "ingress-gateway/edge",
       "Defaults.PassiveHealthCheck: expected an object"},
      {R"({"Name":"edge","Listeners":[{"Port":80,"Protocol":"http","Services":[{"Name":"web",
           "PassiveHealthCheck":{"EnforcingConsecutive5xx":150}}]}]})",
       "ingress-gateway/edge",
       "Listeners[0].Services[0].PassiveHealthCheck.EnforcingConsecutive5xx: expected a percentage from 0 to 100"},
      {R"({"Name":"edge","Listeners":[{"Port":80,"Protocol":"http","Services":[{"Name":"web",
           "MaxConcurrentRequests":1.5}]}]})",
       "ingress-gateway/edge", "Listeners[0].Services[0].MaxConcurrentRequests: expected a non-negative integer"},
  };
  for (const Case& c : ingress) {
    std::vector<model::Problem> problems;
    auto v = DecodeIngressGateways("[" + c.entry + R"(,{"Name":"other"}])", "/v1/config/ingress-gateway", &problems);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_THAT(problems, ElementsAre(model::Problem{c.origin, c.message, c.origin.substr(c.origin.find('/') + 1)}))
        << c.entry << " gave: " << (problems.empty() ? "" : problems[0].ToString());
    ASSERT_EQ(v->size(), 1u) << "the bad entry is left out, the other kept";
    EXPECT_EQ((*v)[0].name, "other");
  }
  const std::vector<Case> defaults = {
      {R"({"Name":"edge","UpstreamConfig":{"Overrides":[{"Name":"web","Peer":"cluster-02"}]}})",
       "service-defaults/edge",
       "UpstreamConfig.Overrides[0].Peer: 'cluster-02': upstreams of a cluster peer are not supported by tern"},
      {R"({"Name":"edge","UpstreamConfig":{"Overrides":[{"Name":"web","Namespace":"team-a"}]}})",
       "service-defaults/edge", "UpstreamConfig.Overrides[0].Namespace: 'team-a': tern reads the default namespace only"},
      {R"({"Name":"edge","UpstreamConfig":{"Overrides":[{"Limits":{"MaxConnections":1}}]}})", "service-defaults/edge",
       "UpstreamConfig.Overrides[0].Name: is required"},
      {R"({"Name":"edge","UpstreamConfig":{"Defaults":{"Limits":{"MaxPendingRequests":-3}}}})", "service-defaults/edge",
       "UpstreamConfig.Defaults.Limits.MaxPendingRequests: expected a non-negative integer"},
      {R"({"Name":"edge","UpstreamConfig":{"Defaults":{"ConnectTimeoutMs":"5s"}}})", "service-defaults/edge",
       "UpstreamConfig.Defaults.ConnectTimeoutMs: expected a non-negative integer (a number, or a string holding one)"},
      {R"({"Name":"edge","UpstreamConfig":{"Defaults":{"PassiveHealthCheck":{"MaxEjectionPercent":101}}}})",
       "service-defaults/edge",
       "UpstreamConfig.Defaults.PassiveHealthCheck.MaxEjectionPercent: expected a percentage from 0 to 100"},
  };
  for (const Case& c : defaults) {
    std::vector<model::Problem> problems;
    auto v = DecodeServiceDefaults("[" + c.entry + R"(,{"Name":"other","Protocol":"http"}])",
                                   "/v1/config/service-defaults", &problems);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_THAT(problems, ElementsAre(model::Problem{c.origin, c.message, c.origin.substr(c.origin.find('/') + 1)}))
        << c.entry << " gave: " << (problems.empty() ? "" : problems[0].ToString());
    ASSERT_EQ(v->size(), 1u);
    EXPECT_EQ((*v)[0].name, "other");
  }
}

// One cluster reached through two exposed services with different limits: the first listener's
// are kept, and the conflict is reported.
TEST(ConsulLimits, ACLusterReachedWithTwoDifferentLimitsKeepsTheFirstAndSaysSo) {
  ConsulView v = View();
  std::vector<model::Problem> problems;
  auto ingress = DecodeIngressGateways(R"([{"Name":"edge","Listeners":[
      {"Port":8080,"Protocol":"http","Services":[{"Name":"web","MaxConnections":5}]},
      {"Port":8081,"Protocol":"http","Services":[{"Name":"web","MaxConnections":6}]}]}])",
                                       "/v1/config/ingress-gateway", &problems);
  ASSERT_TRUE(ingress.ok());
  v.ingress = *ingress;
  v.defaults.erase("edge");
  model::World w = BuildWorld(v, &problems);
  EXPECT_EQ(w.gateways.at("edge").upstreams.at("web.default.dc1").circuit_breakers.max_connections, 5u);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].origin, "ingress-gateway/edge Listeners[1].Services[0]");
  EXPECT_THAT(problems[0].message, ::testing::HasSubstr("different limits"));
}

}  // namespace
}  // namespace tern::sources::consul
