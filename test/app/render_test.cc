// `tern render` of the quickstart prints what a proxy of node cluster `edge` receives, as JSON
// that the protobuf JSON parser reads back into the very same resources.
#include <gtest/gtest.h>
#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "common/type_urls.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "support/process.h"
#include "support/tern_process.h"

namespace tern {
namespace {

using envoy::service::discovery::v3::DiscoveryResponse;

// The JSON parser resolves "@type" through the generated descriptor pool: make sure every type a
// proxy can receive is linked into this test binary.
void LinkEnvoyTypes() {
  envoy::config::listener::v3::Listener::descriptor();
  envoy::config::route::v3::RouteConfiguration::descriptor();
  envoy::config::cluster::v3::Cluster::descriptor();
  envoy::config::endpoint::v3::ClusterLoadAssignment::descriptor();
  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager::descriptor();
  envoy::extensions::filters::http::router::v3::Router::descriptor();
  envoy::extensions::transport_sockets::tls::v3::Secret::descriptor();
  envoy::extensions::upstreams::http::v3::HttpProtocolOptions::descriptor();
}

TEST(RenderTest, QuickstartRenderRoundTripsThroughTheProtobufJsonParser) {
  LinkEnvoyTypes();
  testing::TempDir dir;
  auto r = testing::RunTern({"render", "--config", std::string(TERN_SOURCE_DIR) + "/examples/quickstart/tern.yaml",
                             "--node-cluster", "edge", "--type", "all"},
                            dir.path() + "/render.log");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << r->err;
  auto doc = nlohmann::json::parse(r->out);
  ASSERT_EQ(doc["node_cluster"], "edge");
  std::set<std::string> types;
  size_t resources = 0;
  for (const auto& entry : doc["types"]) {
    DiscoveryResponse resp;
    auto st = google::protobuf::util::JsonStringToMessage(entry.dump(), &resp);
    ASSERT_TRUE(st.ok()) << st.ToString() << "\n" << entry.dump().substr(0, 300);
    types.insert(resp.type_url());
    for (const auto& any : resp.resources()) {
      EXPECT_EQ(any.type_url(), resp.type_url());
      resources++;
    }
    // And back: the same JSON again.
    std::string again;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(resp, &again).ok());
    auto expected = entry;  // the printer leaves out an empty list; render shows it
    if (expected["resources"].empty()) expected.erase("resources");
    EXPECT_EQ(nlohmann::json::parse(again), expected);
    if (resp.type_url() == std::string(kListenerType)) {
      envoy::config::listener::v3::Listener l;
      ASSERT_TRUE(resp.resources(0).UnpackTo(&l));
      EXPECT_EQ(l.address().socket_address().port_value(), 10000u);
    }
  }
  EXPECT_TRUE(types.contains(std::string(kListenerType)));
  EXPECT_TRUE(types.contains(std::string(kRouteType)));
  EXPECT_TRUE(types.contains(std::string(kClusterType)));
  EXPECT_TRUE(types.contains(std::string(kEndpointType)));
  EXPECT_GT(resources, 4u);
}

TEST(RenderTest, AnUnknownKeyInTheConfigIsAnErrorNamingItsPath) {
  testing::TempDir dir;
  ASSERT_TRUE(testing::WriteFile(dir.path() + "/tern.yaml", "xds:\n  adress: 127.0.0.1:1\n").ok());
  auto r = testing::RunTern({"validate", "--config", dir.path() + "/tern.yaml"}, dir.path() + "/v.log");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 1);
  EXPECT_NE(r->err.find("tern.yaml:2:3 xds.adress: unknown key"), std::string::npos) << r->err;
}

TEST(RenderTest, ValidateNamesARouteToAMissingService) {
  testing::TempDir dir;
  ASSERT_TRUE(testing::WriteFile(dir.path() + "/tern.yaml", "files: [services.yaml]\n").ok());
  ASSERT_TRUE(testing::WriteFile(dir.path() + "/services.yaml",
                                 "services:\n"
                                 "  - name: web\n"
                                 "    endpoints: [ { address: 127.0.0.1, port: 9001 } ]\n"
                                 "gateways:\n"
                                 "  - name: edge\n"
                                 "    listeners:\n"
                                 "      - port: 8080\n"
                                 "        virtual_hosts:\n"
                                 "          - domains: [\"*\"]\n"
                                 "            routes:\n"
                                 "              - match: { prefix: / }\n"
                                 "                service: wbe\n")
                  .ok());
  auto r = testing::RunTern({"validate", "--config", dir.path() + "/tern.yaml"}, dir.path() + "/v.log");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 1);
  EXPECT_NE(r->err.find("services.yaml:11:17"), std::string::npos) << r->err;
  EXPECT_NE(r->err.find("unknown service 'wbe'"), std::string::npos) << r->err;
}

}  // namespace
}  // namespace tern
