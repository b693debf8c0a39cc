// The pure part of the Consul source, driven without HTTP: what the core receives after each
// batch of answers. The world it keeps must always be what mapping the whole view from scratch
// gives (consul::BuildWorld), the changes it reports must turn the previous world into the new
// one, and a change of instances must cost the clusters that read them, not the catalog.
#include "sources/consul/consul_state.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>

namespace tern::sources::consul {
namespace {

std::string TargetId(const std::string& service, const std::string& subset = "") {
  return (subset.empty() ? "" : subset + ".") + service + ".default.dc1";
}

ChainTarget Target(const std::string& service, const std::string& subset = "") {
  ChainTarget t{.id = TargetId(service, subset), .service = service, .subset = subset, .datacenter = "dc1"};
  if (!subset.empty()) t.filter = "Service.Meta.version == " + subset;
  return t;
}

ChainNode Resolver(const std::string& target, std::vector<std::string> failover = {}) {
  return ChainNode{.type = "resolver", .name = target, .target = target, .failover_targets = std::move(failover)};
}

// Consul's default chain: one resolver to the service itself.
DiscoveryChain Plain(const std::string& service) {
  DiscoveryChain c{.service = service, .datacenter = "dc1", .protocol = "http", .start_node = "resolver:" + TargetId(service)};
  c.nodes[c.start_node] = Resolver(TargetId(service));
  c.targets[TargetId(service)] = Target(service);
  return c;
}

// The service's resolver fails over to `other`'s instances.
DiscoveryChain Failover(const std::string& service, const std::string& other) {
  DiscoveryChain c = Plain(service);
  c.nodes[c.start_node] = Resolver(TargetId(service), {TargetId(other)});
  c.targets[TargetId(other)] = Target(other);
  return c;
}

// 90/10 between the subsets v1 and v2.
DiscoveryChain Split(const std::string& service) {
  DiscoveryChain c{.service = service, .datacenter = "dc1", .protocol = "http", .start_node = "splitter:" + service};
  ChainNode s{.type = "splitter", .name = service};
  s.splits = {{90, "resolver:" + TargetId(service, "v1")}, {10, "resolver:" + TargetId(service, "v2")}};
  c.nodes[c.start_node] = s;
  for (const char* v : {"v1", "v2"}) {
    c.nodes["resolver:" + TargetId(service, v)] = Resolver(TargetId(service, v));
    c.targets[TargetId(service, v)] = Target(service, v);
  }
  return c;
}

std::vector<Instance> Instances(const std::string& service, int n, int generation, bool critical_first = false) {
  std::vector<Instance> out;
  for (int i = 0; i < n; ++i) {
    Instance in{.id = service + "-" + std::to_string(i), .service = service, .node = "node" + std::to_string(i % 3),
                .address = "10.0." + std::to_string(generation % 250) + "." + std::to_string(i + 1),
                .port = static_cast<uint32_t>(8000 + i)};
    if (i == 0 && critical_first) in.health = model::Health::kCritical;
    out.push_back(std::move(in));
  }
  return out;
}

// What the source does after an answer: promote chains, and (standing in for the watches it
// starts) give every wanted path that has no data yet its instances.
void Settle(ConsulState& s, int generation = 0) {
  for (int round = 0; round < 2; ++round) {
    for (const auto& path : s.Promote()) {
      if (s.health(path)) continue;
      const std::string svc = path.substr(std::string("/v1/health/service/").size());
      s.SetHealth(path, Instances(svc.substr(0, svc.find('?')), 2, generation));
    }
  }
}

template <typename T>
void ApplyKind(std::map<std::string, T>& into, const std::map<std::string, std::optional<T>>& delta) {
  for (const auto& [name, value] : delta) {
    if (value) into[name] = *value;
    else into.erase(name);
  }
}

model::World Applied(model::World w, const model::WorldDelta& d) {
  ApplyKind(w.clusters, d.clusters);
  ApplyKind(w.gateways, d.gateways);
  ApplyKind(w.service_routes, d.service_routes);
  ApplyKind(w.secrets, d.secrets);
  if (d.defaults) w.defaults = *d.defaults;
  return w;
}

model::World FromScratch(const ConsulState& s, const TagRouting& tags = {}) {
  std::vector<model::Problem> problems;
  return BuildWorld(s.view(), &problems, tags);
}

ServiceList Catalog(int n) {
  ServiceList l;
  for (int i = 0; i < n; ++i) l["svc" + std::to_string(i)] = {};
  return l;
}

TEST(ConsulState, AHealthChangeRemapsOnlyTheClustersThatReadThatHealth) {
  ConsulState s;
  s.SetCatalog(Catalog(1000));
  s.SetIngress({});
  for (int i = 0; i < 1000; ++i) s.SetChain("svc" + std::to_string(i), Plain("svc" + std::to_string(i)));
  s.SetChain("svc1", Failover("svc1", "svc2"));  // svc1 also reads svc2's instances
  Settle(s);
  ConsulState::Output first = s.Build();
  EXPECT_TRUE(first.whole);
  ASSERT_EQ(first.world->clusters.size(), 1000u);

  s.SetHealth(ServiceHealthPath("svc2"), Instances("svc2", 2, 0, /*critical_first=*/true));
  ConsulState::Output next = s.Build();
  EXPECT_FALSE(next.whole) << "only instances changed: no whole mapping";
  ASSERT_TRUE(next.changes.has_value());
  std::set<std::string> touched;
  for (const auto& [name, c] : next.changes->clusters) touched.insert(name);
  EXPECT_EQ(touched, (std::set<std::string>{TargetId("svc1"), TargetId("svc2")}));
  EXPECT_TRUE(next.changes->gateways.empty());
  EXPECT_TRUE(next.changes->service_routes.empty());
  EXPECT_EQ(*next.world, FromScratch(s));
  EXPECT_EQ(next.world->clusters.at(TargetId("svc2")).endpoints.size(), 1u) << "the critical instance left";
  // svc1: its own two, then svc2's passing one at priority 1.
  const auto& eps = next.world->clusters.at(TargetId("svc1")).endpoints;
  ASSERT_EQ(eps.size(), 3u);
  EXPECT_EQ(eps[2].priority, 1u);

  // The same answer again changes nothing.
  s.SetHealth(ServiceHealthPath("svc2"), Instances("svc2", 2, 0, true));
  ConsulState::Output same = s.Build();
  ASSERT_TRUE(same.changes.has_value());
  EXPECT_TRUE(same.changes->empty());
}

TEST(ConsulState, AFragmentTheCoreStillHoldsNeverChangesAndOneItLetGoOfIsUpdatedInPlace) {
  ConsulState s;
  s.SetCatalog(Catalog(3));
  for (int i = 0; i < 3; ++i) s.SetChain("svc" + std::to_string(i), Plain("svc" + std::to_string(i)));
  Settle(s);
  std::shared_ptr<const model::World> held = s.Build().world;  // the core has not applied it yet
  const model::World before = *held;

  s.SetHealth(ServiceHealthPath("svc0"), Instances("svc0", 3, 7));
  std::shared_ptr<const model::World> next = s.Build().world;
  EXPECT_NE(next.get(), held.get()) << "copied: the core still reads the previous one";
  EXPECT_EQ(*held, before) << "a fragment handed to the core never changes under it";
  EXPECT_EQ(next->clusters.at(TargetId("svc0")).endpoints.size(), 3u);

  held.reset();
  const model::World* address = next.get();
  next.reset();  // the core applied it and let go
  s.SetHealth(ServiceHealthPath("svc0"), Instances("svc0", 1, 8));
  std::shared_ptr<const model::World> third = s.Build().world;
  EXPECT_EQ(third.get(), address) << "nobody else holds it: updated in place, no copy";
  EXPECT_EQ(third->clusters.at(TargetId("svc0")).endpoints.size(), 1u);
  EXPECT_EQ(*third, FromScratch(s));
}

TEST(ConsulState, WithTagRoutingAHealthChangeIsMappedWhole) {
  TagRouting tags;
  tags.canary.tag = "canary";
  ConsulState s(tags);
  s.SetCatalog(Catalog(2));
  for (int i = 0; i < 2; ++i) s.SetChain("svc" + std::to_string(i), Plain("svc" + std::to_string(i)));
  Settle(s);
  s.Build();
  auto inst = Instances("svc0", 3, 0);
  inst[0].tags = {"canary"};  // one canary among three: routes change, not only the cluster
  s.SetHealth(ServiceHealthPath("svc0"), inst);
  ConsulState::Output out = s.Build();
  EXPECT_TRUE(out.whole);
  EXPECT_EQ(*out.world, FromScratch(s, tags));
  ASSERT_TRUE(out.changes.has_value());
  EXPECT_TRUE(out.changes->service_routes.contains("svc0")) << "the canary split is a route change";
}

TEST(ConsulState, ABadRouterEntryHoldsBackItsServicesNewChainUntilFixed) {
  ConsulState s;
  s.SetCatalog(Catalog(1));
  s.SetChain("svc0", Plain("svc0"));
  Settle(s);
  s.Build();
  s.SetBadEntries("service-splitter", {"svc0"});
  s.SetChain("svc0", Split("svc0"));
  Settle(s);
  ConsulState::Output held = s.Build();
  EXPECT_TRUE(held.world->clusters.contains(TargetId("svc0"))) << "the last good chain keeps serving";
  EXPECT_FALSE(held.world->clusters.contains(TargetId("svc0", "v1")));
  s.SetBadEntries("service-splitter", {});
  Settle(s);
  ConsulState::Output fixed = s.Build();
  EXPECT_TRUE(fixed.world->clusters.contains(TargetId("svc0", "v1")));
  EXPECT_EQ(Applied(*held.world, *fixed.changes), *fixed.world);
}

// Random answers, in the order a source gets them: after every batch the world equals a mapping
// from scratch, and the reported changes turn the previous world into it.
TEST(ConsulState, RandomAnswersAlwaysGiveTheMappingFromScratch) {
  const char* env = std::getenv("TERN_PROPERTY_SEED");
  const uint32_t seed = env ? static_cast<uint32_t>(std::strtoul(env, nullptr, 10)) : 20261201u;
  SCOPED_TRACE("TERN_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
  const int kServices = 40;

  ConsulState s;
  ServiceList catalog = Catalog(kServices);
  s.SetCatalog(catalog);
  for (const auto& [name, tags] : catalog) s.SetChain(name, Plain(name));
  Settle(s);
  model::World previous = *s.Build().world;
  int whole = 0, partial = 0;
  for (int step = 0; step < 600; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const int batch = 1 + pick(3);
    for (int b = 0; b < batch; ++b) {
      const std::string svc = "svc" + std::to_string(pick(kServices));
      const int what = pick(100);
      if (what < 70) {  // an instance flips, comes or goes
        std::vector<Instance> inst = Instances(svc, 1 + pick(4), pick(5), pick(2) == 0);
        if (pick(4) == 0) inst[0].meta["version"] = "v2";
        const std::vector<std::string> paths = {ServiceHealthPath(svc),
                                                HealthPath(Target(svc, "v1"), "dc1"), HealthPath(Target(svc, "v2"), "dc1")};
        const std::string& path = paths[static_cast<size_t>(pick(3))];
        if (s.health(path)) s.SetHealth(path, std::move(inst));
      } else if (what < 85) {  // a chain changes shape
        const int shape = pick(3);
        if (catalog.contains(svc)) {
          s.SetChain(svc, shape == 0   ? Plain(svc)
                          : shape == 1 ? Split(svc)
                                       : Failover(svc, "svc" + std::to_string(pick(kServices))));
        }
      } else if (what < 92) {  // a service comes or goes
        if (catalog.contains(svc) && pick(2) == 0) catalog.erase(svc);
        else catalog[svc] = {};
        s.SetCatalog(catalog);
        if (!s.has_chain(svc) && catalog.contains(svc)) s.SetChain(svc, Plain(svc));
      } else {  // the gateway exposes everything, or a few
        IngressGateway g{.name = "edge"};
        IngressListener l{.port = 8080, .protocol = "http"};
        if (pick(2) == 0) l.services.push_back({.name = "*"});
        else l.services.push_back({.name = svc});
        g.listeners.push_back(l);
        s.SetIngress({g});
      }
    }
    Settle(s, step);
    ConsulState::Output out = s.Build();
    (out.whole ? whole : partial)++;
    ASSERT_EQ(*out.world, FromScratch(s));
    ASSERT_TRUE(out.changes.has_value());
    ASSERT_EQ(Applied(previous, *out.changes), *out.world);
    previous = *out.world;
  }
  EXPECT_GT(partial, 100) << "most batches only change instances";
  EXPECT_GT(whole, 20);
}

}  // namespace
}  // namespace tern::sources::consul
