// What a gateway's HTTP connection managers carry for tracing, access logs, request ids and
// local rate limits; where tern-wide defaults apply; and that proxyless API listeners get none
// of it. Every resource passes Envoy's validation rules.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/config/trace/v3/opentelemetry.pb.h"
#include "envoy/config/trace/v3/zipkin.pb.h"
#include "envoy/extensions/access_loggers/file/v3/file.pb.h"
#include "envoy/extensions/access_loggers/grpc/v3/als.pb.h"
#include "envoy/extensions/access_loggers/stream/v3/stream.pb.h"
#include "envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "translate/http_policy.h"
#include "translate/pgv_validator.h"
#include "translate/translator.h"
#include "translate/worlds.h"

namespace tern::translate {
namespace {

using envoy::config::listener::v3::Listener;
using envoy::config::route::v3::RouteConfiguration;
using envoy::extensions::filters::http::local_ratelimit::v3::LocalRateLimit;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::Find;
using testing::Forward;
using testing::MakeCluster;

model::Tracing Otel() {
  model::Tracing t;
  t.provider = model::Tracing::Provider::kOpenTelemetry;
  t.collector_cluster = "otel-collector";
  t.random_sampling = 12.5;
  t.tags = {{.name = "env", .kind = model::Tracing::Tag::Kind::kLiteral, .value = "prod", .default_value = ""},
            {.name = "tenant", .kind = model::Tracing::Tag::Kind::kRequestHeader, .value = "x-tenant", .default_value = "none"},
            {.name = "zone", .kind = model::Tracing::Tag::Kind::kEnvironment, .value = "ZONE", .default_value = "?"}};
  return t;
}

// Gateways "a" (HTTP + TCP listener) and "b" (HTTP), a collector service and an ALS service.
model::World TwoGateways() {
  model::World w;
  w.clusters["web"] = MakeCluster("web", {testing::Ep("10.0.0.1", 8080)});
  w.clusters["db"] = MakeCluster("db", {testing::Ep("10.0.0.2", 5432)});
  auto otel = MakeCluster("otel-collector", {testing::Ep("10.0.9.1", 4317)});
  otel.protocol = model::Protocol::kGrpc;
  w.clusters["otel-collector"] = otel;
  w.clusters["zipkin"] = MakeCluster("zipkin", {testing::Ep("10.0.9.2", 9411)});
  auto als = MakeCluster("als", {testing::Ep("10.0.9.3", 9001)});
  als.protocol = model::Protocol::kGrpc;
  w.clusters["als"] = als;
  for (const char* g : {"a", "b"}) {
    model::Listener http;
    http.name = std::string(g) + "-http";
    http.port = 8080;
    model::VirtualHost vh;
    vh.name = "web";
    vh.domains = {"*"};
    model::Route r = Forward("/", {{"web", 1}});
    r.name = "web";
    vh.routes = {r};
    http.virtual_hosts = {vh};
    model::Gateway gw{.name = g, .listeners = {http}, .origin = "test"};
    if (std::string(g) == "a") {
      model::Listener tcp;
      tcp.name = "a-db";
      tcp.port = 5432;
      tcp.protocol = model::Protocol::kTcp;
      tcp.tcp_cluster = "db";
      gw.listeners.push_back(tcp);
    }
    w.gateways[g] = gw;
  }
  return w;
}

HttpConnectionManager HcmOf(const Translation& t, const std::string& gw, const std::string& listener) {
  const auto* l = Find<Listener>(t.gateways.at(gw).listeners, listener);
  HttpConnectionManager hcm;
  EXPECT_NE(l, nullptr) << listener;
  if (l) {
    EXPECT_TRUE(l->filter_chains(0).filters(0).typed_config().UnpackTo(&hcm));
  }
  return hcm;
}

void ExpectAllValid(const Translation& t) {
  for (const auto& [_, g] : t.gateways) {
    for (const auto& nm : g.listeners) EXPECT_THAT(ValidateResource(*nm.message), IsEmpty()) << nm.name;
    for (const auto& nm : g.routes) EXPECT_THAT(ValidateResource(*nm.message), IsEmpty()) << nm.name;
  }
  for (const auto& [name, m] : t.clusters) EXPECT_THAT(ValidateResource(*m), IsEmpty()) << name;
  for (const auto& nm : t.mesh.listeners) EXPECT_THAT(ValidateResource(*nm.message), IsEmpty()) << nm.name;
  for (const auto& nm : t.mesh.routes) EXPECT_THAT(ValidateResource(*nm.message), IsEmpty()) << nm.name;
}

TEST(TelemetryTest, OpenTelemetryTracingExportsToTheCollectorClusterTheGatewayReceives) {
  model::World w = TwoGateways();
  w.gateways["a"].tracing = Otel();
  const Translation t = Translate(w);
  const HttpConnectionManager hcm = HcmOf(t, "a", "a-http");
  ASSERT_TRUE(hcm.has_tracing());
  EXPECT_DOUBLE_EQ(hcm.tracing().random_sampling().value(), 12.5);
  EXPECT_DOUBLE_EQ(hcm.tracing().client_sampling().value(), 100);
  EXPECT_DOUBLE_EQ(hcm.tracing().overall_sampling().value(), 100);
  EXPECT_EQ(hcm.tracing().provider().name(), "envoy.tracers.opentelemetry");
  envoy::config::trace::v3::OpenTelemetryConfig otel;
  ASSERT_TRUE(hcm.tracing().provider().typed_config().UnpackTo(&otel));
  EXPECT_EQ(otel.grpc_service().envoy_grpc().cluster_name(), "otel-collector");
  EXPECT_EQ(otel.service_name(), "a") << "the gateway's name by default";
  ASSERT_EQ(hcm.tracing().custom_tags_size(), 3);
  EXPECT_EQ(hcm.tracing().custom_tags(0).literal().value(), "prod");
  EXPECT_EQ(hcm.tracing().custom_tags(1).request_header().name(), "x-tenant");
  EXPECT_EQ(hcm.tracing().custom_tags(1).request_header().default_value(), "none");
  EXPECT_EQ(hcm.tracing().custom_tags(2).environment().name(), "ZONE");
  EXPECT_THAT(t.gateways.at("a").clusters, Contains("otel-collector")) << "the collector reaches the gateway over CDS";
  EXPECT_THAT(t.gateways.at("b").clusters, Not(Contains("otel-collector"))) << "b has no tracing";
  EXPECT_FALSE(HcmOf(t, "b", "b-http").has_tracing());
  ExpectAllValid(t);
}

TEST(TelemetryTest, ZipkinTracingPostsJsonToItsEndpoint) {
  model::World w = TwoGateways();
  model::Tracing z;
  z.provider = model::Tracing::Provider::kZipkin;
  z.collector_cluster = "zipkin";
  w.gateways["a"].tracing = z;
  const Translation t = Translate(w);
  const HttpConnectionManager hcm = HcmOf(t, "a", "a-http");
  EXPECT_EQ(hcm.tracing().provider().name(), "envoy.tracers.zipkin");
  envoy::config::trace::v3::ZipkinConfig zipkin;
  ASSERT_TRUE(hcm.tracing().provider().typed_config().UnpackTo(&zipkin));
  EXPECT_EQ(zipkin.collector_cluster(), "zipkin");
  EXPECT_EQ(zipkin.collector_endpoint(), "/api/v2/spans");
  EXPECT_EQ(zipkin.collector_endpoint_version(), envoy::config::trace::v3::ZipkinConfig::HTTP_JSON);
  EXPECT_TRUE(zipkin.trace_id_128bit());
  ExpectAllValid(t);
}

TEST(TelemetryTest, DefaultsApplyToGatewaysWithoutTheirOwnSetting) {
  model::World w = TwoGateways();
  model::AccessLog stdout_log;
  w.defaults = model::GatewayDefaults{.tracing = Otel(), .access_logs = std::vector<model::AccessLog>{stdout_log},
                                      .request_id = model::RequestId{.generate = true, .preserve_external = true,
                                                                     .always_in_response = true},
                                      .origin = "services.yaml:1:1 defaults"};
  w.gateways["b"].access_logs = std::vector<model::AccessLog>{};  // b: "no access logs"
  const Translation t = Translate(w);
  const HttpConnectionManager a = HcmOf(t, "a", "a-http");
  const HttpConnectionManager b = HcmOf(t, "b", "b-http");
  EXPECT_TRUE(a.has_tracing());
  EXPECT_TRUE(b.has_tracing());
  EXPECT_EQ(a.access_log_size(), 1);
  EXPECT_EQ(b.access_log_size(), 0) << "an empty list of its own overrides the default";
  EXPECT_TRUE(a.generate_request_id().value());
  EXPECT_TRUE(a.preserve_external_request_id());
  EXPECT_TRUE(a.always_set_request_id_in_response());
  ExpectAllValid(t);
}

TEST(TelemetryTest, ChangingTheDefaultsRebuildsTheGatewaysThatUseThem) {
  model::World w = TwoGateways();
  w.defaults = model::GatewayDefaults{.tracing = Otel(), .access_logs = std::nullopt, .request_id = std::nullopt,
                                      .origin = "x"};
  IncrementalTranslator translator;
  model::DependencyIndex index;
  index.Update(w, model::ChangeSet::Everything());
  translator.Update(w, model::ChangeSet::Everything(), index);
  const Translation before = translator.Current();
  w.defaults->tracing->random_sampling = 1;
  model::ChangeSet defaults;
  defaults.defaults = true;
  index.Update(w, defaults);
  const auto changed = translator.Update(w, defaults, index);
  EXPECT_EQ(changed.gateways, (std::set<std::string>{"a", "b"}));
  const Translation after = translator.Current();
  EXPECT_DOUBLE_EQ(HcmOf(after, "a", "a-http").tracing().random_sampling().value(), 1);
  const Translation expected = Translate(w);
  EXPECT_EQ(after.gateways.at("b").listeners[0].message->SerializeAsString(),
            expected.gateways.at("b").listeners[0].message->SerializeAsString());
}

TEST(TelemetryTest, AccessLogsGoToFileStdoutOrGrpcWithFormatAndFilters) {
  model::World w = TwoGateways();
  model::AccessLog file;
  file.sink = model::AccessLog::Sink::kFile;
  file.path = "/var/log/envoy/access.json";
  file.status_ranges = {{.min = 500, .max = 599}, {.min = 429, .max = 429}};
  file.sample_percent = 25;
  model::AccessLog text;
  text.text_format = "[%START_TIME%] %REQ(:METHOD)% %RESPONSE_CODE%\n";
  text.sink = model::AccessLog::Sink::kStderr;
  model::AccessLog grpc;
  grpc.sink = model::AccessLog::Sink::kGrpc;
  grpc.grpc_cluster = "als";
  grpc.grpc_log_name = "edge";
  w.gateways["a"].access_logs = std::vector<model::AccessLog>{file, text, grpc};
  const Translation t = Translate(w);
  const HttpConnectionManager hcm = HcmOf(t, "a", "a-http");
  ASSERT_EQ(hcm.access_log_size(), 3);

  EXPECT_EQ(hcm.access_log(0).name(), "envoy.access_loggers.file");
  envoy::extensions::access_loggers::file::v3::FileAccessLog f;
  ASSERT_TRUE(hcm.access_log(0).typed_config().UnpackTo(&f));
  EXPECT_EQ(f.path(), "/var/log/envoy/access.json");
  const auto& fields = f.log_format().json_format().fields();
  EXPECT_EQ(fields.size(), DefaultAccessLogFields().size());
  for (const char* key : {"start_time", "method", "path", "authority", "protocol", "response_code", "response_flags",
                          "duration_ms", "upstream_host", "upstream_cluster", "bytes_received", "bytes_sent",
                          "request_id", "trace_id", "downstream_address"}) {
    EXPECT_TRUE(fields.contains(key)) << key;
  }
  EXPECT_EQ(fields.at("response_code").string_value(), "%RESPONSE_CODE%");
  // (5xx or 429) and 25% sampled.
  const auto& filter = hcm.access_log(0).filter();
  ASSERT_TRUE(filter.has_and_filter());
  ASSERT_EQ(filter.and_filter().filters_size(), 2);
  const auto& ranges = filter.and_filter().filters(0).or_filter();
  ASSERT_EQ(ranges.filters_size(), 2);
  EXPECT_EQ(ranges.filters(0).and_filter().filters(0).status_code_filter().comparison().value().default_value(), 500u);
  EXPECT_EQ(ranges.filters(0).and_filter().filters(1).status_code_filter().comparison().value().default_value(), 599u);
  EXPECT_EQ(filter.and_filter().filters(1).runtime_filter().percent_sampled().numerator(), 2500u);

  envoy::extensions::access_loggers::stream::v3::StderrAccessLog e;
  ASSERT_TRUE(hcm.access_log(1).typed_config().UnpackTo(&e));
  EXPECT_EQ(e.log_format().text_format_source().inline_string(), "[%START_TIME%] %REQ(:METHOD)% %RESPONSE_CODE%\n");
  EXPECT_FALSE(hcm.access_log(1).has_filter());

  envoy::extensions::access_loggers::grpc::v3::HttpGrpcAccessLogConfig g;
  ASSERT_TRUE(hcm.access_log(2).typed_config().UnpackTo(&g));
  EXPECT_EQ(g.common_config().grpc_service().envoy_grpc().cluster_name(), "als");
  EXPECT_EQ(g.common_config().log_name(), "edge");
  EXPECT_THAT(t.gateways.at("a").clusters, Contains("als"));
  ExpectAllValid(t);
}

TEST(TelemetryTest, TcpListenersLogConnectionsAndListenerLogsGoOnTheListener) {
  model::World w = TwoGateways();
  model::AccessLog conn;  // every listener's connections; a status filter cannot apply to TCP
  conn.sink = model::AccessLog::Sink::kStdout;
  conn.status_ranges = {{.min = 500, .max = 599}};
  conn.sample_percent = 50;
  conn.listener = true;
  model::AccessLog grpc;
  grpc.sink = model::AccessLog::Sink::kGrpc;
  grpc.grpc_cluster = "als";
  grpc.grpc_log_name = "edge";
  w.gateways["a"].access_logs = std::vector<model::AccessLog>{conn, grpc};
  const Translation t = Translate(w);

  const auto* tcp = Find<Listener>(t.gateways.at("a").listeners, "a-db");
  ASSERT_NE(tcp, nullptr);
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy proxy;
  ASSERT_TRUE(tcp->filter_chains(0).filters(0).typed_config().UnpackTo(&proxy));
  ASSERT_EQ(proxy.access_log_size(), 2);
  envoy::extensions::access_loggers::stream::v3::StdoutAccessLog out;
  ASSERT_TRUE(proxy.access_log(0).typed_config().UnpackTo(&out));
  const auto& fields = out.log_format().json_format().fields();
  EXPECT_EQ(fields.size(), DefaultConnectionAccessLogFields().size());
  for (const char* key : {"start_time", "duration_ms", "upstream_host", "upstream_cluster", "bytes_received",
                          "bytes_sent", "downstream_address", "requested_server_name"}) {
    EXPECT_TRUE(fields.contains(key)) << key;
  }
  EXPECT_FALSE(fields.contains("method")) << "no HTTP fields on a TCP connection";
  EXPECT_TRUE(proxy.access_log(0).filter().has_runtime_filter()) << "sampling only: " << proxy.access_log(0).DebugString();
  EXPECT_EQ(proxy.access_log(1).name(), "envoy.access_loggers.tcp_grpc");
  envoy::extensions::access_loggers::grpc::v3::TcpGrpcAccessLogConfig g;
  ASSERT_TRUE(proxy.access_log(1).typed_config().UnpackTo(&g));
  EXPECT_EQ(g.common_config().grpc_service().envoy_grpc().cluster_name(), "als");

  // Listener logs: only the log that asks for them, on both listeners of the gateway.
  for (const char* name : {"a-db", "a-http"}) {
    const auto* l = Find<Listener>(t.gateways.at("a").listeners, name);
    ASSERT_NE(l, nullptr);
    ASSERT_EQ(l->access_log_size(), 1) << name;
    EXPECT_EQ(l->access_log(0).name(), "envoy.access_loggers.stdout");
  }
  const auto* b = Find<Listener>(t.gateways.at("b").listeners, "b-http");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->access_log_size(), 0) << "gateway b has no access logs";
  ExpectAllValid(t);
}

TEST(TelemetryTest, RateLimitsGoOnTheListenerFilterAndAsHostAndRouteOverrides) {
  model::World w = TwoGateways();
  auto& l = w.gateways["a"].listeners[0];
  l.rate_limit = model::RateLimit{.max_tokens = 1000, .tokens_per_fill = 1000};
  l.virtual_hosts[0].rate_limit = model::RateLimit{.max_tokens = 200, .tokens_per_fill = 100,
                                                   .fill_interval = std::chrono::milliseconds(500)};
  l.virtual_hosts[0].routes[0].rate_limit = model::RateLimit{.max_tokens = 5, .tokens_per_fill = 5, .status = 503,
                                                             .response_headers = true};
  const Translation t = Translate(w);
  const HttpConnectionManager hcm = HcmOf(t, "a", "a-http");
  ASSERT_EQ(hcm.http_filters_size(), 2);
  EXPECT_EQ(hcm.http_filters(0).name(), "envoy.filters.http.local_ratelimit");
  EXPECT_EQ(hcm.http_filters(1).name(), "envoy.filters.http.router") << "the router stays last";
  LocalRateLimit listener;
  ASSERT_TRUE(hcm.http_filters(0).typed_config().UnpackTo(&listener));
  EXPECT_EQ(listener.token_bucket().max_tokens(), 1000u);
  EXPECT_EQ(listener.token_bucket().fill_interval().seconds(), 1);
  EXPECT_EQ(listener.filter_enabled().default_value().numerator(), 100u);
  EXPECT_EQ(listener.filter_enforced().default_value().numerator(), 100u);
  EXPECT_EQ(listener.status().code(), envoy::type::v3::TooManyRequests);

  const auto* rc = Find<RouteConfiguration>(t.gateways.at("a").routes, "a-http");
  ASSERT_NE(rc, nullptr);
  LocalRateLimit vh, route;
  ASSERT_TRUE(rc->virtual_hosts(0).typed_per_filter_config().at("envoy.filters.http.local_ratelimit").UnpackTo(&vh));
  EXPECT_EQ(vh.token_bucket().max_tokens(), 200u);
  EXPECT_EQ(vh.token_bucket().tokens_per_fill().value(), 100u);
  EXPECT_EQ(vh.token_bucket().fill_interval().nanos(), 500000000);
  ASSERT_TRUE(rc->virtual_hosts(0).routes(0).typed_per_filter_config().at("envoy.filters.http.local_ratelimit").UnpackTo(&route));
  EXPECT_EQ(route.token_bucket().max_tokens(), 5u);
  EXPECT_EQ(route.status().code(), envoy::type::v3::ServiceUnavailable);
  EXPECT_EQ(route.enable_x_ratelimit_headers(), envoy::extensions::common::ratelimit::v3::DRAFT_VERSION_03);

  EXPECT_EQ(HcmOf(t, "b", "b-http").http_filters_size(), 1) << "no limits, no filter";
  ExpectAllValid(t);
}

// gRPC 1.51 NACKs HTTP filters it does not know: the API listeners proxyless clients receive
// carry the router alone, whatever the gateways have.
TEST(TelemetryTest, ProxylessApiListenersNeverCarryGatewayFilters) {
  model::World w = TwoGateways();
  w.defaults = model::GatewayDefaults{.tracing = Otel(), .access_logs = std::vector<model::AccessLog>{model::AccessLog{}},
                                      .request_id = std::nullopt, .origin = "x"};
  w.gateways["a"].listeners[0].rate_limit = model::RateLimit{.max_tokens = 1, .tokens_per_fill = 1};
  const Translation t = Translate(w);
  ASSERT_FALSE(t.mesh.listeners.empty());
  for (const auto& nm : t.mesh.listeners) {
    const auto& l = static_cast<const Listener&>(*nm.message);
    HttpConnectionManager hcm;
    ASSERT_TRUE(l.api_listener().api_listener().UnpackTo(&hcm)) << nm.name;
    EXPECT_FALSE(hcm.has_tracing()) << nm.name;
    EXPECT_EQ(hcm.access_log_size(), 0) << nm.name;
    ASSERT_EQ(hcm.http_filters_size(), 1) << nm.name;
    EXPECT_EQ(hcm.http_filters(0).name(), "envoy.filters.http.router");
  }
  for (const auto& nm : t.mesh.routes) {
    const auto& rc = static_cast<const RouteConfiguration&>(*nm.message);
    for (const auto& vh : rc.virtual_hosts()) {
      EXPECT_TRUE(vh.typed_per_filter_config().empty());
      for (const auto& r : vh.routes()) EXPECT_TRUE(r.typed_per_filter_config().empty());
    }
  }
}

TEST(TelemetryTest, AMissingCollectorIsAProblemNamingTheSetting) {
  model::World w = TwoGateways();
  model::Tracing t = Otel();
  t.collector_cluster = "nowhere";
  t.origin = "services.yaml:9:5 gateways[0].tracing";
  w.gateways["a"].tracing = t;
  auto problems = model::Validate(w);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].ToString(),
            "services.yaml:9:5 gateways[0].tracing: tracing collector refers to unknown service 'nowhere'");
}

}  // namespace
}  // namespace tern::translate
