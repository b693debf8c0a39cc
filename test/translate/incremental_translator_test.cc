// The incremental translator is an optimisation only: after any sequence of changes its output
// is byte for byte what a fresh translation of the same world gives, and what did not change is
// the very same message object (so later stages skip it).
#include <gtest/gtest.h>

#include "server/snapshot_builder.h"
#include "translate/translator.h"
#include "worlds.h"

namespace tern::translate {
namespace {

using testing::Ep;
using testing::MakeCluster;
using testing::Shop;

std::string Bytes(const MessagePtr& m) { return server::SerializeDeterministic(*m); }

// The translator as the snapshot builder drives it: told what differs from the previous world.
struct Driven {
  IncrementalTranslator t;
  model::DependencyIndex index;
  std::optional<model::World> last;
  TranslationChanges changes;
  Translation Translate(const model::World& next) {
    model::ChangeSet ch = last ? model::Diff(*last, next).Touched() : model::ChangeSet::Everything();
    index.Update(next, ch);
    changes = t.Update(next, ch, index);
    last = next;
    return t.Current();
  }
};

void ExpectSameAsFresh(const Translation& inc, const model::World& world) {
  Translation fresh = Translate(world);
  ASSERT_EQ(inc.clusters.size(), fresh.clusters.size());
  for (const auto& [name, m] : fresh.clusters) EXPECT_EQ(Bytes(inc.clusters.at(name)), Bytes(m)) << name;
  for (const auto& [name, m] : fresh.endpoints) EXPECT_EQ(Bytes(inc.endpoints.at(name)), Bytes(m)) << name;
  ASSERT_EQ(inc.gateways.size(), fresh.gateways.size());
  for (const auto& [gname, g] : fresh.gateways) {
    const auto& ig = inc.gateways.at(gname);
    ASSERT_EQ(ig.listeners.size(), g.listeners.size());
    for (size_t i = 0; i < g.listeners.size(); ++i) EXPECT_EQ(Bytes(ig.listeners[i].message), Bytes(g.listeners[i].message));
    ASSERT_EQ(ig.routes.size(), g.routes.size());
    for (size_t i = 0; i < g.routes.size(); ++i) EXPECT_EQ(Bytes(ig.routes[i].message), Bytes(g.routes[i].message));
    ASSERT_EQ(ig.virtual_hosts.size(), g.virtual_hosts.size());
    for (size_t i = 0; i < g.virtual_hosts.size(); ++i) {
      EXPECT_EQ(ig.virtual_hosts[i].name, g.virtual_hosts[i].name);
      EXPECT_EQ(ig.virtual_hosts[i].domains, g.virtual_hosts[i].domains);
      EXPECT_EQ(Bytes(ig.virtual_hosts[i].message), Bytes(g.virtual_hosts[i].message));
    }
    EXPECT_EQ(ig.clusters, g.clusters);
    ASSERT_EQ(ig.cluster_variants.size(), g.cluster_variants.size()) << gname;
    for (const auto& [c, m] : g.cluster_variants) EXPECT_EQ(Bytes(ig.cluster_variants.at(c)), Bytes(m)) << gname << " " << c;
  }
  ASSERT_EQ(inc.mesh.listeners.size(), fresh.mesh.listeners.size());
  for (size_t i = 0; i < fresh.mesh.routes.size(); ++i) {
    EXPECT_EQ(inc.mesh.routes[i].name, fresh.mesh.routes[i].name);
    EXPECT_EQ(Bytes(inc.mesh.routes[i].message), Bytes(fresh.mesh.routes[i].message));
  }
  EXPECT_EQ(inc.mesh.clusters, fresh.mesh.clusters);
}

// On-demand virtual hosts of a gateway translated again keep their message objects unless their
// inputs changed; a host that only moved in its file (other origins) is the same host.
TEST(IncrementalTranslatorTest, OnDemandHostsAreRebuiltOnlyWhenTheirInputsChange) {
  Driven t;
  model::World w = Shop();
  w.gateways["edge"].vhds = model::VhdsMode::kOnDemand;
  auto& hosts = w.gateways["edge"].listeners[1].virtual_hosts;
  for (int i = 0; i < 3; ++i) {
    model::VirtualHost vh;
    vh.name = "h" + std::to_string(i);
    vh.domains = {vh.name + ".example.com"};
    vh.origin = "services.yaml:" + std::to_string(40 + i) + ":11";
    model::Route r = testing::Forward("/", {{"web", 1}});
    r.origin = "services.yaml:" + std::to_string(40 + i) + ":30";
    vh.routes.push_back(r);
    hosts.push_back(vh);
  }
  Translation first = t.Translate(w);
  ExpectSameAsFresh(first, w);
  const auto& before = first.gateways.at("edge").virtual_hosts;
  ASSERT_EQ(before.size(), 4u);  // "shop" and h0..h2

  // Every host moves down two lines in its file; h1 also gets another route prefix.
  for (auto& vh : w.gateways["edge"].listeners[1].virtual_hosts) {
    vh.origin += "+2";
    for (auto& r : vh.routes) r.origin += "+2";
  }
  w.gateways["edge"].listeners[1].virtual_hosts[2].routes[0].match.path = "/v2";
  Translation second = t.Translate(w);
  ExpectSameAsFresh(second, w);
  const auto& after = second.gateways.at("edge").virtual_hosts;
  ASSERT_EQ(after.size(), 4u);
  for (size_t i = 0; i < after.size(); ++i) {
    ASSERT_EQ(after[i].name, before[i].name);
    if (after[i].name == "edge-http/h1") {
      EXPECT_NE(after[i].message.get(), before[i].message.get());
    } else {
      EXPECT_EQ(after[i].message.get(), before[i].message.get()) << after[i].name;
    }
  }
  // The gateway's listeners and route configurations, and h1.
  EXPECT_EQ(t.changes.messages, second.gateways.at("edge").listeners.size() + second.gateways.at("edge").routes.size() + 1);

  // A host's cluster disappearing rebuilds that host (its route answers 503 now).
  w.gateways["edge"].listeners[1].virtual_hosts[3].routes[0].action.clusters = {{"gone", 1}};
  Translation third = t.Translate(w);
  ExpectSameAsFresh(third, w);
  EXPECT_NE(third.gateways.at("edge").virtual_hosts[3].message.get(), after[3].message.get());
  EXPECT_EQ(third.gateways.at("edge").virtual_hosts[2].message.get(), after[2].message.get());
  // The cluster appears, the host itself unchanged: rebuilt to forward to it.
  w.clusters["gone"] = MakeCluster("gone", {Ep("10.0.9.1", 80)});
  Translation fourth = t.Translate(w);
  ExpectSameAsFresh(fourth, w);
  EXPECT_NE(fourth.gateways.at("edge").virtual_hosts[3].message.get(), third.gateways.at("edge").virtual_hosts[3].message.get());
  EXPECT_NE(Bytes(fourth.gateways.at("edge").virtual_hosts[3].message).find("gone"), std::string::npos);
}

TEST(IncrementalTranslatorTest, AChangedInstanceRetranslatesOnlyItsClusterAndMatchesAFreshTranslation) {
  Driven t;
  model::World w = Shop();
  Translation first = t.Translate(w);
  ExpectSameAsFresh(first, w);

  w.clusters.at("web").endpoints.at(0).health = model::Health::kCritical;
  Translation second = t.Translate(w);
  ExpectSameAsFresh(second, w);
  EXPECT_NE(second.endpoints.at("web").get(), first.endpoints.at("web").get());
  EXPECT_EQ(second.clusters.at("web").get(), first.clusters.at("web").get());
  EXPECT_EQ(second.clusters.at("api").get(), first.clusters.at("api").get());
  EXPECT_EQ(second.endpoints.at("api").get(), first.endpoints.at("api").get());
  EXPECT_EQ(second.gateways.at("edge").routes[0].message.get(), first.gateways.at("edge").routes[0].message.get());
  // Only web's endpoints were built: its settings did not change.
  EXPECT_EQ(t.changes.messages, 1u);
  EXPECT_EQ(t.changes.clusters, std::set<std::string>{"web"});
  EXPECT_TRUE(t.changes.gateways.empty());
  EXPECT_TRUE(t.changes.services.empty());
}

TEST(IncrementalTranslatorTest, AddingAndRemovingServicesRetranslatesWhatDependsOnThem) {
  Driven t;
  model::World w = Shop();
  t.Translate(w);
  // A new service: the set of clusters changed, so routes that pointed at nothing may now resolve.
  w.clusters["search"] = MakeCluster("search", {Ep("10.0.9.1", 80)});
  ExpectSameAsFresh(t.Translate(w), w);
  // Removing a service a route uses: that route becomes a 503, exactly as a fresh translation.
  w.clusters.erase("api-canary");
  ExpectSameAsFresh(t.Translate(w), w);
  // And back.
  w = Shop();
  ExpectSameAsFresh(t.Translate(w), w);
}

TEST(IncrementalTranslatorTest, RouteAndGatewayChangesAreTranslated) {
  Driven t;
  model::World w = Shop();
  t.Translate(w);
  for (auto& [name, sr] : w.service_routes) {
    for (auto& r : sr.routes) {
      for (auto& wc : r.action.clusters) wc.weight = wc.weight == 0 ? 0 : 50;
    }
  }
  ExpectSameAsFresh(t.Translate(w), w);
  w.gateways.at("edge").listeners.at(0).port += 1;
  ExpectSameAsFresh(t.Translate(w), w);
}

}  // namespace
}  // namespace tern::translate
