// tern.yaml's consul keys for routing from tags: fabio_gateway (one name or a list), fabio_port,
// canary_tag, canary_weight; wrong values and unknown keys name their path.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "app/config.h"

namespace tern::app {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ConsulTagConfig, DefaultsAreOff) {
  auto c = ParseConfig("consul: {}\n", "tern.yaml", "/etc/tern");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->consul->fabio_gateways.empty());
  EXPECT_EQ(c->consul->fabio_port, 9999u);
  EXPECT_EQ(c->consul->canary_tag, "");
  EXPECT_EQ(c->consul->canary_weight, 10u);
}

TEST(ConsulTagConfig, OneGatewayOrAList) {
  auto one = ParseConfig("consul: { fabio_gateway: fabio, canary_tag: canary, canary_weight: 25 }\n", "tern.yaml", "/");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_THAT(one->consul->fabio_gateways, ElementsAre("fabio"));
  EXPECT_EQ(one->consul->canary_tag, "canary");
  EXPECT_EQ(one->consul->canary_weight, 25u);
  auto list = ParseConfig("consul: { fabio_gateway: [a, b], fabio_port: 8080 }\n", "tern.yaml", "/");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_THAT(list->consul->fabio_gateways, ElementsAre("a", "b"));
  EXPECT_EQ(list->consul->fabio_port, 8080u);
}

TEST(ConsulTagConfig, BadValuesNameTheirKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"consul: { fabio_gateway: [a, a] }\n", "consul.fabio_gateway: 'a' is listed twice"},
      {"consul: { fabio_gateway: a, fabio_port: 0 }\n", "consul.fabio_port"},
      {"consul: { fabio_port: 80 }\n", "consul.fabio_port: needs fabio_gateway"},
      {"consul: { canary_tag: c, canary_weight: 101 }\n", "consul.canary_weight"},
      {"consul: { canary_weight: 5 }\n", "consul.canary_weight: needs canary_tag"},
      {"consul: { fabio_gatway: a }\n", "consul.fabio_gatway: unknown key"},
  };
  for (const auto& [yaml, want] : cases) {
    auto c = ParseConfig(yaml, "tern.yaml", "/");
    EXPECT_FALSE(c.ok()) << yaml;
    if (!c.ok()) {
      EXPECT_THAT(std::string(c.status().message()), HasSubstr(want)) << yaml;
    }
  }
}

}  // namespace
}  // namespace tern::app
