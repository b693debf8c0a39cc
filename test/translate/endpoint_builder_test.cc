// Stories of the ClusterLoadAssignment a proxy (Envoy or gRPC) receives for a cluster.
#include "translate/endpoint_builder.h"

#include <gtest/gtest.h>

#include "translate/worlds.h"

namespace tern::translate {
namespace {

using model::Health;
using testing::Ep;
using testing::MakeCluster;

std::vector<std::string> Addresses(const envoy::config::endpoint::v3::ClusterLoadAssignment& cla) {
  std::vector<std::string> out;
  for (const auto& loc : cla.endpoints()) {
    for (const auto& lb : loc.lb_endpoints()) {
      const auto& sa = lb.endpoint().address().socket_address();
      out.push_back(sa.address() + ":" + std::to_string(sa.port_value()));
    }
  }
  return out;
}

TEST(EndpointBuilderTest, ACriticalInstanceGetsNoTraffic) {
  auto cla = BuildLoadAssignment(MakeCluster("web", {Ep("10.0.0.1", 80), Ep("10.0.0.2", 80, Health::kCritical)}));
  EXPECT_EQ(cla->cluster_name(), "web");
  EXPECT_EQ(Addresses(*cla), (std::vector<std::string>{"10.0.0.1:80"}));
}

TEST(EndpointBuilderTest, AnInstanceInMaintenanceIsDrained) {
  auto cla = BuildLoadAssignment(MakeCluster("web", {Ep("10.0.0.1", 80), Ep("10.0.0.2", 80, Health::kMaintenance)}));
  EXPECT_EQ(Addresses(*cla), (std::vector<std::string>{"10.0.0.1:80"}));
}

TEST(EndpointBuilderTest, AWarningInstanceWithWeightZeroIsAbsent) {
  auto cla = BuildLoadAssignment(MakeCluster("web", {Ep("10.0.0.1", 80), Ep("10.0.0.2", 80, Health::kWarning, 0)}));
  EXPECT_EQ(Addresses(*cla), (std::vector<std::string>{"10.0.0.1:80"}));
}

TEST(EndpointBuilderTest, AWarningInstanceWithWeightIsDegradedWithThatWeight) {
  auto cla = BuildLoadAssignment(MakeCluster("web", {Ep("10.0.0.1", 80, Health::kPassing, 10),
                                                     Ep("10.0.0.2", 80, Health::kWarning, 1)}));
  ASSERT_EQ(cla->endpoints_size(), 1);
  const auto& lbs = cla->endpoints(0).lb_endpoints();
  ASSERT_EQ(lbs.size(), 2);
  EXPECT_EQ(lbs[0].health_status(), envoy::config::core::v3::HEALTHY);
  EXPECT_EQ(lbs[0].load_balancing_weight().value(), 10u);
  EXPECT_EQ(lbs[1].health_status(), envoy::config::core::v3::DEGRADED);
  EXPECT_EQ(lbs[1].load_balancing_weight().value(), 1u);
  EXPECT_EQ(cla->endpoints(0).load_balancing_weight().value(), 11u);
}

TEST(EndpointBuilderTest, PrioritiesTwoAndFiveBecomeZeroAndOne) {
  auto cla = BuildLoadAssignment(MakeCluster("web", {Ep("10.0.0.5", 80, Health::kPassing, 1, "", 5),
                                                     Ep("10.0.0.2", 80, Health::kPassing, 1, "", 2)}));
  ASSERT_EQ(cla->endpoints_size(), 2);
  EXPECT_EQ(cla->endpoints(0).priority(), 0u);
  EXPECT_EQ(cla->endpoints(0).lb_endpoints(0).endpoint().address().socket_address().address(), "10.0.0.2");
  EXPECT_EQ(cla->endpoints(1).priority(), 1u);
  EXPECT_EQ(cla->endpoints(1).lb_endpoints(0).endpoint().address().socket_address().address(), "10.0.0.5");
}

TEST(EndpointBuilderTest, APriorityWithOnlySickInstancesLeavesNoGap) {
  auto cla = BuildLoadAssignment(MakeCluster("web", {Ep("10.0.0.1", 80, Health::kPassing, 1, "", 0),
                                                     Ep("10.0.0.2", 80, Health::kCritical, 1, "", 1),
                                                     Ep("10.0.0.3", 80, Health::kPassing, 1, "", 2)}));
  ASSERT_EQ(cla->endpoints_size(), 2);
  EXPECT_EQ(cla->endpoints(1).priority(), 1u);
}

TEST(EndpointBuilderTest, ZonesBecomeLocalitiesWeightedByTheirEndpoints) {
  auto cla = BuildLoadAssignment(MakeCluster("web", {Ep("10.0.1.1", 80, Health::kPassing, 3, "b"),
                                                     Ep("10.0.0.1", 80, Health::kPassing, 2, "a"),
                                                     Ep("10.0.0.2", 80, Health::kPassing, 5, "a")}));
  ASSERT_EQ(cla->endpoints_size(), 2);
  EXPECT_EQ(cla->endpoints(0).locality().zone(), "a");
  EXPECT_EQ(cla->endpoints(0).load_balancing_weight().value(), 7u);
  EXPECT_EQ(cla->endpoints(1).locality().zone(), "b");
  EXPECT_EQ(cla->endpoints(1).load_balancing_weight().value(), 3u);
}

TEST(EndpointBuilderTest, EndpointsAreSortedByAddressThenPort) {
  auto cla = BuildLoadAssignment(MakeCluster("web", {Ep("10.0.0.2", 80), Ep("10.0.0.1", 81), Ep("10.0.0.1", 80)}));
  EXPECT_EQ(Addresses(*cla), (std::vector<std::string>{"10.0.0.1:80", "10.0.0.1:81", "10.0.0.2:80"}));
}

TEST(EndpointBuilderTest, AClusterWithNoUsableEndpointStillGetsAnEmptyAssignment) {
  auto cla = BuildLoadAssignment(MakeCluster("web", {Ep("10.0.0.1", 80, Health::kCritical)}));
  EXPECT_EQ(cla->cluster_name(), "web");
  EXPECT_EQ(cla->endpoints_size(), 0);
}

}  // namespace
}  // namespace tern::translate
