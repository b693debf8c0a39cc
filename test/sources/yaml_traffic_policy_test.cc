// Route traffic policy written in tern's files: retries, timeouts and header rewrites, and the
// errors an operator sees for values Envoy would refuse or ignore.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sources/file/yaml_decoder.h"

namespace tern::sources::file {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

std::string GatewayWithRoute(const std::string& route_extra, const std::string& vhost_extra = "") {
  return "services:\n"
         "  - name: web\n"
         "    endpoints: [{address: 10.0.0.1, port: 8080}]\n"
         "gateways:\n"
         "  - name: edge\n"
         "    listeners:\n"
         "      - name: edge-http\n"
         "        port: 8080\n"
         "        virtual_hosts:\n"
         "          - name: web\n" +
         vhost_extra +
         "            routes:\n"
         "              - service: web\n" +
         route_extra;
}

TEST(YamlTrafficPolicy, TimeoutsHeadersAndRetriesAreRead) {
  std::vector<model::Problem> problems;
  auto w = DecodeServicesYaml(GatewayWithRoute("                timeout: 10s\n"
                                               "                idle_timeout: 5m\n"
                                               "                retries: {num_retries: 2, retry_on: [gateway-error]}\n"
                                               "                request_headers:\n"
                                               "                  add: {x-hop: gw}\n"
                                               "                  set: {x-env: prod}\n"
                                               "                  remove: [x-debug]\n"
                                               "                response_headers: {remove: [server]}\n",
                                               "            response_headers: {set: {x-frame-options: DENY}}\n"),
                              "services.yaml", &problems);
  ASSERT_TRUE(w.ok()) << w.status();
  const model::VirtualHost& vh = w->gateways.at("edge").listeners.at(0).virtual_hosts.at(0);
  const model::RouteAction& a = vh.routes.at(0).action;
  EXPECT_EQ(a.timeout, std::chrono::milliseconds(10000));
  EXPECT_EQ(a.idle_timeout, std::chrono::milliseconds(300000));
  EXPECT_THAT(a.retry->retry_on, ElementsAre("gateway-error"));
  EXPECT_THAT(a.request_headers.add, ElementsAre(Pair("x-hop", "gw")));
  EXPECT_THAT(a.request_headers.set, ElementsAre(Pair("x-env", "prod")));
  EXPECT_THAT(a.request_headers.remove, ElementsAre("x-debug"));
  EXPECT_THAT(a.response_headers.remove, ElementsAre("server"));
  EXPECT_THAT(vh.response_headers.set, ElementsAre(Pair("x-frame-options", "DENY")));
}

std::vector<std::string> ProblemsOf(const std::string& text) {
  std::vector<model::Problem> problems;
  auto w = DecodeServicesYaml(text, "services.yaml", &problems);
  EXPECT_FALSE(w.ok()) << text;
  std::vector<std::string> out;
  for (const auto& p : problems) out.push_back(p.ToString());
  return out;
}

TEST(YamlTrafficPolicy, AnUnknownRetryConditionNamesTheFileLineAndEntry) {
  auto problems = ProblemsOf(GatewayWithRoute("                retries: {num_retries: 2, retry_on: [5xx, sometimes]}\n"));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], HasSubstr("services.yaml:13:"));
  EXPECT_THAT(problems[0], HasSubstr("gateways[0].listeners[0].virtual_hosts[0].routes[0].retries.retry_on[1]"));
  EXPECT_THAT(problems[0], HasSubstr("unknown retry condition 'sometimes'"));
}

TEST(YamlTrafficPolicy, HeaderRewritesEnvoyWouldRefuseAreErrors) {
  auto host = ProblemsOf(GatewayWithRoute("                request_headers: {set: {host: evil.example}}\n"));
  ASSERT_EQ(host.size(), 1u);
  EXPECT_THAT(host[0], HasSubstr("routes[0].request_headers.set.host: the host header cannot be rewritten"));

  auto pseudo = ProblemsOf(GatewayWithRoute("                request_headers: {remove: [':path']}\n"));
  ASSERT_EQ(pseudo.size(), 1u);
  EXPECT_THAT(pseudo[0], HasSubstr("routes[0].request_headers.remove[0]: pseudo-header ':path'"));

  auto typo = ProblemsOf(GatewayWithRoute("                request_headers: {append: {x-a: b}}\n"));
  ASSERT_EQ(typo.size(), 1u);
  EXPECT_THAT(typo[0], HasSubstr("request_headers.append"));

  auto negative = ProblemsOf(GatewayWithRoute("                idle_timeout: -5s\n"));
  ASSERT_EQ(negative.size(), 1u);
  EXPECT_THAT(negative[0], HasSubstr("routes[0].idle_timeout"));
}

constexpr char kTelemetry[] = R"(services:
  - name: web
    endpoints: [{address: 10.0.0.1, port: 8080}]
  - name: otel
    protocol: grpc
    endpoints: [{address: 10.0.9.1, port: 4317}]
defaults:
  tracing:
    provider: opentelemetry
    collector: otel
    random_sampling: 5.5
    tags:
      - {tag: env, literal: prod}
      - {tag: tenant, request_header: x-tenant, default: none}
      - {tag: zone, environment: ZONE}
  access_logs:
    - {type: stdout}
  request_id: {preserve_external: true, always_in_response: true}
gateways:
  - name: edge
    access_logs:
      - type: file
        path: /var/log/envoy/edge.json
        status_codes: [{min: 500, max: 599}, {min: 429, max: 429}]
        sample_percent: 50
      - {type: stderr, text_format: "%RESPONSE_CODE%\n"}
    listeners:
      - name: edge-http
        port: 8080
        rate_limit: {requests_per_second: 100, burst: 200, response_headers: true}
        virtual_hosts:
          - name: web
            rate_limit: {max_tokens: 50, tokens_per_fill: 10, fill_interval: 100ms}
            routes:
              - service: web
                rate_limit: {requests_per_second: 5, status: 503}
)";

TEST(YamlTrafficPolicy, TelemetryDefaultsAndRateLimitsAreRead) {
  std::vector<model::Problem> problems;
  auto w = DecodeServicesYaml(kTelemetry, "services.yaml", &problems);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE(w->defaults.has_value());
  const model::Tracing& t = *w->defaults->tracing;
  EXPECT_EQ(t.collector_cluster, "otel");
  EXPECT_DOUBLE_EQ(t.random_sampling, 5.5);
  ASSERT_EQ(t.tags.size(), 3u);
  EXPECT_EQ(t.tags[1].kind, model::Tracing::Tag::Kind::kRequestHeader);
  EXPECT_EQ(t.tags[1].default_value, "none");
  EXPECT_EQ(t.tags[2].kind, model::Tracing::Tag::Kind::kEnvironment);
  EXPECT_TRUE(w->defaults->request_id->preserve_external);
  const model::Gateway& g = w->gateways.at("edge");
  EXPECT_FALSE(g.tracing.has_value()) << "the default applies";
  ASSERT_EQ(g.access_logs->size(), 2u);
  EXPECT_EQ((*g.access_logs)[0].sink, model::AccessLog::Sink::kFile);
  ASSERT_EQ((*g.access_logs)[0].status_ranges.size(), 2u);
  EXPECT_EQ((*g.access_logs)[0].status_ranges[1].min, 429u);
  EXPECT_DOUBLE_EQ((*g.access_logs)[0].sample_percent, 50);
  EXPECT_EQ((*g.access_logs)[1].text_format, "%RESPONSE_CODE%\n");
  const model::Listener& l = g.listeners.at(0);
  EXPECT_EQ(l.rate_limit->max_tokens, 200u);
  EXPECT_EQ(l.rate_limit->tokens_per_fill, 100u);
  EXPECT_TRUE(l.rate_limit->response_headers);
  EXPECT_EQ(l.virtual_hosts[0].rate_limit->fill_interval, std::chrono::milliseconds(100));
  EXPECT_EQ(l.virtual_hosts[0].routes[0].rate_limit->status, 503u);
  EXPECT_TRUE(model::Validate(*w).empty());
}

// Each bad value: one problem, naming file, line and key path.
TEST(YamlTrafficPolicy, BadTelemetryAndRateLimitsNameTheKey) {
  auto one = [](const std::string& from, const std::string& to) {
    std::string text = kTelemetry;
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    auto problems = ProblemsOf(text);
    EXPECT_EQ(problems.size(), 1u) << ::testing::PrintToString(problems);
    return problems.empty() ? std::string() : problems[0];
  };
  EXPECT_THAT(one("random_sampling: 5.5", "random_sampling: 120"),
              HasSubstr("services.yaml:11:5 defaults.tracing.random_sampling: 120 is out of range 0..100"));
  EXPECT_THAT(one("random_sampling: 5.5", "random_sampling: -1"), HasSubstr("defaults.tracing.random_sampling: -1 is out of range"));
  EXPECT_THAT(one("random_sampling: 5.5", "random_sampling: lots"), HasSubstr("defaults.tracing.random_sampling: 'lots' is not a number"));
  EXPECT_THAT(one("provider: opentelemetry", "provider: jaeger"), HasSubstr("defaults.tracing.provider"));
  EXPECT_THAT(one("    collector: otel\n", ""), HasSubstr("defaults.tracing.collector: is required"));
  EXPECT_THAT(one("{tag: env, literal: prod}", "{tag: env, literal: prod, environment: X}"),
              HasSubstr("defaults.tracing.tags[0].tag: a tag takes exactly one of"));
  EXPECT_THAT(one("{type: stdout}", "{type: syslog}"), HasSubstr("defaults.access_logs[0].type"));
  EXPECT_THAT(one("        path: /var/log/envoy/edge.json\n", ""), HasSubstr("gateways[0].access_logs[0].path: type file needs a path"));
  EXPECT_THAT(one("{min: 500, max: 599}", "{min: 500, max: 700}"),
              HasSubstr("gateways[0].access_logs[0].status_codes[0].max: 700 is out of range 100..599"));
  EXPECT_THAT(one("sample_percent: 50", "sample_percent: 101"), HasSubstr("gateways[0].access_logs[0].sample_percent"));
  EXPECT_THAT(one("sample_percent: 50", "sample_percent: 50\n        listener: maybe"),
              HasSubstr("gateways[0].access_logs[0].listener"));
  EXPECT_THAT(one("requests_per_second: 100", "requests_per_second: -100"),
              HasSubstr("gateways[0].listeners[0].rate_limit.requests_per_second: '-100' is not a whole number"));
  EXPECT_THAT(one("fill_interval: 100ms", "fill_interval: 10ms"),
              HasSubstr("virtual_hosts[0].rate_limit.fill_interval: must be at least 50ms"));
  EXPECT_THAT(one("{requests_per_second: 5, status: 503}", "{status: 503}"),
              HasSubstr("routes[0].rate_limit.max_tokens: a rate limit needs requests_per_second or max_tokens"));
}

TEST(YamlTrafficPolicy, ServiceRoutesCannotBeRateLimited) {
  auto problems = ProblemsOf("services:\n"
                             "  - name: api\n"
                             "    protocol: grpc\n"
                             "    endpoints: [{address: 10.0.0.1, port: 9090}]\n"
                             "    routes:\n"
                             "      - {service: api, rate_limit: {requests_per_second: 5}}\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], HasSubstr("services[0].routes[0].rate_limit: a service's own routes go to proxyless"));
}

}  // namespace
}  // namespace tern::sources::file
