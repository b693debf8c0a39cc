// Nomad canaries: while some instances carry the canary tag, the service's traffic is split
// between <svc>-canary and <svc>-stable, with a header route to the canary; on promotion (tag gone)
// everything returns to the service's own cluster. Through BuildWorld: only for services whose
// discovery chain does no routing of its own; a Consul splitter wins.
#include "sources/tags/canary.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sources/consul/mapper.h"

namespace tern::sources::tags {
namespace {

using ::testing::HasSubstr;

model::Endpoint Ep(const std::string& id, uint32_t port, std::vector<std::string> tags,
                   std::map<std::string, std::string> meta = {}) {
  return {.id = id, .address = "127.0.0.1", .port = port, .metadata = std::move(meta), .tags = std::move(tags)};
}

model::Cluster Greeter(std::vector<model::Endpoint> eps) {
  model::Cluster c;
  c.name = "greeter.default.dc1";
  c.service = "greeter";
  c.protocol = model::Protocol::kGrpc;
  c.endpoints = std::move(eps);
  return c;
}

TEST(Canary, TaggedInstancesGetTheirShareAndAHeaderRoute) {
  std::vector<model::Problem> problems;
  auto c = Canary(Greeter({Ep("g1", 1, {"v1"}), Ep("g2", 2, {"canary"})}), {.tag = "canary", .weight = 10},
                  "consul service greeter", &problems);
  ASSERT_TRUE(c);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(c->canary.name, "greeter-canary");
  EXPECT_EQ(c->stable.name, "greeter-stable");
  EXPECT_EQ(c->canary.protocol, model::Protocol::kGrpc) << "the base cluster's settings";
  ASSERT_EQ(c->canary.endpoints.size(), 1u);
  EXPECT_EQ(c->canary.endpoints[0].id, "g2");
  ASSERT_EQ(c->stable.endpoints.size(), 1u);
  EXPECT_EQ(c->stable.endpoints[0].id, "g1");
  ASSERT_EQ(c->routes.size(), 2u);
  const auto& header = c->routes[0];
  ASSERT_EQ(header.match.headers.size(), 1u);
  EXPECT_EQ(header.match.headers[0].name, "x-canary");
  EXPECT_EQ(header.match.headers[0].match.value, "true");
  EXPECT_EQ(header.action.clusters, (std::vector<model::WeightedCluster>{{"greeter-canary", 1}}));
  EXPECT_EQ(c->routes[1].action.clusters,
            (std::vector<model::WeightedCluster>{{"greeter-stable", 90}, {"greeter-canary", 10}}));
}

TEST(Canary, ServiceMetadataOverridesTheWeight) {
  std::vector<model::Problem> problems;
  auto c = Canary(Greeter({Ep("g1", 1, {}), Ep("g2", 2, {"canary"}, {{"tern-canary-weight", "25"}})}),
                  {.tag = "canary", .weight = 10}, "consul service greeter", &problems);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->weight, 25u);
  EXPECT_EQ(c->routes[1].action.clusters[0].weight, 75u);
}

TEST(Canary, ABadWeightIsAProblemAndTheDefaultIsUsed) {
  std::vector<model::Problem> problems;
  auto c = Canary(Greeter({Ep("g1", 1, {}, {{"tern-canary-weight", "half"}}), Ep("g2", 2, {"canary"})}),
                  {.tag = "canary", .weight = 10}, "consul service greeter", &problems);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->weight, 10u);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].origin, "consul service greeter instance g1 meta tern-canary-weight");
  EXPECT_THAT(problems[0].message, HasSubstr("'half'"));
}

TEST(Canary, NoTaggedInstanceOrOnlyTaggedOnesMeansOneSet) {
  std::vector<model::Problem> problems;
  EXPECT_FALSE(Canary(Greeter({Ep("g1", 1, {}), Ep("g2", 2, {})}), {.tag = "canary"}, "s", &problems));
  EXPECT_FALSE(Canary(Greeter({Ep("g1", 1, {"canary"})}), {.tag = "canary"}, "s", &problems));
  EXPECT_FALSE(Canary(Greeter({Ep("g1", 1, {}), Ep("g2", 2, {"canary"})}), {.tag = ""}, "s", &problems))
      << "no canary tag configured: off";
}

// --- through the Consul mapper ---------------------------------------------------------------

consul::Instance Inst(const std::string& id, uint32_t port, std::vector<std::string> tags) {
  consul::Instance i;
  i.id = id;
  i.service = "greeter";
  i.address = "127.0.0.1";
  i.port = port;
  i.tags = std::move(tags);
  return i;
}

consul::DiscoveryChain DefaultChain() {
  consul::DiscoveryChain c;
  c.service = "greeter";
  c.datacenter = "dc1";
  c.protocol = "grpc";
  c.start_node = "resolver:greeter.default.dc1";
  c.nodes["resolver:greeter.default.dc1"] = {.type = "resolver", .name = "greeter.default.dc1", .target = "greeter.default.dc1"};
  c.targets["greeter.default.dc1"] = {.id = "greeter.default.dc1", .service = "greeter", .datacenter = "dc1"};
  return c;
}

TEST(ConsulCanary, DefaultChainIsSplitWhileACanaryRunsAndWholeAfterPromotion) {
  consul::ConsulView view;
  view.services = {{"greeter", {}}};
  view.chains["greeter"] = DefaultChain();
  view.health[consul::ServiceHealthPath("greeter")] = {Inst("g1", 1, {}), Inst("g2", 2, {"canary"})};
  consul::TagRouting tags{.fabio = {}, .canary = {.tag = "canary", .weight = 10}};
  std::vector<model::Problem> problems;
  model::World w = consul::BuildWorld(view, &problems, tags);
  EXPECT_TRUE(problems.empty());
  ASSERT_TRUE(w.clusters.count("greeter-canary"));
  ASSERT_TRUE(w.clusters.count("greeter-stable"));
  const auto& routes = w.service_routes.at("greeter").routes;
  // Proxyless clients get the x-canary header route first, then the split.
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].match.headers.at(0).name, "x-canary");
  EXPECT_EQ(routes[0].action.clusters.at(0).cluster, "greeter-canary");
  EXPECT_EQ(routes[1].action.clusters[1].cluster, "greeter-canary");
  EXPECT_TRUE(model::Validate(w).empty());

  // Promotion: Nomad re-registers the canary without canary_tags.
  view.health[consul::ServiceHealthPath("greeter")] = {Inst("g1", 1, {}), Inst("g2", 2, {})};
  w = consul::BuildWorld(view, &problems, tags);
  EXPECT_FALSE(w.clusters.count("greeter-canary"));
  EXPECT_FALSE(w.clusters.count("greeter-stable"));
  ASSERT_EQ(w.service_routes.at("greeter").routes.size(), 1u);
  EXPECT_EQ(w.service_routes.at("greeter").routes[0].action.clusters,
            (std::vector<model::WeightedCluster>{{"greeter.default.dc1", 1}}));
}

TEST(ConsulCanary, AConsulSplitterWins) {
  consul::ConsulView view;
  view.services = {{"greeter", {}}};
  consul::DiscoveryChain c = DefaultChain();
  c.start_node = "splitter:greeter";
  c.nodes["splitter:greeter"] = {.type = "splitter", .name = "greeter",
                                 .splits = {{.weight = 100, .next_node = "resolver:greeter.default.dc1"}}};
  view.chains["greeter"] = c;
  view.health[consul::ServiceHealthPath("greeter")] = {Inst("g1", 1, {}), Inst("g2", 2, {"canary"})};
  std::vector<model::Problem> problems;
  model::World w = consul::BuildWorld(view, &problems, {.fabio = {}, .canary = {.tag = "canary", .weight = 10}});
  EXPECT_FALSE(w.clusters.count("greeter-canary"));
  EXPECT_EQ(w.service_routes.at("greeter").routes.size(), 1u);
}

TEST(ConsulFabio, GatewayFromTagsAndAMalformedTagNamesTheService) {
  consul::ConsulView view;
  view.services = {{"greeter", {}}};
  view.chains["greeter"] = DefaultChain();
  view.health[consul::ServiceHealthPath("greeter")] = {Inst("g1", 1, {"urlprefix-/g strip=/g"}),
                                                       Inst("g2", 2, {"urlprefix-/bad weight=2"})};
  std::vector<model::Problem> problems;
  model::World w = consul::BuildWorld(view, &problems, {.fabio = {.gateways = {"fabio"}, .port = 9999}, .canary = {}});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].origin, "consul service greeter instance g2 tag 'urlprefix-/bad weight=2'");
  ASSERT_TRUE(w.gateways.count("fabio"));
  const auto& vh = w.gateways.at("fabio").listeners.at(0).virtual_hosts.at(0);
  ASSERT_EQ(vh.routes.size(), 2u);
  EXPECT_EQ(vh.routes[0].action.clusters[0].cluster, "greeter~fabio~/g");
  EXPECT_EQ(w.clusters.at("greeter~fabio~/g").protocol, model::Protocol::kGrpc);
  EXPECT_TRUE(model::Validate(w).empty()) << model::Validate(w).front().ToString();
}

}  // namespace
}  // namespace tern::sources::tags
