// examples/production as shipped: `tern validate` accepts it, and `tern render` of each gateway
// shows every feature the example exists for, in JSON the protobuf JSON parser reads back into
// the very same resources (every Any resolved by its @type).
#include <gtest/gtest.h>
#include <google/protobuf/util/json_util.h>

#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/config/trace/v3/opentelemetry.pb.h"
#include "envoy/config/trace/v3/zipkin.pb.h"
#include "envoy/extensions/access_loggers/file/v3/file.pb.h"
#include "envoy/extensions/access_loggers/grpc/v3/als.pb.h"
#include "envoy/extensions/access_loggers/stream/v3/stream.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "support/process.h"
#include "support/tern_process.h"

namespace tern {
namespace {

using envoy::service::discovery::v3::DiscoveryResponse;

void LinkEnvoyTypes() {
  envoy::config::listener::v3::Listener::descriptor();
  envoy::config::route::v3::RouteConfiguration::descriptor();
  envoy::config::cluster::v3::Cluster::descriptor();
  envoy::config::endpoint::v3::ClusterLoadAssignment::descriptor();
  envoy::config::trace::v3::OpenTelemetryConfig::descriptor();
  envoy::config::trace::v3::ZipkinConfig::descriptor();
  envoy::extensions::access_loggers::file::v3::FileAccessLog::descriptor();
  envoy::extensions::access_loggers::stream::v3::StdoutAccessLog::descriptor();
  envoy::extensions::access_loggers::grpc::v3::HttpGrpcAccessLogConfig::descriptor();
  envoy::extensions::filters::http::local_ratelimit::v3::LocalRateLimit::descriptor();
  envoy::extensions::filters::http::router::v3::Router::descriptor();
  envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector::descriptor();
  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager::descriptor();
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy::descriptor();
  envoy::extensions::transport_sockets::tls::v3::Secret::descriptor();
  envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext::descriptor();
  envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext::descriptor();
  envoy::extensions::upstreams::http::v3::HttpProtocolOptions::descriptor();
}

const std::string kConfig = std::string(TERN_SOURCE_DIR) + "/examples/production/tern.yaml";

TEST(RenderProductionTest, TheProductionExampleValidatesAsShipped) {
  testing::TempDir dir;
  auto r = testing::RunTern({"validate", "--config", kConfig}, dir.path() + "/validate.log");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->out << r->err;
}

// Renders `gateway` and returns all of it as one JSON text after checking the round trip.
std::string RenderRoundTrip(const std::string& gateway) {
  LinkEnvoyTypes();
  testing::TempDir dir;
  auto r = testing::RunTern({"render", "--config", kConfig, "--node-cluster", gateway, "--type", "all"},
                            dir.path() + "/render.log");
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  EXPECT_EQ(r->exit_code, 0) << r->err;
  auto doc = nlohmann::json::parse(r->out, nullptr, false);
  EXPECT_FALSE(doc.is_discarded());
  if (doc.is_discarded()) return "";
  size_t resources = 0;
  for (const auto& entry : doc["types"]) {
    DiscoveryResponse resp;
    auto st = google::protobuf::util::JsonStringToMessage(entry.dump(), &resp);
    EXPECT_TRUE(st.ok()) << st.ToString() << "\n" << entry.dump().substr(0, 300);
    resources += resp.resources_size();
    std::string again;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(resp, &again).ok());
    auto expected = entry;
    if (expected["resources"].empty()) expected.erase("resources");
    EXPECT_EQ(nlohmann::json::parse(again), expected);
  }
  EXPECT_GT(resources, 0u);
  return doc.dump();
}

TEST(RenderProductionTest, TheEdgeGatewayShowsEveryFeature) {
  const std::string all = RenderRoundTrip("edge");
  for (const char* feature : {
           "envoy.tracers.opentelemetry", "otel-collector",                       // default tracing
           "envoy.access_loggers.file", "envoy.access_loggers.stderr",            // access logs
           "envoy.access_loggers.http_grpc", "access-log-service", "runtimeFilter", "statusCodeFilter",
           "requested_server_name",  // the listener log (connection fields) of the file access log
           "envoy.filters.http.local_ratelimit", "typedPerFilterConfig", "DRAFT_VERSION_03",  // rate limits
           "alwaysSetRequestIdInResponse", "generateRequestId",                    // request ids
           "circuitBreakers", "outlierDetection",                                  // upstream protection
           "retryPolicy", "gateway-error", "perTryTimeout", "idleTimeout",         // retries, timeouts
           "requestHeadersToAdd", "responseHeadersToRemove", "OVERWRITE_IF_EXISTS_OR_ADD",  // headers
           "weightedClusters", "storefront-canary",                                // canary
           "DownstreamTlsContext", "UpstreamTlsContext", "serverNames", "tls_inspector",  // TLS
           "PERMANENT_REDIRECT"}) {
    EXPECT_NE(all.find(feature), std::string::npos) << feature;
  }
}

TEST(RenderProductionTest, ThePartnerGatewayTracesToZipkin) {
  const std::string all = RenderRoundTrip("partner");
  for (const char* feature : {"envoy.tracers.zipkin", "/api/v2/spans", "preserveExternalRequestId",
                              "envoy.access_loggers.stdout", "requireClientCertificate",
                              "envoy.filters.http.local_ratelimit",
                              "envoy.filters.network.tcp_proxy", "partner-sftp", "requested_server_name"}) {
    EXPECT_NE(all.find(feature), std::string::npos) << feature;
  }
  EXPECT_EQ(all.find("envoy.tracers.opentelemetry"), std::string::npos) << "its own tracer replaces the default";
}

}  // namespace
}  // namespace tern
