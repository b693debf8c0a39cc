// Traffic policy a gateway receives on its routes: retries as Consul configures them, request
// and idle timeouts, and header rewrites on routes and virtual hosts; every result passes
// Envoy's validation rules.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "envoy/config/route/v3/route.pb.h"
#include "translate/pgv_validator.h"
#include "translate/translator.h"
#include "translate/worlds.h"

namespace tern::translate {
namespace {

using envoy::config::core::v3::HeaderValueOption;
using envoy::config::route::v3::RouteConfiguration;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::Find;
using testing::Forward;
using testing::MakeCluster;

// One gateway "g" with one HTTP listener "g-http" whose only host serves `route`.
model::World OneRoute(model::Route route, model::VirtualHost vh = {}) {
  model::World w;
  w.clusters["web"] = MakeCluster("web", {testing::Ep("10.0.0.1", 8080)});
  model::Listener l;
  l.name = "g-http";
  l.port = 8080;
  vh.name = "web";
  vh.domains = {"*"};
  route.name = "r";
  vh.routes = {std::move(route)};
  l.virtual_hosts = {std::move(vh)};
  w.gateways["g"] = model::Gateway{.name = "g", .listeners = {l}, .origin = "test"};
  return w;
}

const RouteConfiguration& RouteConfig(const Translation& t) {
  const auto* rc = Find<RouteConfiguration>(t.gateways.at("g").routes, "g-http");
  if (rc == nullptr) {
    ADD_FAILURE() << "no route configuration g-http";
    static const RouteConfiguration kNone;
    return kNone;
  }
  return *rc;
}

void ExpectValid(const Translation& t) {
  for (const auto& nm : t.gateways.at("g").routes) EXPECT_THAT(ValidateResource(*nm.message), IsEmpty()) << nm.name;
  for (const auto& nm : t.gateways.at("g").listeners) EXPECT_THAT(ValidateResource(*nm.message), IsEmpty()) << nm.name;
}

// Consul's NumRetries with no RetryOn, RetryOnConnectFailure or RetryOnStatusCodes: Consul's own
// Envoy route has num_retries and an empty retry_on, so the proxy retries up to that many times
// the conditions a request asks for in x-envoy-retry-on. tern sends exactly that.
TEST(TrafficPolicyTest, NumRetriesAloneIsSentAsConsulSendsIt) {
  model::Route r = Forward("/", {{"web", 1}});
  r.action.retry = model::RetryPolicy{.num_retries = 4};
  const Translation t = Translate(OneRoute(r));
  const auto& route = RouteConfig(t).virtual_hosts(0).routes(0).route();
  ASSERT_TRUE(route.has_retry_policy());
  EXPECT_EQ(route.retry_policy().num_retries().value(), 4u);
  EXPECT_EQ(route.retry_policy().retry_on(), "");
  EXPECT_EQ(route.retry_policy().retriable_status_codes_size(), 0);
  ExpectValid(t);
}

TEST(TrafficPolicyTest, RetryOnListComesFirstAndConditionsAreNotRepeated) {
  model::Route r = Forward("/", {{"web", 1}});
  r.action.retry = model::RetryPolicy{.num_retries = 2,
                                      .on_connect_failure = true,
                                      .on_status_codes = {502, 503},
                                      .retry_on = {"gateway-error", "connect-failure", "unavailable"}};
  const Translation t = Translate(OneRoute(r));
  const auto& retry = RouteConfig(t).virtual_hosts(0).routes(0).route().retry_policy();
  EXPECT_EQ(retry.retry_on(), "gateway-error,connect-failure,unavailable,retriable-status-codes");
  EXPECT_THAT(retry.retriable_status_codes(), ElementsAre(502u, 503u));
  ExpectValid(t);
}

TEST(TrafficPolicyTest, RequestAndIdleTimeoutsReachTheRouteAction) {
  model::Route r = Forward("/", {{"web", 1}});
  r.action.timeout = std::chrono::milliseconds(30000);
  r.action.idle_timeout = std::chrono::milliseconds(0);  // 0: the stream may idle forever
  const Translation t = Translate(OneRoute(r));
  const auto& route = RouteConfig(t).virtual_hosts(0).routes(0).route();
  EXPECT_EQ(route.timeout().seconds(), 30);
  ASSERT_TRUE(route.has_idle_timeout());
  EXPECT_EQ(route.idle_timeout().seconds(), 0);
  EXPECT_EQ(route.idle_timeout().nanos(), 0);
  ExpectValid(t);

  r.action.idle_timeout = std::chrono::milliseconds(1500);
  const Translation t2 = Translate(OneRoute(r));
  const auto& idle = RouteConfig(t2).virtual_hosts(0).routes(0).route().idle_timeout();
  EXPECT_EQ(idle.seconds(), 1);
  EXPECT_EQ(idle.nanos(), 500000000);
}

TEST(TrafficPolicyTest, AnUnsetIdleTimeoutLeavesEnvoysDefault) {
  const Translation t = Translate(OneRoute(Forward("/", {{"web", 1}})));
  EXPECT_FALSE(RouteConfig(t).virtual_hosts(0).routes(0).route().has_idle_timeout());
}

// Consul's Add appends to what the request already carries, Set replaces it.
TEST(TrafficPolicyTest, HeaderRulesBecomeAppendOrOverwriteAndRemovals) {
  model::Route r = Forward("/", {{"web", 1}});
  r.action.request_headers = {.add = {{"x-trace-hop", "gw"}}, .set = {{"x-env", "prod"}}, .remove = {"x-debug"}};
  r.action.response_headers = {.add = {}, .set = {{"strict-transport-security", "max-age=31536000"}}, .remove = {"server"}};
  model::VirtualHost vh;
  vh.request_headers = {.add = {}, .set = {{"x-gateway", "edge"}}, .remove = {}};
  vh.response_headers = {.add = {{"x-served-by", "tern"}}, .set = {}, .remove = {"x-powered-by"}};
  const Translation t = Translate(OneRoute(r, vh));
  const auto& v = RouteConfig(t).virtual_hosts(0);
  const auto& route = v.routes(0);

  ASSERT_EQ(route.request_headers_to_add_size(), 2);
  EXPECT_EQ(route.request_headers_to_add(0).header().key(), "x-trace-hop");
  EXPECT_EQ(route.request_headers_to_add(0).header().value(), "gw");
  EXPECT_EQ(route.request_headers_to_add(0).append_action(), HeaderValueOption::APPEND_IF_EXISTS_OR_ADD);
  EXPECT_EQ(route.request_headers_to_add(1).header().key(), "x-env");
  EXPECT_EQ(route.request_headers_to_add(1).append_action(), HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD);
  EXPECT_FALSE(route.request_headers_to_add(1).has_append()) << "Envoy refuses append together with append_action";
  EXPECT_THAT(route.request_headers_to_remove(), ElementsAre("x-debug"));
  ASSERT_EQ(route.response_headers_to_add_size(), 1);
  EXPECT_EQ(route.response_headers_to_add(0).header().key(), "strict-transport-security");
  EXPECT_THAT(route.response_headers_to_remove(), ElementsAre("server"));

  ASSERT_EQ(v.request_headers_to_add_size(), 1);
  EXPECT_EQ(v.request_headers_to_add(0).header().key(), "x-gateway");
  EXPECT_EQ(v.request_headers_to_add(0).append_action(), HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD);
  ASSERT_EQ(v.response_headers_to_add_size(), 1);
  EXPECT_EQ(v.response_headers_to_add(0).append_action(), HeaderValueOption::APPEND_IF_EXISTS_OR_ADD);
  EXPECT_THAT(v.response_headers_to_remove(), ElementsAre("x-powered-by"));
  ExpectValid(t);
}

TEST(TrafficPolicyTest, SourcesRefuseHeadersEnvoyWouldRefuse) {
  EXPECT_EQ(model::HeaderNameProblem("x-ok"), "");
  EXPECT_NE(model::HeaderNameProblem(""), "");
  EXPECT_NE(model::HeaderNameProblem(":path"), "");
  EXPECT_NE(model::HeaderNameProblem("Host"), "");
  EXPECT_NE(model::HeaderNameProblem("x bad"), "");
  EXPECT_EQ(model::HeaderValueProblem("a, b; c=d"), "");
  EXPECT_NE(model::HeaderValueProblem("a\r\nx-injected: 1"), "");
  EXPECT_TRUE(model::IsRetryCondition("5xx"));
  EXPECT_TRUE(model::IsRetryCondition("unavailable"));
  EXPECT_FALSE(model::IsRetryCondition("5XX"));
  EXPECT_FALSE(model::IsRetryCondition("timeout"));
}

}  // namespace
}  // namespace tern::translate
