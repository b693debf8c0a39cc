// The persistent resource map and derived snapshots: a snapshot derived from its predecessor by
// a list of changes holds exactly what a snapshot built from scratch holds, with the same type
// versions, and says which names changed.
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "cache/resource_map.h"
#include "cache/snapshot.h"

namespace tern::cache {
namespace {

ResourcePtr R(const std::string& name, const std::string& body, ResourceType t = ResourceType::kCluster) {
  return MakeResource(t, name, body);
}

std::vector<std::pair<std::string, std::string>> Contents(const ResourceMap& m) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, r] : m) out.emplace_back(name, r->body);
  return out;
}

TEST(ResourceMapTest, RandomEditsMatchAStdMapAndEarlierVersionsStayIntact) {
  std::mt19937 rng(7);
  ResourceMap m;
  std::map<std::string, std::string> expected;
  std::vector<std::pair<ResourceMap, std::map<std::string, std::string>>> history;
  for (int step = 0; step < 3000; ++step) {
    std::string name = "c" + std::to_string(rng() % 400);
    if (rng() % 3 == 0) {
      m = m.Erase(name);
      expected.erase(name);
    } else {
      std::string body = "b" + std::to_string(step);
      m = m.Set(R(name, body));
      expected[name] = body;
    }
    if (step % 250 == 0) history.emplace_back(m, expected);
    ASSERT_EQ(m.size(), expected.size());
  }
  std::vector<std::pair<std::string, std::string>> want(expected.begin(), expected.end());
  EXPECT_EQ(Contents(m), want);
  for (const auto& [name, body] : expected) {
    auto it = m.find(name);
    ASSERT_NE(it, m.end()) << name;
    EXPECT_EQ(it->second->body, body);
    // find() continues in order like a std::map iterator.
    auto next = std::next(expected.find(name));
    ++it;
    if (next == expected.end()) EXPECT_EQ(it, m.end());
    else EXPECT_EQ(it->first, next->first);
  }
  EXPECT_EQ(m.find("absent"), m.end());
  for (const std::string probe : {"", "c1", "c15", "c2x", "c399", "d"}) {
    auto want_it = expected.lower_bound(probe);
    auto got = m.lower_bound(probe);
    if (want_it == expected.end()) EXPECT_EQ(got, m.end()) << probe;
    else EXPECT_EQ(got->first, want_it->first) << probe;
  }
  // Maps taken earlier are unchanged by every later edit.
  for (const auto& [old, contents] : history) {
    std::vector<std::pair<std::string, std::string>> w(contents.begin(), contents.end());
    EXPECT_EQ(Contents(old), w);
  }
}

TEST(ResourceMapTest, FromSortedEqualsInsertingOneByOne) {
  std::vector<ResourcePtr> sorted;
  ResourceMap one_by_one;
  for (int i = 0; i < 1000; ++i) {
    char name[16];
    snprintf(name, sizeof(name), "n%05d", i);
    sorted.push_back(R(name, std::to_string(i)));
  }
  for (int i = 999; i >= 0; --i) one_by_one = one_by_one.Set(sorted[i]);
  ResourceMap built = ResourceMap::FromSorted(sorted);
  EXPECT_EQ(Contents(built), Contents(one_by_one));
  EXPECT_EQ(built.size(), 1000u);
}

std::array<std::vector<ResourcePtr>, kNumResourceTypes> Lists(const std::map<std::string, ResourcePtr>& clusters,
                                                              const std::map<std::string, ResourcePtr>& endpoints) {
  std::array<std::vector<ResourcePtr>, kNumResourceTypes> out;
  for (const auto& [n, r] : clusters) out[static_cast<size_t>(ResourceType::kCluster)].push_back(r);
  for (const auto& [n, r] : endpoints) out[static_cast<size_t>(ResourceType::kEndpoint)].push_back(r);
  return out;
}

TEST(SnapshotDeriveTest, DerivedSnapshotsEqualFromScratchOnesAndListWhatChanged) {
  std::mt19937 rng(11);
  std::map<std::string, ResourcePtr> clusters, endpoints;
  for (int i = 0; i < 50; ++i) {
    std::string n = "s" + std::to_string(i);
    clusters[n] = R(n, "c0");
    endpoints[n] = R(n, "e0", ResourceType::kEndpoint);
  }
  auto current = std::make_shared<const Snapshot>("gw", Lists(clusters, endpoints));
  for (int step = 1; step < 300; ++step) {
    std::array<TypeUpdate, kNumResourceTypes> u;
    std::set<std::string> changed, removed;
    std::set<std::string> touched;  // Derive applies erasures before sets: one edit per name
    for (int k = 0; k < 3; ++k) {
      std::string n = "s" + std::to_string(rng() % 60);
      if (!touched.insert(n).second) continue;
      switch (rng() % 3) {
        case 0:
          endpoints[n] = R(n, "e" + std::to_string(step), ResourceType::kEndpoint);
          u[static_cast<size_t>(ResourceType::kEndpoint)].set.push_back(endpoints[n]);
          changed.insert(n);
          removed.erase(n);
          break;
        case 1:
          if (endpoints.erase(n)) removed.insert(n);
          changed.erase(n);
          u[static_cast<size_t>(ResourceType::kEndpoint)].erase.push_back(n);
          break;
        default:  // the same bytes again: not a change
          if (auto it = endpoints.find(n); it != endpoints.end()) {
            u[static_cast<size_t>(ResourceType::kEndpoint)].set.push_back(R(n, it->second->body, ResourceType::kEndpoint));
          }
      }
    }
    auto derived = Snapshot::Derive(*current, u);
    Snapshot scratch("gw", Lists(clusters, endpoints));
    ASSERT_EQ(derived->version(), scratch.version()) << "step " << step;
    for (ResourceType t : kAdsOrder) {
      ASSERT_EQ(derived->Get(t).version, scratch.Get(t).version);
      ASSERT_EQ(derived->Get(t).resources.size(), scratch.Get(t).resources.size());
    }
    const TypeChanges& ch = derived->Get(ResourceType::kEndpoint).changes;
    EXPECT_TRUE(ch.known);
    EXPECT_EQ(ch.from_version, current->Get(ResourceType::kEndpoint).version);
    // What is listed as changed really differs from the predecessor, and every real difference
    // is listed.
    for (const auto& [n, r] : derived->Get(ResourceType::kEndpoint).resources) {
      auto old = current->Find(ResourceType::kEndpoint, n);
      bool differs = !old || old->version != r->version;
      EXPECT_EQ(differs, std::binary_search(ch.updated.begin(), ch.updated.end(), n)) << n;
    }
    for (const auto& [n, r] : current->Get(ResourceType::kEndpoint).resources) {
      bool gone = !derived->Find(ResourceType::kEndpoint, n);
      EXPECT_EQ(gone, std::binary_search(ch.removed.begin(), ch.removed.end(), n)) << n;
    }
    // Untouched types are the very same map.
    EXPECT_TRUE(derived->Get(ResourceType::kCluster).changes.updated.empty());
    EXPECT_EQ(derived->Get(ResourceType::kCluster).version, current->Get(ResourceType::kCluster).version);
    current = derived;
  }
}

}  // namespace
}  // namespace tern::cache
