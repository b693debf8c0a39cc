// Consul's traffic-policy fields as a gateway receives them: service-router retries, timeouts and
// header rewrites, and ingress-gateway per-service headers. Fixtures are transcribed from the
// current Consul docs (these fields are newer than the Consul 1.8.7 the integration tests run).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sources/consul/decoders.h"
#include "sources/consul/mapper.h"
#include "sources/consul/proxy_defaults.h"

namespace tern::sources::consul {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

std::string ChainWithDestination(const std::string& destination) {
  return R"({"Chain":{"ServiceName":"web","Datacenter":"dc1","Protocol":"http","StartNode":"router:web",
    "Nodes":{"router:web":{"Type":"router","Name":"web","Routes":[{"Definition":{
        "Match":{"HTTP":{"PathPrefix":"/"}},"Destination":)" +
         destination + R"(},"NextNode":"resolver:web.default.dc1"}]},
      "resolver:web.default.dc1":{"Type":"resolver","Name":"web.default.dc1",
        "Resolver":{"ConnectTimeout":"5s","Default":true,"Target":"web.default.dc1"}}},
    "Targets":{"web.default.dc1":{"ID":"web.default.dc1","Service":"web","Datacenter":"dc1","Subset":{}}}}})";
}

TEST(ConsulTrafficPolicy, NumRetriesAloneKeepsConsulsEmptyConditionList) {
  auto chain = DecodeDiscoveryChain(ChainWithDestination(R"({"Service":"web","NumRetries":3})"), "/v1/discovery-chain/web");
  ASSERT_TRUE(chain.ok()) << chain.status();
  auto routes = ChainRoutes(*chain);
  ASSERT_EQ(routes.size(), 1u);
  ASSERT_TRUE(routes[0].action.retry.has_value()) << "Consul emits a retry policy for NumRetries alone";
  EXPECT_EQ(routes[0].action.retry->num_retries, 3u);
  EXPECT_FALSE(routes[0].action.retry->on_connect_failure);
  EXPECT_TRUE(routes[0].action.retry->on_status_codes.empty());
  EXPECT_TRUE(routes[0].action.retry->retry_on.empty());
}

TEST(ConsulTrafficPolicy, RetryOnTimeoutsAndHeadersReachTheRoute) {
  auto chain = DecodeDiscoveryChain(ChainWithDestination(R"({"Service":"web","RequestTimeout":"10s",
      "IdleTimeout":"30s","NumRetries":2,"RetryOn":["gateway-error","reset"],"RetryOnConnectFailure":true,
      "RequestHeaders":{"Add":{"x-hop":"gw"},"Set":{"x-env":"prod"},"Remove":["x-debug"]},
      "ResponseHeaders":{"Set":{"cache-control":"no-store"},"Remove":["server"]}})"),
                                    "/v1/discovery-chain/web");
  ASSERT_TRUE(chain.ok()) << chain.status();
  auto routes = ChainRoutes(*chain);
  ASSERT_EQ(routes.size(), 1u);
  const model::RouteAction& a = routes[0].action;
  EXPECT_EQ(a.timeout, std::chrono::milliseconds(10000));
  EXPECT_EQ(a.idle_timeout, std::chrono::milliseconds(30000));
  ASSERT_TRUE(a.retry.has_value());
  EXPECT_THAT(a.retry->retry_on, ElementsAre("gateway-error", "reset"));
  EXPECT_TRUE(a.retry->on_connect_failure);
  EXPECT_THAT(a.request_headers.add, ElementsAre(Pair("x-hop", "gw")));
  EXPECT_THAT(a.request_headers.set, ElementsAre(Pair("x-env", "prod")));
  EXPECT_THAT(a.request_headers.remove, ElementsAre("x-debug"));
  EXPECT_THAT(a.response_headers.set, ElementsAre(Pair("cache-control", "no-store")));
  EXPECT_THAT(a.response_headers.remove, ElementsAre("server"));
}

TEST(ConsulTrafficPolicy, RetryOnWithoutNumRetriesRetriesOnce) {
  auto chain = DecodeDiscoveryChain(ChainWithDestination(R"({"Service":"web","RetryOn":["5xx"]})"),
                                    "/v1/discovery-chain/web");
  ASSERT_TRUE(chain.ok()) << chain.status();
  auto routes = ChainRoutes(*chain);
  ASSERT_TRUE(routes[0].action.retry.has_value());
  EXPECT_EQ(routes[0].action.retry->num_retries, 1u) << "Envoy's default when num_retries is unset";
}

TEST(ConsulTrafficPolicy, ZeroTimeoutsMeanUnset) {
  auto chain = DecodeDiscoveryChain(ChainWithDestination(R"({"Service":"web","RequestTimeout":"0s","IdleTimeout":0})"),
                                    "/v1/discovery-chain/web");
  ASSERT_TRUE(chain.ok()) << chain.status();
  auto routes = ChainRoutes(*chain);
  EXPECT_FALSE(routes[0].action.timeout.has_value());
  EXPECT_FALSE(routes[0].action.idle_timeout.has_value());
}

TEST(ConsulTrafficPolicy, AnUnknownRetryOnNamesTheEntryAndTheField) {
  std::vector<model::Problem> problems;
  auto routers = DecodeChainEntries("service-router", R"([
    {"Kind":"service-router","Name":"web","Routes":[{"Match":{"HTTP":{"PathPrefix":"/"}},
      "Destination":{"Service":"web","NumRetries":2,"RetryOn":["5xx","on-bad-day"]}}]},
    {"Kind":"service-router","Name":"api","Routes":[{"Destination":{"Service":"api","RetryOn":["unavailable"]}}]}
  ])", "/v1/config/service-router", &problems);
  ASSERT_TRUE(routers.ok());
  EXPECT_THAT(*routers, ElementsAre("api")) << "the other entry is unaffected";
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].origin, "service-router/web");
  EXPECT_THAT(problems[0].message, HasSubstr("Routes[0]: Destination.RetryOn[1]"));
  EXPECT_THAT(problems[0].message, HasSubstr("unknown retry condition 'on-bad-day'"));

  auto chain = DecodeDiscoveryChain(ChainWithDestination(R"({"Service":"web","RetryOn":["5XX"]})"),
                                    "/v1/discovery-chain/web");
  ASSERT_FALSE(chain.ok());
  EXPECT_THAT(std::string(chain.status().message()), HasSubstr("Destination.RetryOn[0]: unknown retry condition '5XX'"));
}

TEST(ConsulTrafficPolicy, HeaderRewritesEnvoyWouldRefuseAreErrors) {
  for (const char* bad : {R"({"Service":"web","RequestHeaders":{"Set":{"Host":"evil"}}})",
                          R"({"Service":"web","RequestHeaders":{"Remove":[":authority"]}})",
                          R"({"Service":"web","ResponseHeaders":{"Add":{"x-a":"1\r\nx-b: 2"}}})",
                          R"({"Service":"web","RequestHeaders":{"Add":{"x-a":7}}})",
                          R"({"Service":"web","RequestHeaders":["x-a"]})"}) {
    auto chain = DecodeDiscoveryChain(ChainWithDestination(bad), "/v1/discovery-chain/web");
    ASSERT_FALSE(chain.ok()) << bad;
    EXPECT_THAT(std::string(chain.status().message()), HasSubstr("Destination."));
    EXPECT_THAT(std::string(chain.status().message()), HasSubstr("Headers")) << chain.status();
  }
}

TEST(ConsulTrafficPolicy, IngressServiceHeadersGoOnItsVirtualHost) {
  std::vector<model::Problem> problems;
  auto gws = DecodeIngressGateways(R"([{"Kind":"ingress-gateway","Name":"edge","Listeners":[
      {"Port":8080,"Protocol":"http","Services":[{"Name":"web",
        "RequestHeaders":{"Add":{"x-gateway":"edge"},"Remove":["x-internal"]},
        "ResponseHeaders":{"Set":{"x-frame-options":"DENY"}}}]}]}])",
                                   "/v1/config/ingress-gateway", &problems);
  ASSERT_TRUE(gws.ok()) << gws.status();
  ASSERT_TRUE(problems.empty()) << problems[0].ToString();
  ConsulView view;
  auto chain = DecodeDiscoveryChain(ChainWithDestination(R"({"Service":"web"})"), "/v1/discovery-chain/web");
  ASSERT_TRUE(chain.ok());
  view.services = {{"web", {}}};
  view.chains["web"] = *chain;
  view.ingress = *gws;
  model::World w = BuildWorld(view, &problems);
  ASSERT_TRUE(problems.empty()) << problems[0].ToString();
  const model::VirtualHost& vh = w.gateways.at("edge").listeners.at(0).virtual_hosts.at(0);
  EXPECT_THAT(vh.request_headers.add, ElementsAre(Pair("x-gateway", "edge")));
  EXPECT_THAT(vh.request_headers.remove, ElementsAre("x-internal"));
  EXPECT_THAT(vh.response_headers.set, ElementsAre(Pair("x-frame-options", "DENY")));

  auto bad = DecodeIngressGateways(R"([{"Kind":"ingress-gateway","Name":"edge","Listeners":[
      {"Port":8080,"Protocol":"http","Services":[{"Name":"web","RequestHeaders":{"Set":{":path":"/"}}}]}]}])",
                                   "/v1/config/ingress-gateway", &problems);
  ASSERT_TRUE(bad.ok());
  EXPECT_TRUE(bad->empty());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].origin, "ingress-gateway/edge");
  EXPECT_THAT(problems[0].message, HasSubstr("Listeners[0].Services[0].RequestHeaders.Set.:path"));
}

TEST(ConsulTrafficPolicy, MetaRateLimitsGoOnListenersAndVirtualHosts) {
  std::vector<model::Problem> problems;
  auto gws = DecodeIngressGateways(R"([{"Kind":"ingress-gateway","Name":"edge",
      "Meta":{"owner":"team-a","tern.rate_limit":"100","tern.rate_limit.port.9090":"50:80","tern.rate_limit.service.api":"5:10"},
      "Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"web"},{"Name":"api"}]},
                   {"Port":9090,"Protocol":"http","Services":[{"Name":"web","Hosts":["web.internal"]}]}]}])",
                                   "/v1/config/ingress-gateway", &problems);
  ASSERT_TRUE(gws.ok()) << gws.status();
  ASSERT_TRUE(problems.empty()) << problems[0].ToString();
  ConsulView view;
  for (const char* svc : {"web", "api"}) {
    auto chain = DecodeDiscoveryChain(ChainWithDestination(R"({"Service":"web"})"), "/v1/discovery-chain/web");
    ASSERT_TRUE(chain.ok());
    chain->service = svc;
    view.services[svc] = {};
    view.chains[svc] = *chain;
  }
  view.ingress = *gws;
  model::World w = BuildWorld(view, &problems);
  const auto& listeners = w.gateways.at("edge").listeners;
  ASSERT_EQ(listeners.size(), 2u);
  ASSERT_TRUE(listeners[0].rate_limit.has_value());
  EXPECT_EQ(listeners[0].rate_limit->max_tokens, 100u) << "the gateway-wide bucket, burst = rate";
  EXPECT_EQ(listeners[0].rate_limit->tokens_per_fill, 100u);
  EXPECT_EQ(listeners[1].rate_limit->max_tokens, 80u) << "the port's own bucket";
  EXPECT_EQ(listeners[1].rate_limit->tokens_per_fill, 50u);
  for (const auto& vh : listeners[0].virtual_hosts) {
    if (vh.name == "api") {
      ASSERT_TRUE(vh.rate_limit.has_value());
      EXPECT_EQ(vh.rate_limit->max_tokens, 10u);
    } else {
      EXPECT_FALSE(vh.rate_limit.has_value()) << vh.name;
    }
  }
}

TEST(ConsulTrafficPolicy, BadMetaRateLimitsNameTheEntryAndKey) {
  for (const auto& [meta, want] : std::vector<std::pair<std::string, std::string>>{
           {R"("tern.rate_limit":"-5")", "Meta.tern.rate_limit: '-5' is not a rate"},
           {R"("tern.rate_limit":"0")", "Meta.tern.rate_limit: '0' is not a rate"},
           {R"("tern.rate_limit":"10:x")", "Meta.tern.rate_limit: '10:x' is not a rate"},
           {R"("tern.rate_limit.port.99999":"10")", "Meta.tern.rate_limit.port.99999: '99999' is not a port"},
           {R"("tern.rate_limit.listener.web":"10")", "Meta.tern.rate_limit.listener.web: unknown tern key"}}) {
    std::vector<model::Problem> problems;
    auto gws = DecodeIngressGateways(R"([{"Kind":"ingress-gateway","Name":"edge","Meta":{)" + meta +
                                         R"(},"Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"web"}]}]}])",
                                     "/v1/config/ingress-gateway", &problems);
    ASSERT_TRUE(gws.ok());
    EXPECT_TRUE(gws->empty()) << meta;
    ASSERT_EQ(problems.size(), 1u) << meta;
    EXPECT_EQ(problems[0].origin, "ingress-gateway/edge");
    EXPECT_THAT(problems[0].message, HasSubstr(want));
  }
}

// Meta "tern.vhds" chooses how the gateway's route tables are served; a wrong value is refused
// with the key named, and the gateway left out.
TEST(ConsulTrafficPolicy, MetaVhdsChoosesHowVirtualHostsAreServed) {
  auto decode = [](const std::string& meta, std::vector<model::Problem>* problems) {
    return DecodeIngressGateways(R"([{"Kind":"ingress-gateway","Name":"edge","Meta":{)" + meta +
                                     R"(},"Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"web"}]}]}])",
                                 "/v1/config/ingress-gateway", problems);
  };
  for (const auto& [meta, want] : std::vector<std::pair<std::string, model::VhdsMode>>{
           {R"("owner":"a")", model::VhdsMode::kAuto},
           {R"("tern.vhds":"auto")", model::VhdsMode::kAuto},
           {R"("tern.vhds":"inline")", model::VhdsMode::kInline},
           {R"("tern.vhds":"on_demand","tern.rate_limit":"10")", model::VhdsMode::kOnDemand}}) {
    std::vector<model::Problem> problems;
    auto gws = decode(meta, &problems);
    ASSERT_TRUE(gws.ok()) << gws.status();
    ASSERT_TRUE(problems.empty()) << problems[0].ToString();
    ASSERT_EQ(gws->size(), 1u) << meta;
    EXPECT_EQ(gws->at(0).vhds, want) << meta;
    ConsulView view;
    auto chain = DecodeDiscoveryChain(ChainWithDestination(R"({"Service":"web"})"), "/v1/discovery-chain/web");
    ASSERT_TRUE(chain.ok());
    view.services = {{"web", {}}};
    view.chains["web"] = *chain;
    view.ingress = *gws;
    model::World w = BuildWorld(view, &problems);
    EXPECT_EQ(w.gateways.at("edge").vhds, want) << meta;
  }
  for (const auto& [meta, want] : std::vector<std::pair<std::string, std::string>>{
           {R"("tern.vhds":"yes")", "Meta.tern.vhds: unknown value 'yes' (expected one of: auto, inline, on_demand)"},
           // Consul's Go client reads a bool in a string map as "1" (mapstructure, weakly typed).
           {R"("tern.vhds":true)", "Meta.tern.vhds: unknown value '1' (expected one of: auto, inline, on_demand)"},
           {R"("tern.vhds":{"a":1})", "Meta.tern.vhds: expected a string"}}) {
    std::vector<model::Problem> problems;
    auto gws = decode(meta, &problems);
    ASSERT_TRUE(gws.ok());
    EXPECT_TRUE(gws->empty()) << meta;
    ASSERT_EQ(problems.size(), 1u) << meta;
    EXPECT_EQ(problems[0].origin, "ingress-gateway/edge");
    EXPECT_THAT(problems[0].message, HasSubstr(want));
  }
}

// proxy-defaults as Consul's docs show it: a Zipkin tracer in envoy_tracing_json and its
// collector in envoy_extra_static_clusters_json (Consul 1.5+), AccessLogs (Consul 1.15+).
constexpr char kProxyDefaults[] = R"([{"Kind":"proxy-defaults","Name":"global",
  "Config":{"protocol":"http",
    "envoy_tracing_json":"{\"http\":{\"name\":\"envoy.tracers.zipkin\",\"typedConfig\":{\"@type\":\"type.googleapis.com/envoy.config.trace.v3.ZipkinConfig\",\"collector_cluster\":\"zipkin\",\"collector_endpoint_version\":\"HTTP_JSON\",\"collector_endpoint\":\"/api/v2/spans\",\"shared_span_context\":false}}}",
    "envoy_extra_static_clusters_json":"{\"connect_timeout\":\"3.000s\",\"dns_lookup_family\":\"V4_ONLY\",\"lb_policy\":\"ROUND_ROBIN\",\"load_assignment\":{\"cluster_name\":\"zipkin\",\"endpoints\":[{\"lb_endpoints\":[{\"endpoint\":{\"address\":{\"socket_address\":{\"address\":\"10.5.0.7\",\"port_value\":9411,\"protocol\":\"TCP\"}}}}]}]},\"name\":\"zipkin\",\"type\":\"STRICT_DNS\"}"},
  "AccessLogs":{"Enabled":true,"Type":"file","Path":"/var/log/envoy/access.log",
    "JSONFormat":"{\"status\":\"%RESPONSE_CODE%\",\"path\":\"%REQ(:PATH)%\"}"},
  "MeshGateway":{},"Expose":{},"CreateIndex":5,"ModifyIndex":5}])";

TEST(ConsulProxyDefaults, TracingJsonStaticClustersAndAccessLogsBecomeGatewayDefaults) {
  std::vector<model::Problem> problems;
  auto pd = DecodeProxyDefaults(kProxyDefaults, "/v1/config/proxy-defaults", &problems);
  ASSERT_TRUE(pd.ok()) << pd.status();
  ASSERT_TRUE(problems.empty()) << problems[0].ToString();
  ASSERT_TRUE(pd->has_value());
  const model::GatewayDefaults& d = (*pd)->defaults;
  ASSERT_TRUE(d.tracing.has_value());
  EXPECT_EQ(d.tracing->provider, model::Tracing::Provider::kZipkin);
  EXPECT_EQ(d.tracing->collector_cluster, "zipkin");
  EXPECT_EQ(d.tracing->zipkin_endpoint, "/api/v2/spans");
  ASSERT_EQ((*pd)->clusters.size(), 1u);
  EXPECT_EQ((*pd)->clusters[0].name, "zipkin");
  ASSERT_EQ((*pd)->clusters[0].endpoints.size(), 1u);
  EXPECT_EQ((*pd)->clusters[0].endpoints[0].address, "10.5.0.7");
  EXPECT_EQ((*pd)->clusters[0].endpoints[0].port, 9411u);
  ASSERT_TRUE(d.access_logs.has_value());
  ASSERT_EQ(d.access_logs->size(), 1u);
  EXPECT_EQ((*d.access_logs)[0].sink, model::AccessLog::Sink::kFile);
  EXPECT_EQ((*d.access_logs)[0].path, "/var/log/envoy/access.log");
  EXPECT_THAT((*d.access_logs)[0].json_format, ElementsAre(Pair("path", "%REQ(:PATH)%"), Pair("status", "%RESPONSE_CODE%")));

  ConsulView view;
  view.proxy_defaults = **pd;
  model::World w = BuildWorld(view, &problems);
  ASSERT_TRUE(w.defaults.has_value());
  EXPECT_TRUE(w.clusters.contains("zipkin"));
  EXPECT_TRUE(model::Validate(w).empty());
}

TEST(ConsulProxyDefaults, AnOpenTelemetryTracerWithCamelCaseFieldsIsRead) {
  std::vector<model::Problem> problems;
  auto pd = DecodeProxyDefaults(R"([{"Kind":"proxy-defaults","Name":"global","Config":{"envoy_tracing_json":
    "{\"http\":{\"name\":\"envoy.tracers.opentelemetry\",\"typedConfig\":{\"@type\":\"type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig\",\"grpcService\":{\"envoyGrpc\":{\"clusterName\":\"otel\"}},\"serviceName\":\"ingress\"}}}"}}])",
                                "/v1/config/proxy-defaults", &problems);
  ASSERT_TRUE(pd.ok()) << pd.status();
  ASSERT_TRUE(problems.empty()) << problems[0].ToString();
  EXPECT_EQ((*pd)->defaults.tracing->provider, model::Tracing::Provider::kOpenTelemetry);
  EXPECT_EQ((*pd)->defaults.tracing->collector_cluster, "otel");
  EXPECT_EQ((*pd)->defaults.tracing->service_name, "ingress");
}

// Each broken value: one problem naming proxy-defaults/global and the field; nothing decoded.
TEST(ConsulProxyDefaults, BrokenValuesNameTheEntryAndField) {
  auto problem_of = [](const std::string& entry_fields) {
    std::vector<model::Problem> problems;
    auto pd = DecodeProxyDefaults(R"([{"Kind":"proxy-defaults","Name":"global",)" + entry_fields + "}]",
                                  "/v1/config/proxy-defaults", &problems);
    EXPECT_TRUE(pd.ok());
    EXPECT_FALSE(pd.ok() && pd->has_value()) << entry_fields;
    EXPECT_EQ(problems.size(), 1u) << entry_fields;
    return problems.empty() ? std::string() : problems[0].ToString();
  };
  EXPECT_EQ(problem_of(R"("Config":{"envoy_tracing_json":"{\"http\": {"})"),
            "proxy-defaults/global: Config.envoy_tracing_json: is not valid JSON");
  EXPECT_THAT(problem_of(R"("Config":{"envoy_tracing_json":"{\"http\":{\"name\":\"x\",\"typedConfig\":{\"@type\":\"type.googleapis.com/envoy.config.trace.v3.DatadogConfig\"}}}"})"),
              HasSubstr("proxy-defaults/global: Config.envoy_tracing_json.http.typed_config.@type: 'type.googleapis.com/envoy.config.trace.v3.DatadogConfig' is not a tracer"));
  EXPECT_THAT(problem_of(R"("Config":{"envoy_tracing_json":"{\"tracing\":{}}"})"),
              HasSubstr("Config.envoy_tracing_json.http: is required"));
  EXPECT_THAT(problem_of(R"("Config":{"envoy_extra_static_clusters_json":"{\"name\":\"z\",\"load_assignment\":{\"endpoints\":[{\"lb_endpoints\":[{\"endpoint\":{\"address\":{\"socket_address\":{\"address\":\"zipkin.local\",\"port_value\":9411}}}}]}]}}"})"),
              HasSubstr("address: 'zipkin.local' is not an IP address"));
  EXPECT_THAT(problem_of(R"("AccessLogs":{"Enabled":true,"Type":"syslog"})"), HasSubstr("AccessLogs.Type: must be file, stdout or stderr"));
  EXPECT_THAT(problem_of(R"("AccessLogs":{"Enabled":true,"Type":"file"})"), HasSubstr("AccessLogs.Path: is required"));
  EXPECT_THAT(problem_of(R"("AccessLogs":{"Enabled":true,"JSONFormat":"{not json"})"), HasSubstr("AccessLogs.JSONFormat: is not valid JSON"));
}

TEST(ConsulProxyDefaults, DisabledAccessLogsAndOtherEntriesAreNoDefaults) {
  std::vector<model::Problem> problems;
  auto pd = DecodeProxyDefaults(R"([{"Kind":"proxy-defaults","Name":"global","AccessLogs":{"Enabled":false,"Type":"stdout"}},
                                    {"Kind":"proxy-defaults","Name":"other","Config":{"envoy_tracing_json":"broken"}}])",
                                "/v1/config/proxy-defaults", &problems);
  ASSERT_TRUE(pd.ok());
  EXPECT_TRUE(problems.empty());
  ASSERT_TRUE(pd->has_value());
  EXPECT_FALSE((*pd)->defaults.access_logs.has_value());
  ConsulView view;
  view.proxy_defaults = **pd;
  EXPECT_FALSE(BuildWorld(view, &problems).defaults.has_value());
}

}  // namespace
}  // namespace tern::sources::consul
