// The reconciler keeps the last good configuration serving when a source fails or sends a world
// that does not hold together, and publishes real changes, including real removals.
#include "server/reconciler.h"

#include <gtest/gtest.h>

namespace tern::server {
namespace {

model::Cluster Svc(const std::string& name, uint32_t port) {
  model::Cluster c;
  c.name = c.service = name;
  c.origin = "test:" + name;
  model::Endpoint e;
  e.address = "127.0.0.1";
  e.port = port;
  c.endpoints.push_back(e);
  return c;
}

model::Gateway Edge(const std::string& target) {
  model::Route r;
  r.origin = "services.yaml:20:11 gateways[0].listeners[0].virtual_hosts[0].routes[0]";
  r.action.clusters = {{target, 1}};
  model::VirtualHost vh{.name = "all", .domains = {"*"}, .routes = {r}};
  model::Listener l;
  l.name = "http";
  l.port = 8080;
  l.virtual_hosts = {vh};
  return model::Gateway{.name = "edge", .listeners = {l}};
}

sources::FragmentPtr Fragment(std::vector<model::Cluster> clusters, std::optional<model::Gateway> gw) {
  auto w = std::make_shared<model::World>();
  for (auto& c : clusters) w->clusters[c.name] = c;
  if (gw) w->gateways[gw->name] = *gw;
  return w;
}

class ReconcilerTest : public ::testing::Test {
 protected:
  cache::SnapshotCache cache_;
  Reconciler rec_{cache_, {"file", "consul"}};
};

TEST_F(ReconcilerTest, NotReadyUntilEverySourceHasSynced) {
  rec_.Flush();
  EXPECT_FALSE(rec_.Ready());
  rec_.OnUpdate("file", Fragment({Svc("web", 9001)}, Edge("web")), "initial sync");
  rec_.Flush();
  EXPECT_FALSE(rec_.Ready());
  rec_.OnUpdate("consul", Fragment({}, std::nullopt), "initial sync");
  rec_.Flush();
  EXPECT_TRUE(rec_.Ready());
}

TEST_F(ReconcilerTest, ARouteToAMissingServiceIsRejectedAndTheLastGoodSnapshotKeepsServing) {
  rec_.OnUpdate("file", Fragment({Svc("web", 9001)}, Edge("web")), "initial sync");
  rec_.Flush();
  auto good = cache_.Get("edge");
  ASSERT_TRUE(good);
  ASSERT_TRUE(good->Find(ResourceType::kCluster, "web"));

  rec_.OnUpdate("file", Fragment({Svc("web", 9001)}, Edge("nosuch")), "file services.yaml changed");
  rec_.Flush();
  EXPECT_EQ(cache_.Get("edge")->version(), good->version());
  auto states = rec_.Sources();
  auto file = std::find_if(states.begin(), states.end(), [](auto& s) { return s.name == "file"; });
  ASSERT_NE(file, states.end());
  EXPECT_NE(file->last_error.find("unknown service 'nosuch'"), std::string::npos) << file->last_error;
  EXPECT_NE(file->last_error.find("services.yaml:20:11"), std::string::npos) << file->last_error;
  EXPECT_EQ(file->rejected, 1u);
}

TEST_F(ReconcilerTest, ASourceErrorChangesNothingThatIsServed) {
  rec_.OnUpdate("file", Fragment({Svc("web", 9001)}, Edge("web")), "initial sync");
  rec_.Flush();
  auto before = cache_.Get("edge")->version();
  rec_.OnError("consul", {{"consul http://127.0.0.1:8500", "connection refused"}});
  rec_.Flush();
  EXPECT_EQ(cache_.Get("edge")->version(), before);
  auto states = rec_.Sources();
  auto consul = std::find_if(states.begin(), states.end(), [](auto& s) { return s.name == "consul"; });
  EXPECT_EQ(consul->errors, 1u);
  EXPECT_NE(consul->last_error.find("connection refused"), std::string::npos);
}

TEST_F(ReconcilerTest, OneBadSourceDoesNotHoldBackAGoodOneInTheSameBatch) {
  rec_.OnUpdate("file", Fragment({Svc("web", 9001)}, Edge("web")), "initial sync");
  rec_.Flush();
  rec_.OnUpdate("file", Fragment({Svc("web", 9001)}, Edge("ghost")), "bad edit");
  rec_.OnUpdate("consul", Fragment({Svc("api", 9100)}, std::nullopt), "catalog index 7");
  rec_.Flush();
  auto mesh = cache_.Get("some-grpc-client");
  ASSERT_TRUE(mesh);
  EXPECT_TRUE(mesh->Find(ResourceType::kCluster, "api"));
  auto edge = cache_.Get("edge");
  ASSERT_TRUE(edge->Find(ResourceType::kCluster, "web"));
}

TEST_F(ReconcilerTest, ARealRemovalLeavesTheNextSnapshot) {
  rec_.OnUpdate("file", Fragment({Svc("web", 9001), Svc("old", 9002)}, Edge("web")), "initial sync");
  rec_.Flush();
  ASSERT_TRUE(cache_.Get("grpc")->Find(ResourceType::kCluster, "old"));
  rec_.OnUpdate("file", Fragment({Svc("web", 9001)}, Edge("web")), "old removed");
  rec_.Flush();
  EXPECT_FALSE(cache_.Get("grpc")->Find(ResourceType::kCluster, "old"));
  EXPECT_FALSE(cache_.Get("grpc")->Find(ResourceType::kListener, "old"));
}

TEST_F(ReconcilerTest, UnchangedInputPublishesIdenticalVersions) {
  rec_.OnUpdate("file", Fragment({Svc("web", 9001)}, Edge("web")), "a");
  rec_.Flush();
  auto v1 = cache_.Get("edge")->version();
  auto r1 = cache_.Get("edge")->Find(ResourceType::kCluster, "web");
  rec_.OnUpdate("file", Fragment({Svc("web", 9001)}, Edge("web")), "b");
  rec_.Flush();
  EXPECT_EQ(cache_.Get("edge")->version(), v1);
  EXPECT_EQ(cache_.Get("edge")->Find(ResourceType::kCluster, "web").get(), r1.get());  // reused, not rebuilt
}

// An observer that vetoes publication while `refuse` is set (the audit log in fail-closed mode
// when its disk is full), and remembers the reasons it was offered.
class Gate : public ReconcilerObserver {
 public:
  absl::Status BeforePublish(const BuiltSnapshots&, const std::vector<std::string>& reasons) override {
    offered.push_back(reasons);
    return refuse ? absl::UnavailableError("audit log: No space left on device") : absl::OkStatus();
  }
  bool refuse = false;
  std::vector<std::vector<std::string>> offered;
};

TEST(ReconcilerGateTest, AVetoedChangeIsNotServedUntilTheObserverAcceptsItWithEveryHeldReason) {
  cache::SnapshotCache cache;
  Gate gate;
  Reconciler rec(cache, {"file"}, &gate);
  rec.OnUpdate("file", Fragment({Svc("web", 9001)}, Edge("web")), "initial sync");
  rec.Flush();
  ASSERT_TRUE(rec.Ready());
  auto v1 = cache.Get("edge");

  gate.refuse = true;
  rec.OnUpdate("file", Fragment({Svc("web", 9002)}, Edge("web")), "endpoint moved");
  rec.Flush();
  EXPECT_EQ(cache.Get("edge"), v1) << "a change whose record could not be written was served";
  EXPECT_FALSE(rec.Ready());
  EXPECT_EQ(rec.PublishBlocked(), "audit log: No space left on device");
  rec.OnUpdate("file", Fragment({Svc("web", 9003)}, Edge("web")), "endpoint moved again");
  rec.Flush();
  EXPECT_EQ(cache.Get("edge"), v1);

  gate.refuse = false;
  rec.Flush();  // the retry (every second on the reconciler thread), with nothing new queued
  EXPECT_TRUE(rec.Ready());
  EXPECT_EQ(rec.PublishBlocked(), "");
  EXPECT_NE(cache.Get("edge"), v1);
  ASSERT_FALSE(gate.offered.empty());
  EXPECT_EQ(gate.offered.back(),
            (std::vector<std::string>{"file: endpoint moved", "file: endpoint moved again"}))
      << "the record written at last names every change it covers";
  const uint64_t generation = rec.generation();
  rec.Flush();
  EXPECT_EQ(rec.generation(), generation) << "nothing held any more: no retry";
}

TEST(SnapshotBuilderTest, TwoBuildersGiveByteIdenticalResourcesAndVersions) {
  model::World w = *Fragment({Svc("web", 9001), Svc("api", 9002)}, Edge("web"));
  std::vector<model::Problem> p1, p2;
  SnapshotBuilder a, b;
  auto s1 = a.Build(w, &p1);
  auto s2 = b.Build(w, &p2);
  ASSERT_TRUE(s1 && s2);
  EXPECT_EQ(s1->gateways["edge"]->version(), s2->gateways["edge"]->version());
  EXPECT_EQ(s1->mesh->version(), s2->mesh->version());
  for (ResourceType t : kAdsOrder) {
    for (const auto& [name, r] : s1->mesh->Get(t).resources) {
      EXPECT_EQ(r->body, s2->mesh->Find(t, name)->body);
    }
  }
}

}  // namespace
}  // namespace tern::server
