// Traffic policy written in tern's files, as a gateway Envoy receives it over ADS (the real
// `build/tern serve`, a raw xDS client), and what a bad edit does: nothing but an error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/type_urls.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/access_loggers/grpc/v3/als.pb.h"
#include "envoy/extensions/access_loggers/stream/v3/stream.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "absl/strings/str_cat.h"
#include "support/http_get.h"
#include "support/probe.h"
#include "support/process.h"
#include "support/raw_xds_client.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"
#include "translate/pgv_validator.h"
#include "support/xds_bootstrap.h"

namespace tern::testing {
namespace {

using envoy::config::core::v3::HeaderValueOption;
using envoy::config::route::v3::RouteConfiguration;
using ::testing::ElementsAre;
using ::testing::HasSubstr;


constexpr char kServices[] = R"(services:
  - name: web
    endpoints: [{address: 127.0.0.1, port: 18080}]
  - name: db
    protocol: tcp
    endpoints: [{address: 127.0.0.1, port: 15432}]
  - name: logs
    protocol: grpc
    endpoints: [{address: 127.0.0.1, port: 19001}]
gateways:
  - name: edge
    listeners:
      - name: edge-http
        port: 18081
        virtual_hosts:
          - name: web
            domains: ["*"]
            response_headers: {set: {x-frame-options: DENY}}
            routes:
              - name: web
                service: web
                timeout: 20s
                idle_timeout: 90s
                retries: {num_retries: 2, retry_on: [5xx, reset]}
                request_headers: {add: {x-hop: edge}, remove: [x-debug]}
                response_headers: {remove: [server]}
  - name: data
    access_logs:
      - {type: stdout, listener: true, sample_percent: 50}
      - {type: grpc, service: logs, log_name: data}
    listeners:
      - name: data-db
        port: 15433
        protocol: tcp
        service: db
)";

class E2EPolicyTest : public TernTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(WriteFileAtomic(dir_.File("services.yaml"), kServices).ok());
    StartTern({.files = {"services.yaml"}});
  }

  // What a new Envoy of gateway `edge` receives for route configuration `name`.
  std::optional<RouteConfiguration> FetchRoute(const std::string& name) {
    RawXdsClient client(tern_->xds_address(), kAdsMethod);
    if (!client.Send(RawXdsClient::Request(std::string(kRouteType), {name}, "", "", "edge", "envoy-1"))) return std::nullopt;
    auto r = client.Next(seconds(10));
    if (!r) return std::nullopt;
    for (const auto& any : r->resources()) {
      RouteConfiguration rc;
      if (any.UnpackTo(&rc) && rc.name() == name) return rc;
    }
    return std::nullopt;
  }

  std::string LastSourceError() {
    auto r = HttpGet("127.0.0.1", tern_->admin_port(), "/debug/sources");
    if (!r.ok()) return "";
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (j.is_discarded()) return "";
    for (const auto& s : j) {
      if (s.is_object() && s.contains("last_error") && s["last_error"].is_string()) return s["last_error"].get<std::string>();
    }
    return "";
  }

};

TEST_F(E2EPolicyTest, TheGatewayReceivesRetriesTimeoutsAndHeaderRewrites) {
  auto rc = FetchRoute("edge-http");
  ASSERT_TRUE(rc.has_value());
  EXPECT_TRUE(translate::ValidateResource(*rc).empty());
  ASSERT_EQ(rc->virtual_hosts_size(), 1);
  const auto& vh = rc->virtual_hosts(0);
  ASSERT_EQ(vh.response_headers_to_add_size(), 1);
  EXPECT_EQ(vh.response_headers_to_add(0).header().key(), "x-frame-options");
  EXPECT_EQ(vh.response_headers_to_add(0).append_action(), HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD);
  const auto& route = vh.routes(0);
  EXPECT_EQ(route.route().timeout().seconds(), 20);
  EXPECT_EQ(route.route().idle_timeout().seconds(), 90);
  EXPECT_EQ(route.route().retry_policy().retry_on(), "5xx,reset");
  EXPECT_EQ(route.route().retry_policy().num_retries().value(), 2u);
  ASSERT_EQ(route.request_headers_to_add_size(), 1);
  EXPECT_EQ(route.request_headers_to_add(0).header().key(), "x-hop");
  EXPECT_EQ(route.request_headers_to_add(0).append_action(), HeaderValueOption::APPEND_IF_EXISTS_OR_ADD);
  EXPECT_THAT(route.request_headers_to_remove(), ElementsAre("x-debug"));
  EXPECT_THAT(route.response_headers_to_remove(), ElementsAre("server"));
}

// A gateway's TCP listener logs each connection (the TCP proxy's access logs, connection fields,
// the TCP gRPC access-log service) and, asked to, the listener's own connections: what a new
// Envoy of that gateway receives over LDS.
TEST_F(E2EPolicyTest, ATcpListenerLogsItsConnectionsAndTheListenerItsOwn) {
  RawXdsClient client(tern_->xds_address(), kAdsMethod);
  ASSERT_TRUE(client.Send(RawXdsClient::Request(std::string(kListenerType), {}, "", "", "data", "envoy-1")));
  auto r = client.Next(seconds(10));
  ASSERT_TRUE(r.has_value());
  std::optional<envoy::config::listener::v3::Listener> listener;
  for (const auto& any : r->resources()) {
    envoy::config::listener::v3::Listener l;
    if (any.UnpackTo(&l) && l.name() == "data-db") listener = l;
  }
  ASSERT_TRUE(listener.has_value());
  // The validator resolves Any payloads among the types linked into this binary.
  envoy::extensions::access_loggers::grpc::v3::TcpGrpcAccessLogConfig::descriptor();
  EXPECT_THAT(translate::ValidateResource(*listener), ::testing::IsEmpty());
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy tcp;
  ASSERT_TRUE(listener->filter_chains(0).filters(0).typed_config().UnpackTo(&tcp));
  ASSERT_EQ(tcp.access_log_size(), 2);
  envoy::extensions::access_loggers::stream::v3::StdoutAccessLog out;
  ASSERT_TRUE(tcp.access_log(0).typed_config().UnpackTo(&out));
  EXPECT_TRUE(out.log_format().json_format().fields().contains("bytes_sent"));
  EXPECT_FALSE(out.log_format().json_format().fields().contains("method"));
  EXPECT_EQ(tcp.access_log(0).filter().runtime_filter().percent_sampled().numerator(), 5000u) << "50% in 1/10000";
  EXPECT_EQ(tcp.access_log(1).name(), "envoy.access_loggers.tcp_grpc");
  ASSERT_EQ(listener->access_log_size(), 1) << "only the stdout log asked for listener logs";
  EXPECT_EQ(listener->access_log(0).name(), "envoy.access_loggers.stdout");
}

// An unknown retry condition is one clear error naming the file, line and key; the gateway keeps
// the routes it had.
TEST_F(E2EPolicyTest, AnUnknownRetryConditionIsReportedAndChangesNothing) {
  auto before = FetchRoute("edge-http");
  ASSERT_TRUE(before.has_value());
  std::string bad = kServices;
  bad.replace(bad.find("[5xx, reset]"), 12, "[5xx, sometimes]");
  ASSERT_TRUE(WriteFileAtomic(dir_.File("services.yaml"), bad).ok());
  std::string error;
  const auto deadline = Clock::now() + seconds(15);
  while ((error = LastSourceError()).empty() && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(100));
  EXPECT_THAT(error, HasSubstr("services.yaml:24:"));
  EXPECT_THAT(error, HasSubstr("routes[0].retries.retry_on[1]: unknown retry condition 'sometimes'"));
  auto after = FetchRoute("edge-http");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->SerializeAsString(), before->SerializeAsString());
}

// Item 6 of the issue: a proxyless gRPC client (real gRPC C++ 1.51, build/tern-xds-probe) of a
// service whose gateway has every telemetry and throttling feature, and whose own routes carry
// retries, timeouts and header rules, keeps making successful calls: none of the gateway's
// filters reach it, and what does reach it is something gRPC accepts.
TEST(E2EPolicyProxylessTest, AProxylessClientOfATracedRateLimitedServiceKeepsWorking) {
  TempDir dir;
  auto backend = StartTestBackend("greeter-1", dir.path());
  ASSERT_TRUE(backend.ok()) << backend.status();
  const std::string services = absl::StrCat(R"(services:
  - name: greeter
    protocol: grpc
    endpoints: [{address: 127.0.0.1, port: )", backend->grpc_port, R"(}]
    circuit_breakers: {max_requests: 100}
    routes:
      - service: greeter
        timeout: 5s
        idle_timeout: 60s
        retries: {num_retries: 2, retry_on: [unavailable, cancelled]}
        request_headers: {set: {x-via: tern}}
  - name: otel
    protocol: grpc
    endpoints: [{address: 127.0.0.1, port: 4317}]
defaults:
  tracing: {provider: opentelemetry, collector: otel, random_sampling: 100}
  access_logs: [{type: stdout}]
  request_id: {always_in_response: true}
gateways:
  - name: edge
    listeners:
      - name: edge-grpc
        port: 18443
        protocol: grpc
        rate_limit: {requests_per_second: 1, burst: 1}
        virtual_hosts:
          - name: greeter
            rate_limit: {requests_per_second: 1}
            routes:
              - service: greeter
                rate_limit: {requests_per_second: 1}
)");
  ASSERT_TRUE(WriteFileAtomic(dir.File("services.yaml"), services).ok());
  auto tern = TernServer::Start({.dir = dir.path(), .files = {"services.yaml"}});
  ASSERT_TRUE(tern.ok()) << tern.status();
  auto bootstrap = WriteXdsBootstrap(dir.path(), {.server_uri = (*tern)->xds_address(), .node_id = "probe-1",
                                                  .node_cluster = "proxyless"});
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  auto r = RunProbe({.target = "xds:///greeter", .bootstrap_path = *bootstrap, .calls = 50,
                     .log_path = dir.File("probe.log")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ok, 50) << ToString(*r) << "\n" << (*tern)->process().LogTail(4000);
  EXPECT_EQ(r->failed, 0) << r->last_error;
  EXPECT_EQ(r->count("greeter-1"), 50);
  // And no NACK of anything tern sent it (tern_xds_nacks_total stays 0 for every type).
  auto metrics = HttpGet("127.0.0.1", (*tern)->admin_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  size_t lines = 0;
  for (size_t pos = metrics->body.find("\ntern_xds_nacks_total"); pos != std::string::npos;
       pos = metrics->body.find("\ntern_xds_nacks_total", pos + 1)) {
    const size_t end = metrics->body.find('\n', pos + 1);
    const std::string line = metrics->body.substr(pos + 1, end - pos - 1);
    EXPECT_TRUE(line.ends_with(" 0")) << line;
    ++lines;
  }
  EXPECT_GT(lines, 0u) << "no tern_xds_nacks_total in /metrics";
}

}  // namespace
}  // namespace tern::testing
