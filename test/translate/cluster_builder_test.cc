// Stories of the CDS cluster a proxy receives.
#include "translate/cluster_builder.h"

#include <gtest/gtest.h>

#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "translate/worlds.h"

namespace tern::translate {
namespace {

using envoy::config::cluster::v3::Cluster;
using testing::MakeCluster;

TEST(ClusterBuilderTest, AnHttpClusterFetchesItsEndpointsOverAds) {
  auto c = BuildCluster(MakeCluster("web"), "ads");
  EXPECT_EQ(c->name(), "web");
  EXPECT_EQ(c->type(), Cluster::EDS);
  EXPECT_TRUE(c->eds_cluster_config().eds_config().has_ads());
  EXPECT_EQ(c->eds_cluster_config().eds_config().resource_api_version(), envoy::config::core::v3::V3);
  EXPECT_EQ(c->eds_cluster_config().service_name(), "web");
  EXPECT_EQ(c->connect_timeout().seconds(), 5);
  EXPECT_EQ(c->lb_policy(), Cluster::ROUND_ROBIN);
  EXPECT_FALSE(c->has_circuit_breakers());
  EXPECT_FALSE(c->has_outlier_detection());
  EXPECT_TRUE(c->typed_extension_protocol_options().empty());
}

TEST(ClusterBuilderTest, AGrpcClusterSpeaksHttp2Upstream) {
  auto m = MakeCluster("api");
  m.protocol = model::Protocol::kGrpc;
  auto c = BuildCluster(m, "ads");
  const auto& opts = c->typed_extension_protocol_options();
  ASSERT_TRUE(opts.contains("envoy.extensions.upstreams.http.v3.HttpProtocolOptions"));
  envoy::extensions::upstreams::http::v3::HttpProtocolOptions hpo;
  ASSERT_TRUE(opts.at("envoy.extensions.upstreams.http.v3.HttpProtocolOptions").UnpackTo(&hpo));
  EXPECT_TRUE(hpo.explicit_http_config().has_http2_protocol_options());
}

TEST(ClusterBuilderTest, LimitsBecomeDefaultPriorityCircuitBreakers) {
  auto m = MakeCluster("web");
  m.circuit_breakers.max_connections = 100;
  m.circuit_breakers.max_retries = 3;
  auto c = BuildCluster(m, "ads");
  ASSERT_EQ(c->circuit_breakers().thresholds_size(), 1);
  const auto& t = c->circuit_breakers().thresholds(0);
  EXPECT_EQ(t.priority(), envoy::config::core::v3::DEFAULT);
  EXPECT_EQ(t.max_connections().value(), 100u);
  EXPECT_EQ(t.max_retries().value(), 3u);
  EXPECT_FALSE(t.has_max_requests());
  EXPECT_FALSE(t.has_max_pending_requests());
}

TEST(ClusterBuilderTest, PassiveHealthChecksBecomeOutlierDetection) {
  auto m = MakeCluster("web");
  m.outlier_detection = model::OutlierDetection{.consecutive_5xx = 3,
                                                .interval = std::chrono::milliseconds(1500),
                                                .base_ejection_time = std::chrono::milliseconds(60000),
                                                .max_ejection_percent = 50};
  auto c = BuildCluster(m, "ads");
  const auto& od = c->outlier_detection();
  EXPECT_EQ(od.consecutive_5xx().value(), 3u);
  EXPECT_EQ(od.interval().seconds(), 1);
  EXPECT_EQ(od.interval().nanos(), 500000000);
  EXPECT_EQ(od.base_ejection_time().seconds(), 60);
  EXPECT_EQ(od.max_ejection_percent().value(), 50u);
}

TEST(ClusterBuilderTest, EveryLoadBalancerPolicyMapsToEnvoys) {
  const std::vector<std::pair<model::LbPolicy, Cluster::LbPolicy>> cases = {
      {model::LbPolicy::kRoundRobin, Cluster::ROUND_ROBIN}, {model::LbPolicy::kLeastRequest, Cluster::LEAST_REQUEST},
      {model::LbPolicy::kRandom, Cluster::RANDOM},          {model::LbPolicy::kRingHash, Cluster::RING_HASH},
      {model::LbPolicy::kMaglev, Cluster::MAGLEV}};
  for (const auto& [in, want] : cases) {
    auto m = MakeCluster("web");
    m.lb_policy = in;
    EXPECT_EQ(BuildCluster(m, "ads")->lb_policy(), want) << model::ToString(in);
  }
}

}  // namespace
}  // namespace tern::translate
