// Per-gateway cluster variants (model::Gateway::upstreams): a gateway's own limits on its traffic
// to an upstream reach that gateway's CDS only, under the shared cluster's name; other gateways
// and proxyless clients keep the shared cluster; the incremental translator rebuilds a variant
// when the gateway's policy or the cluster's settings change, never for an endpoint change.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "server/snapshot_builder.h"
#include "translate/cluster_builder.h"
#include "translate/pgv_validator.h"
#include "translate/translator.h"
#include "translate/worlds.h"

namespace tern::translate {
namespace {

using envoy::config::cluster::v3::Cluster;
using ::testing::IsEmpty;
using testing::Ep;
using testing::Forward;
using testing::MakeCluster;

model::Gateway RoutingTo(const std::string& name, const std::string& cluster) {
  model::Gateway g;
  g.name = name;
  model::Listener l;
  l.name = "http_8080";
  l.port = 8080;
  model::VirtualHost vh;
  vh.name = cluster;
  vh.domains = {cluster + ".example.com"};
  vh.routes.push_back(Forward("/", {{cluster, 1}}));
  l.virtual_hosts.push_back(vh);
  g.listeners.push_back(l);
  return g;
}

// web has limits from tern's files; gateway "edge" sets its own on web; "other" does not.
model::World TwoGateways() {
  model::World w;
  auto web = MakeCluster("web", {Ep("10.0.0.1", 8080)});
  web.circuit_breakers.max_connections = 1000;
  web.circuit_breakers.max_requests = 500;
  w.clusters["web"] = web;
  w.clusters["api"] = MakeCluster("api", {Ep("10.0.0.2", 9090)});
  w.gateways["edge"] = RoutingTo("edge", "web");
  w.gateways["other"] = RoutingTo("other", "web");
  model::UpstreamPolicy p;
  p.circuit_breakers.max_connections = 10;
  p.circuit_breakers.max_pending_requests = 20;
  p.outlier_detection = model::OutlierDetection{.consecutive_5xx = 3,
                                                .interval = std::chrono::milliseconds(2000),
                                                .base_ejection_time = std::chrono::milliseconds(15000),
                                                .max_ejection_percent = 50,
                                                .enforcing_consecutive_5xx = 80};
  p.connect_timeout = std::chrono::milliseconds(1500);
  p.origin = "ingress-gateway/edge Defaults";
  w.gateways["edge"].upstreams["web"] = p;
  w.gateways["edge"].upstreams["api"] = p;  // a cluster edge does not use: inert
  return w;
}

const Cluster& AsCluster(const MessagePtr& m) { return dynamic_cast<const Cluster&>(*m); }

TEST(UpstreamPolicyTest, TheGatewayWithLimitsGetsItsOwnVariantAndOnlyIt) {
  Translation t = Translate(TwoGateways());
  const auto& edge = t.gateways.at("edge");
  ASSERT_EQ(edge.cluster_variants.size(), 1u) << "only clusters the gateway uses";
  const Cluster& v = AsCluster(edge.cluster_variants.at("web"));
  EXPECT_EQ(v.name(), "web") << "same name as the shared cluster";
  EXPECT_EQ(v.eds_cluster_config().service_name(), "web") << "endpoints stay shared";
  ASSERT_EQ(v.circuit_breakers().thresholds_size(), 1);
  const auto& th = v.circuit_breakers().thresholds(0);
  EXPECT_EQ(th.max_connections().value(), 10u);
  EXPECT_EQ(th.max_pending_requests().value(), 20u);
  EXPECT_EQ(th.max_requests().value(), 500u) << "a field the gateway does not set keeps the cluster's";
  EXPECT_EQ(v.outlier_detection().consecutive_5xx().value(), 3u);
  EXPECT_EQ(v.outlier_detection().interval().seconds(), 2);
  EXPECT_EQ(v.outlier_detection().base_ejection_time().seconds(), 15);
  EXPECT_EQ(v.outlier_detection().max_ejection_percent().value(), 50u);
  EXPECT_EQ(v.outlier_detection().enforcing_consecutive_5xx().value(), 80u);
  EXPECT_EQ(v.connect_timeout().nanos(), 500000000);
  EXPECT_EQ(v.connect_timeout().seconds(), 1);
  EXPECT_THAT(ValidateResource(v), IsEmpty());

  EXPECT_TRUE(t.gateways.at("other").cluster_variants.empty());
  EXPECT_TRUE(t.mesh.cluster_variants.empty());
  const Cluster& shared = AsCluster(t.clusters.at("web"));
  EXPECT_EQ(shared.circuit_breakers().thresholds(0).max_connections().value(), 1000u);
  EXPECT_FALSE(shared.has_outlier_detection());
  EXPECT_EQ(shared.connect_timeout().seconds(), 5);
}

TEST(UpstreamPolicyTest, EmptyPolicyIsNoVariant) {
  model::World w = TwoGateways();
  w.gateways["edge"].upstreams["web"] = model::UpstreamPolicy{.origin = "x"};
  EXPECT_TRUE(Translate(w).gateways.at("edge").cluster_variants.empty());
}

// The translator as the snapshot builder drives it.
struct Driven {
  IncrementalTranslator t;
  model::DependencyIndex index;
  std::optional<model::World> last;
  TranslationChanges changes;
  void Step(const model::World& next) {
    model::ChangeSet ch = last ? model::Diff(*last, next).Touched() : model::ChangeSet::Everything();
    index.Update(next, ch);
    changes = t.Update(next, ch, index);
    last = next;
  }
};

std::string Bytes(const MessagePtr& m) { return server::SerializeDeterministic(*m); }

void ExpectSameAsFresh(const IncrementalTranslator& inc, const model::World& w) {
  Translation fresh = Translate(w);
  for (const auto& [gname, g] : fresh.gateways) {
    const auto& ig = inc.gateways().at(gname);
    ASSERT_EQ(ig.cluster_variants.size(), g.cluster_variants.size()) << gname;
    for (const auto& [c, m] : g.cluster_variants) EXPECT_EQ(Bytes(ig.cluster_variants.at(c)), Bytes(m)) << gname;
  }
}

TEST(UpstreamPolicyTest, VariantsAreRebuiltForPolicyOrSettingsChangesOnly) {
  Driven d;
  model::World w = TwoGateways();
  d.Step(w);
  MessagePtr variant = d.t.gateways().at("edge").cluster_variants.at("web");

  // An endpoint change: no gateway is translated again, the variant is the same object.
  w.clusters["web"].endpoints.push_back(Ep("10.0.0.9", 8080));
  d.Step(w);
  EXPECT_THAT(d.changes.gateways, IsEmpty());
  EXPECT_EQ(d.t.gateways().at("edge").cluster_variants.at("web"), variant);
  ExpectSameAsFresh(d.t, w);

  // The cluster's settings change: the gateway with a variant is translated again (its variant
  // reads them); the other gateway is not.
  w.clusters["web"].circuit_breakers.max_requests = 42;
  d.Step(w);
  EXPECT_EQ(d.changes.gateways, std::set<std::string>{"edge"});
  const Cluster& v = AsCluster(d.t.gateways().at("edge").cluster_variants.at("web"));
  EXPECT_EQ(v.circuit_breakers().thresholds(0).max_requests().value(), 42u);
  EXPECT_EQ(v.circuit_breakers().thresholds(0).max_connections().value(), 10u);
  ExpectSameAsFresh(d.t, w);

  // The gateway's policy changes: that gateway alone.
  w.gateways["edge"].upstreams["web"].circuit_breakers.max_connections = 7;
  d.Step(w);
  EXPECT_EQ(d.changes.gateways, std::set<std::string>{"edge"});
  EXPECT_EQ(AsCluster(d.t.gateways().at("edge").cluster_variants.at("web"))
                .circuit_breakers().thresholds(0).max_connections().value(),
            7u);
  ExpectSameAsFresh(d.t, w);

  // The policy removed: the gateway gets the shared cluster again.
  w.gateways["edge"].upstreams.clear();
  d.Step(w);
  EXPECT_TRUE(d.t.gateways().at("edge").cluster_variants.empty());
  w.clusters["web"].circuit_breakers.max_requests = 43;
  d.Step(w);
  EXPECT_THAT(d.changes.gateways, IsEmpty()) << "no variant reads web any more";
  ExpectSameAsFresh(d.t, w);
}

Cluster ServedCluster(const cache::SnapshotPtr& s, const std::string& name) {
  Cluster c;
  auto r = s->Find(ResourceType::kCluster, name);
  EXPECT_TRUE(r) << name;
  if (r) {
    EXPECT_TRUE(c.ParseFromString(r->body));
  }
  return c;
}

// Through the snapshot builder: the CDS each node cluster is served, before and after an
// endpoint change (which derives the gateway's snapshot without translating it again).
TEST(UpstreamPolicyTest, SnapshotsServeTheVariantToItsGatewayOnly) {
  server::SnapshotBuilder b;
  model::World w = TwoGateways();
  std::vector<model::Problem> problems;
  auto built = b.Build(w, &problems);
  ASSERT_TRUE(built) << (problems.empty() ? "" : problems[0].ToString());
  auto check = [&](const server::BuiltSnapshots& s) {
    EXPECT_EQ(ServedCluster(s.gateways.at("edge"), "web").circuit_breakers().thresholds(0).max_connections().value(), 10u);
    EXPECT_TRUE(ServedCluster(s.gateways.at("edge"), "web").has_outlier_detection());
    EXPECT_EQ(ServedCluster(s.gateways.at("other"), "web").circuit_breakers().thresholds(0).max_connections().value(), 1000u);
    EXPECT_FALSE(ServedCluster(s.gateways.at("other"), "web").has_outlier_detection());
    EXPECT_EQ(ServedCluster(s.mesh, "web").circuit_breakers().thresholds(0).max_connections().value(), 1000u);
    EXPECT_FALSE(ServedCluster(s.mesh, "web").has_outlier_detection());
  };
  check(*built);
  const auto edge_cds_version = built->gateways.at("edge")->Get(ResourceType::kCluster).version;

  model::ChangeSet ch;
  ch.clusters = {"web"};
  w.clusters["web"].endpoints.push_back(Ep("10.0.0.9", 8080));
  auto next = b.Build(w, ch, &problems);
  ASSERT_TRUE(next) << (problems.empty() ? "" : problems[0].ToString());
  check(*next);
  EXPECT_EQ(next->gateways.at("edge")->Get(ResourceType::kCluster).version, edge_cds_version)
      << "an endpoint change leaves the gateway's CDS as it was";
  EXPECT_NE(next->gateways.at("edge")->Get(ResourceType::kEndpoint).version,
            built->gateways.at("edge")->Get(ResourceType::kEndpoint).version);

  // The gateway's policy changes: its CDS changes, the other's does not.
  const auto other_cds_version = next->gateways.at("other")->Get(ResourceType::kCluster).version;
  model::ChangeSet gch;
  gch.gateways = {"edge"};
  w.gateways["edge"].upstreams["web"].circuit_breakers.max_connections = 11;
  auto third = b.Build(w, gch, &problems);
  ASSERT_TRUE(third);
  EXPECT_EQ(ServedCluster(third->gateways.at("edge"), "web").circuit_breakers().thresholds(0).max_connections().value(), 11u);
  EXPECT_EQ(third->gateways.at("other")->Get(ResourceType::kCluster).version, other_cds_version);

  server::SnapshotBuilder fresh;
  auto want = fresh.Build(w, &problems);
  ASSERT_TRUE(want);
  for (const auto& g : {"edge", "other"}) {
    EXPECT_EQ(third->gateways.at(g)->Get(ResourceType::kCluster).version, want->gateways.at(g)->Get(ResourceType::kCluster).version) << g;
  }
}

}  // namespace
}  // namespace tern::translate
