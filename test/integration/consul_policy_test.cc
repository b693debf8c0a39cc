// Traffic policy from real Consul 1.8.7 config entries, read by a raw xDS client as the gateway
// Envoy would receive it: the real `build/tern serve`, a real `consul agent -dev`.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/type_urls.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/config/trace/v3/zipkin.pb.h"
#include "envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "integration/consul_agent.h"
#include "support/http_get.h"
#include "support/process.h"
#include "support/raw_xds_client.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"
#include "translate/pgv_validator.h"

namespace tern::testing {
namespace {

using envoy::config::route::v3::RouteConfiguration;


class ConsulPolicyTest : public TernTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(Started(ConsulAgent::Start(dir_.path()), &consul_));
    StartTern({.extra_config = absl::StrCat("consul: { address: \"", consul_->address(), "\" }\n")});
  }

  // Subscribes as an Envoy of gateway `edge` to route configuration `name` and returns the
  // first version whose web route satisfies `want`, ACKing the ones before it.
  template <typename Want>
  std::optional<RouteConfiguration> RouteUntil(const std::string& name, Want want, milliseconds timeout) {
    RawXdsClient client(tern_->xds_address(), kAdsMethod);
    const std::string type(kRouteType);
    if (!client.Send(RawXdsClient::Request(type, {name}, "", "", "edge", "envoy-1"))) return std::nullopt;
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto r = client.Next(milliseconds(500));
      if (!r) continue;
      for (const auto& any : r->resources()) {
        RouteConfiguration rc;
        if (any.UnpackTo(&rc) && rc.name() == name && want(rc)) return rc;
      }
      client.Send(RawXdsClient::Request(type, {name}, r->version_info(), r->nonce(), "edge", "envoy-1"));
    }
    return std::nullopt;
  }

  std::unique_ptr<ConsulAgent> consul_;
};

const envoy::config::route::v3::Route* RouteWithPrefix(const RouteConfiguration& rc, const std::string& prefix) {
  for (const auto& vh : rc.virtual_hosts()) {
    for (const auto& r : vh.routes()) {
      if (r.match().prefix() == prefix) return &r;
    }
  }
  return nullptr;
}

// The operator wrote NumRetries and nothing else, as many Consul 1.8 users do. The gateway gets
// what Consul's own Envoy would: three retries of what a request asks for, no implied conditions.
TEST_F(ConsulPolicyTest, NumRetriesAloneReachesTheGatewayAsConsulConfiguresIt) {
  for (const char* svc : {"web", "api"}) {
    ASSERT_TRUE(consul_->PutConfig(absl::StrCat(R"({"Kind":"service-defaults","Name":")", svc, R"(","Protocol":"http"})")).ok());
    ASSERT_TRUE(consul_->Register(svc, std::string(svc) + "-1", 18080).ok());
  }
  ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"service-router","Name":"web","Routes":[
    {"Match":{"HTTP":{"PathPrefix":"/api"}},"Destination":{"Service":"api","NumRetries":3,"RequestTimeout":"12s"}},
    {"Match":{"HTTP":{"PathPrefix":"/flaky"}},"Destination":{"Service":"api","NumRetries":2,"RetryOnConnectFailure":true}}]})").ok());
  ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"ingress-gateway","Name":"edge",
    "Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"web"}]}]})").ok());

  auto rc = RouteUntil("http_8080", [](const RouteConfiguration& rc) {
    return RouteWithPrefix(rc, "/api") != nullptr && RouteWithPrefix(rc, "/flaky") != nullptr;
  }, seconds(15));
  ASSERT_TRUE(rc.has_value()) << "the gateway never received both routes";
  const auto& api = RouteWithPrefix(*rc, "/api")->route();
  EXPECT_EQ(api.cluster(), "api.default.dc1");
  EXPECT_EQ(api.timeout().seconds(), 12);
  ASSERT_TRUE(api.has_retry_policy());
  EXPECT_EQ(api.retry_policy().num_retries().value(), 3u);
  EXPECT_EQ(api.retry_policy().retry_on(), "") << "Consul sends no condition for NumRetries alone";
  const auto& flaky = RouteWithPrefix(*rc, "/flaky")->route();
  EXPECT_EQ(flaky.retry_policy().num_retries().value(), 2u);
  EXPECT_EQ(flaky.retry_policy().retry_on(), "connect-failure");
  EXPECT_TRUE(translate::ValidateResource(*rc).empty()) << translate::ValidateResource(*rc).front();
}

// proxy-defaults "global" with Consul's escape hatches for tracing, as Consul 1.8's docs show
// them: the ingress gateway's Envoys get the Zipkin tracer on their HTTP listener and the
// collector cluster over CDS. Then a broken envoy_tracing_json: one error naming the entry and
// field, and the gateway keeps its tracer.
TEST_F(ConsulPolicyTest, ProxyDefaultsTracingReachesTheIngressGateway) {
  ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"service-defaults","Name":"web","Protocol":"http"})").ok());
  ASSERT_TRUE(consul_->Register("web", "web-1", 18080).ok());
  ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"ingress-gateway","Name":"edge",
    "Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"web"}]}]})").ok());
  const std::string tracing =
      R"({\"http\":{\"name\":\"envoy.tracers.zipkin\",\"typedConfig\":{\"@type\":\"type.googleapis.com/envoy.config.trace.v3.ZipkinConfig\",\"collector_cluster\":\"zipkin\",\"collector_endpoint_version\":\"HTTP_JSON\",\"collector_endpoint\":\"/api/v2/spans\"}}})";
  const std::string clusters =
      R"({\"name\":\"zipkin\",\"type\":\"STATIC\",\"connect_timeout\":\"3s\",\"load_assignment\":{\"cluster_name\":\"zipkin\",\"endpoints\":[{\"lb_endpoints\":[{\"endpoint\":{\"address\":{\"socket_address\":{\"address\":\"127.0.0.1\",\"port_value\":9411}}}}]}]}})";
  ASSERT_TRUE(consul_->PutConfig(absl::StrCat(R"({"Kind":"proxy-defaults","Name":"global","Config":{"envoy_tracing_json":")",
                                              tracing, R"(","envoy_extra_static_clusters_json":")", clusters, R"("}})"))
                  .ok());

  using envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
  auto traced = [&](std::string* collector) {
    RawXdsClient client(tern_->xds_address(), kAdsMethod);
    client.Send(RawXdsClient::Request(std::string(kListenerType), {}, "", "", "edge", "envoy-1"));
    auto r = client.Next(seconds(5));
    if (!r) return false;
    for (const auto& any : r->resources()) {
      envoy::config::listener::v3::Listener l;
      if (!any.UnpackTo(&l) || l.name() != "http_8080") continue;
      HttpConnectionManager hcm;
      if (!l.filter_chains(0).filters(0).typed_config().UnpackTo(&hcm) || !hcm.has_tracing()) return false;
      envoy::config::trace::v3::ZipkinConfig z;
      if (!hcm.tracing().provider().typed_config().UnpackTo(&z)) return false;
      *collector = z.collector_cluster();
      // The validator resolves every Any through the generated pool: link the router's type in.
      envoy::extensions::filters::http::router::v3::Router::descriptor();
      for (const auto& problem : translate::ValidateResource(l)) ADD_FAILURE() << problem;
      return true;
    }
    return false;
  };
  std::string collector;
  const auto deadline = Clock::now() + seconds(15);
  while (!traced(&collector) && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(200));
  ASSERT_EQ(collector, "zipkin") << "the gateway never received the tracer";

  // The collector cluster is among the gateway's clusters.
  RawXdsClient cds(tern_->xds_address(), kAdsMethod);
  ASSERT_TRUE(cds.Send(RawXdsClient::Request(std::string(kClusterType), {}, "", "", "edge", "envoy-1")));
  auto clusters_response = cds.Next(seconds(5));
  ASSERT_TRUE(clusters_response.has_value());
  bool has_zipkin = false;
  for (const auto& any : clusters_response->resources()) {
    envoy::config::cluster::v3::Cluster c;
    if (any.UnpackTo(&c) && c.name() == "zipkin") has_zipkin = true;
  }
  EXPECT_TRUE(has_zipkin);

  // A broken envoy_tracing_json: reported with the entry and field; the tracer stays.
  ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"proxy-defaults","Name":"global","Config":{"envoy_tracing_json":"{\"http\": "}})").ok());
  std::string sources;
  const auto until2 = Clock::now() + seconds(15);
  while (Clock::now() < until2) {
    auto body = HttpGet("127.0.0.1", tern_->admin_port(), "/debug/sources");
    sources = body.ok() ? body->body : "";
    if (sources.find("proxy-defaults/global") != std::string::npos) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_NE(sources.find("Config.envoy_tracing_json: is not valid JSON"), std::string::npos) << sources;
  collector.clear();
  EXPECT_TRUE(traced(&collector));
  EXPECT_EQ(collector, "zipkin") << "the last good tracer keeps serving";
}

// Rate limits for a gateway defined in Consul come from tern keys in the ingress-gateway entry's
// Meta (Consul 1.8 keeps Meta on config entries): the gateway's listener gets the local rate-limit
// filter with the gateway's bucket, the exposed service's virtual host its own bucket. A bad value
// is one error naming the entry and key, and the gateway keeps its limits.
TEST_F(ConsulPolicyTest, IngressGatewayMetaRateLimitsReachTheGateway) {
  using envoy::extensions::filters::http::local_ratelimit::v3::LocalRateLimit;
  using envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
  ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"service-defaults","Name":"web","Protocol":"http"})").ok());
  ASSERT_TRUE(consul_->Register("web", "web-1", 18080).ok());
  ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"ingress-gateway","Name":"edge",
    "Meta":{"tern.rate_limit":"100:200","tern.rate_limit.service.web":"10:20"},
    "Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"web"}]}]})").ok());

  auto listener_bucket = [&]() -> std::optional<LocalRateLimit> {
    RawXdsClient client(tern_->xds_address(), kAdsMethod);
    client.Send(RawXdsClient::Request(std::string(kListenerType), {}, "", "", "edge", "envoy-1"));
    auto r = client.Next(seconds(5));
    if (!r) return std::nullopt;
    for (const auto& any : r->resources()) {
      envoy::config::listener::v3::Listener l;
      if (!any.UnpackTo(&l) || l.name() != "http_8080") continue;
      HttpConnectionManager hcm;
      if (!l.filter_chains(0).filters(0).typed_config().UnpackTo(&hcm)) return std::nullopt;
      for (const auto& f : hcm.http_filters()) {
        LocalRateLimit limit;
        if (f.name() == "envoy.filters.http.local_ratelimit" && f.typed_config().UnpackTo(&limit)) return limit;
      }
    }
    return std::nullopt;
  };
  std::optional<LocalRateLimit> bucket;
  const auto deadline = Clock::now() + seconds(15);
  while (!(bucket = listener_bucket()) && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(200));
  ASSERT_TRUE(bucket.has_value()) << "the gateway never received the rate-limit filter";
  EXPECT_EQ(bucket->token_bucket().max_tokens(), 200u);
  EXPECT_EQ(bucket->token_bucket().tokens_per_fill().value(), 100u);

  auto rc = RouteUntil("http_8080", [](const RouteConfiguration& rc) {
    return rc.virtual_hosts_size() > 0 && rc.virtual_hosts(0).typed_per_filter_config().contains("envoy.filters.http.local_ratelimit");
  }, seconds(10));
  ASSERT_TRUE(rc.has_value());
  LocalRateLimit vh;
  ASSERT_TRUE(rc->virtual_hosts(0).typed_per_filter_config().at("envoy.filters.http.local_ratelimit").UnpackTo(&vh));
  EXPECT_EQ(vh.token_bucket().max_tokens(), 20u);
  EXPECT_EQ(vh.token_bucket().tokens_per_fill().value(), 10u);
  EXPECT_TRUE(translate::ValidateResource(*rc).empty());

  ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"ingress-gateway","Name":"edge","Meta":{"tern.rate_limit":"-5"},
    "Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"web"}]}]})").ok());
  std::string sources;
  const auto until = Clock::now() + seconds(15);
  while (Clock::now() < until) {
    auto body = HttpGet("127.0.0.1", tern_->admin_port(), "/debug/sources");
    sources = body.ok() ? body->body : "";
    if (sources.find("Meta.tern.rate_limit") != std::string::npos) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_NE(sources.find("ingress-gateway/edge"), std::string::npos) << sources;
  EXPECT_NE(sources.find("Meta.tern.rate_limit: '-5' is not a rate"), std::string::npos) << sources;
  auto kept = listener_bucket();
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->token_bucket().max_tokens(), 200u) << "the last good entry keeps serving";
}

// Meta "tern.vhds": on_demand serves the ingress gateway's route table over VHDS (the route
// configuration names it and holds no host; the exposed service's virtual host answers its
// default Consul host "<service>.ingress.*" on the VHDS stream); inline brings the table back.
TEST_F(ConsulPolicyTest, IngressGatewayMetaVhdsServesVirtualHostsOnDemand) {
  ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"service-defaults","Name":"web","Protocol":"http"})").ok());
  ASSERT_TRUE(consul_->Register("web", "web-1", 18080).ok());
  ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"ingress-gateway","Name":"edge","Meta":{"tern.vhds":"on_demand"},
    "Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"web"}]}]})").ok());
  auto rc = RouteUntil("http_8080", [](const RouteConfiguration& rc) { return rc.has_vhds(); }, seconds(15));
  ASSERT_TRUE(rc.has_value()) << "the route configuration never named VHDS";
  EXPECT_EQ(rc->virtual_hosts_size(), 0);
  EXPECT_TRUE(translate::ValidateResource(*rc).empty());

  RawXdsClient vhds(tern_->xds_address(), "/envoy.service.route.v3.VirtualHostDiscoveryService/DeltaVirtualHosts");
  DeltaDiscoveryRequest req;
  req.set_type_url(std::string(kVirtualHostType));
  req.mutable_node()->set_id("envoy-1");
  req.mutable_node()->set_cluster("edge");
  req.add_resource_names_subscribe("http_8080/web.ingress.example.com:8080");
  ASSERT_TRUE(vhds.Send(req));
  auto r = vhds.NextDelta(seconds(10));
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->resources_size(), 1);
  ASSERT_TRUE(r->resources(0).has_resource()) << "web's host was not found";
  envoy::config::route::v3::VirtualHost vh;
  ASSERT_TRUE(r->resources(0).resource().UnpackTo(&vh));
  EXPECT_EQ(vh.name(), "http_8080/web");
  EXPECT_TRUE(translate::ValidateResource(vh).empty());

  ASSERT_TRUE(consul_->PutConfig(R"({"Kind":"ingress-gateway","Name":"edge","Meta":{"tern.vhds":"inline"},
    "Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"web"}]}]})").ok());
  auto back = RouteUntil("http_8080", [](const RouteConfiguration& rc) { return !rc.has_vhds(); }, seconds(15));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->virtual_hosts_size(), 1);
}

}  // namespace
}  // namespace tern::testing
