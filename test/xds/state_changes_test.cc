// The stream state machines (SotwState, DeltaState) fed derived snapshots: a stream whose client
// holds the predecessor of a snapshot computes its next response from the names the snapshot
// records as changed, and must answer exactly what the full comparison answers. Each differential
// test runs two states side by side on the same requests: one fed derived snapshots, one fed the
// same contents built from scratch (no change lists, so it compares everything); their responses
// must be byte for byte the same. The targeted tests tell the stories the random runs cover.
// No gRPC here: the states are driven as the reactor drives them.
#include <array>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cache/snapshot.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "xds/delta_state.h"
#include "xds/sotw_state.h"

namespace tern::xds {
namespace {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

constexpr std::array<ResourceType, 5> kTypes = {ResourceType::kCluster, ResourceType::kEndpoint,
                                                ResourceType::kListener, ResourceType::kRoute,
                                                ResourceType::kSecret};
using Updates = std::array<cache::TypeUpdate, kNumResourceTypes>;

// A resource whose body is "<name>@<content>"; "hidden" contents are visible to named
// subscriptions only (the flag is part of the content, so flipping it changes the version).
cache::ResourcePtr Res(ResourceType t, const std::string& name, const std::string& content) {
  const bool wildcard = content.find("hidden") == std::string::npos;
  return cache::MakeResource(t, name, name + "@" + content, wildcard);
}

cache::SnapshotPtr Build(const std::vector<std::tuple<ResourceType, std::string, std::string>>& rs) {
  std::array<std::vector<cache::ResourcePtr>, kNumResourceTypes> res;
  for (const auto& [t, name, content] : rs) res[static_cast<size_t>(t)].push_back(Res(t, name, content));
  return std::make_shared<cache::Snapshot>("edge", std::move(res));
}

// The same contents, built from scratch: no change lists.
cache::SnapshotPtr Scratch(const cache::Snapshot& s) {
  std::array<std::vector<cache::ResourcePtr>, kNumResourceTypes> res;
  for (ResourceType t : kAdsOrder) {
    for (const auto& [name, r] : s.Get(t).resources) res[static_cast<size_t>(t)].push_back(r);
  }
  return std::make_shared<cache::Snapshot>(s.node_cluster(), std::move(res));
}

Updates Set(ResourceType t, const std::string& name, const std::string& content) {
  Updates u;
  u[static_cast<size_t>(t)].set.push_back(Res(t, name, content));
  return u;
}

DiscoveryRequest SotwRequest(ResourceType t, const std::vector<std::string>& names, const std::string& nonce = "") {
  DiscoveryRequest req;
  req.set_type_url(std::string(TypeUrl(t)));
  for (const auto& n : names) req.add_resource_names(n);
  req.set_response_nonce(nonce);
  return req;
}

DeltaDiscoveryRequest DeltaRequest(ResourceType t, const std::vector<std::string>& subscribe,
                                   const std::vector<std::string>& unsubscribe = {}, const std::string& nonce = "") {
  DeltaDiscoveryRequest req;
  req.set_type_url(std::string(TypeUrl(t)));
  for (const auto& n : subscribe) req.add_resource_names_subscribe(n);
  for (const auto& n : unsubscribe) req.add_resource_names_unsubscribe(n);
  req.set_response_nonce(nonce);
  return req;
}

// Resource names of a state-of-the-world response (bodies are "<name>@<content>").
std::vector<std::string> Names(const PendingResponse& p) {
  DiscoveryResponse r;
  EXPECT_TRUE(r.ParseFromString(p.Serialize()));
  std::vector<std::string> out;
  for (const auto& any : r.resources()) out.push_back(any.value().substr(0, any.value().find('@')));
  return out;
}

DeltaDiscoveryResponse ParseDelta(const PendingResponse& p) {
  DeltaDiscoveryResponse r;
  EXPECT_TRUE(r.ParseFromString(p.Serialize()));
  return r;
}

std::vector<std::string> DeltaNames(const DeltaDiscoveryResponse& r) {
  std::vector<std::string> out;
  for (const auto& res : r.resources()) out.push_back(res.name());
  return out;
}

std::vector<std::string> Removed(const DeltaDiscoveryResponse& r) {
  return {r.removed_resources().begin(), r.removed_resources().end()};
}

std::string Name(std::mt19937& rng) { return "n" + std::to_string(rng() % 10); }

// Random edits of a few names per type: new contents, "hidden" ones, removals.
Updates RandomUpdates(std::mt19937& rng) {
  Updates u;
  for (ResourceType t : kTypes) {
    auto& tu = u[static_cast<size_t>(t)];
    for (size_t k = rng() % 4; k > 0; --k) {
      if (rng() % 4 == 0) {
        tu.erase.push_back(Name(rng));
      } else {
        tu.set.push_back(Res(t, Name(rng), (rng() % 5 == 0 ? "hidden" : "v") + std::to_string(rng() % 3)));
      }
    }
  }
  return u;
}

cache::SnapshotPtr RandomStart(std::mt19937& rng) {
  std::vector<std::tuple<ResourceType, std::string, std::string>> rs;
  for (ResourceType t : kTypes) {
    for (int i = 0; i < 10; ++i) {
      if (rng() % 3 != 0) rs.emplace_back(t, "n" + std::to_string(i), "v" + std::to_string(rng() % 3));
    }
  }
  return Build(rs);
}

// Two states of one protocol on the same requests; `derived` is fed derived snapshots, `scratch`
// the same contents built from scratch.
template <typename State>
struct Twin {
  explicit Twin(std::optional<ResourceType> fixed) : derived(fixed), scratch(fixed) {}
  State derived;
  State scratch;
  cache::SnapshotPtr derived_snapshot;
  cache::SnapshotPtr scratch_snapshot;
  std::array<std::string, kNumResourceTypes> last_nonce;
  size_t responses = 0;

  void Publish(cache::SnapshotPtr s) {
    scratch_snapshot = Scratch(*s);
    for (ResourceType t : kAdsOrder) {
      ASSERT_EQ(s->Get(t).version, scratch_snapshot->Get(t).version) << "derived and scratch contents differ";
    }
    derived_snapshot = std::move(s);
  }

  template <typename Request>
  void Apply(const Request& req) {
    RequestKind k1, k2;
    ResourceType t1, t2;
    absl::Status s1 = derived.OnRequest(req, &k1, &t1);
    absl::Status s2 = scratch.OnRequest(req, &k2, &t2);
    ASSERT_EQ(s1.ok(), s2.ok());
    ASSERT_TRUE(s1.ok()) << s1;
    ASSERT_EQ(k1, k2);
  }

  // Writes up to `max` responses (the rest waits, as when a write is in flight when the next
  // snapshot arrives); each must be the same from both states.
  void Drain(size_t max = 64) {
    if (!derived_snapshot) return;
    for (size_t i = 0; i < max; ++i) {
      auto a = derived.NextResponse(derived_snapshot);
      auto b = scratch.NextResponse(scratch_snapshot);
      ASSERT_EQ(a.has_value(), b.has_value()) << "after " << responses << " responses";
      if (!a) return;
      ASSERT_EQ(a->type, b->type);
      ASSERT_EQ(a->Serialize(), b->Serialize()) << "response " << responses << " (" << ShortName(a->type) << ")";
      last_nonce[static_cast<size_t>(a->type)] = a->nonce;
      responses++;
    }
  }
};

std::vector<std::string> RandomNames(std::mt19937& rng, bool allow_star) {
  std::vector<std::string> names;
  for (size_t k = rng() % 5; k > 0; --k) names.push_back(allow_star && rng() % 6 == 0 ? "*" : Name(rng));
  return names;
}

// One random run: publications (sometimes two before the stream looks, sometimes while responses
// are still waiting), subscription changes, ACKs.
template <typename State, typename MakeRequest>
void RandomRun(uint32_t seed, std::optional<ResourceType> fixed, MakeRequest make_request, uint64_t* incremental,
               size_t* responses) {
  std::mt19937 rng(seed);
  Twin<State> twin(fixed);
  cache::SnapshotPtr chain = RandomStart(rng);
  twin.Publish(chain);
  for (int step = 0; step < 120; ++step) {
    if (rng() % 3 == 0) {
      chain = cache::Snapshot::Derive(*chain, RandomUpdates(rng));
      if (rng() % 5 == 0) chain = cache::Snapshot::Derive(*chain, RandomUpdates(rng));  // the stream skips one
      twin.Publish(chain);
    } else {
      ResourceType t = fixed ? *fixed : kTypes[rng() % kTypes.size()];
      twin.Apply(make_request(rng, t, twin.last_nonce[static_cast<size_t>(t)]));
    }
    if (::testing::Test::HasFatalFailure()) return;
    twin.Drain(rng() % 4 == 0 ? 1 : 64);
    if (::testing::Test::HasFatalFailure()) {
      ADD_FAILURE() << "seed " << seed << " step " << step;
      return;
    }
  }
  *incremental += twin.derived.incremental_evaluations();
  *responses += twin.responses;
}

DiscoveryRequest RandomSotwRequest(std::mt19937& rng, ResourceType t, const std::string& last_nonce) {
  // Mostly ACKs that keep or change the subscription, some updates without a nonce.
  return SotwRequest(t, RandomNames(rng, true), rng() % 4 == 0 ? "" : last_nonce);
}

DeltaDiscoveryRequest RandomDeltaRequest(std::mt19937& rng, ResourceType t, const std::string& last_nonce) {
  if (rng() % 2 == 0) return DeltaRequest(t, {}, {}, last_nonce);  // a plain ACK
  return DeltaRequest(t, RandomNames(rng, true), RandomNames(rng, true), rng() % 4 == 0 ? "" : last_nonce);
}

TEST(StateChangesTest, SotwAdsAnswersFromChangesExactlyAsFromTheWholeSnapshot) {
  uint64_t incremental = 0;
  size_t responses = 0;
  for (uint32_t seed = 1; seed <= 150; ++seed) {
    RandomRun<SotwState>(seed, std::nullopt, RandomSotwRequest, &incremental, &responses);
    if (HasFailure()) return;
  }
  // The runs did take the incremental path, and often (not a comparison of two full paths).
  EXPECT_GT(incremental, 2000u);
  EXPECT_GT(responses, 3000u);
}

TEST(StateChangesTest, SotwPerTypeServicesAnswerFromChangesExactlyAsFromTheWholeSnapshot) {
  uint64_t incremental = 0;
  size_t responses = 0;
  for (uint32_t seed = 1; seed <= 150; ++seed) {
    RandomRun<SotwState>(seed, kTypes[seed % kTypes.size()], RandomSotwRequest, &incremental, &responses);
    if (HasFailure()) return;
  }
  EXPECT_GT(incremental, 1000u);
  EXPECT_GT(responses, 1000u);
}

TEST(StateChangesTest, DeltaAdsAnswersFromChangesExactlyAsFromTheWholeSnapshot) {
  uint64_t incremental = 0;
  size_t responses = 0;
  for (uint32_t seed = 1; seed <= 150; ++seed) {
    RandomRun<DeltaState>(seed, std::nullopt, RandomDeltaRequest, &incremental, &responses);
    if (HasFailure()) return;
  }
  EXPECT_GT(incremental, 1000u);
  EXPECT_GT(responses, 3000u);
}

TEST(StateChangesTest, DeltaPerTypeServicesAnswerFromChangesExactlyAsFromTheWholeSnapshot) {
  uint64_t incremental = 0;
  size_t responses = 0;
  for (uint32_t seed = 1; seed <= 150; ++seed) {
    RandomRun<DeltaState>(seed, kTypes[seed % kTypes.size()], RandomDeltaRequest, &incremental, &responses);
    if (HasFailure()) return;
  }
  EXPECT_GT(incremental, 500u);
  EXPECT_GT(responses, 1000u);
}

// An Envoy's EDS stream on ADS names 100 clusters; one endpoint set changes.
class HundredEndpointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::tuple<ResourceType, std::string, std::string>> rs;
    for (int i = 0; i < 100; ++i) {
      names_.push_back("e" + std::to_string(100 + i));
      rs.emplace_back(ResourceType::kEndpoint, names_.back(), "v0");
    }
    rs.emplace_back(ResourceType::kEndpoint, "other", "v0");
    s1_ = Build(rs);
  }
  std::vector<std::string> names_;
  cache::SnapshotPtr s1_;
};

TEST_F(HundredEndpointsTest, SotwStreamThatKeptUpIsSentOnlyTheChangedOneLookingOnlyAtTheChange) {
  SotwState st(std::nullopt);
  RequestKind kind;
  ResourceType type;
  ASSERT_TRUE(st.OnRequest(SotwRequest(ResourceType::kEndpoint, names_), &kind, &type).ok());
  auto first = st.NextResponse(s1_);
  ASSERT_TRUE(first);
  EXPECT_EQ(Names(*first).size(), 100u);
  ASSERT_TRUE(st.OnRequest(SotwRequest(ResourceType::kEndpoint, names_, first->nonce), &kind, &type).ok());
  EXPECT_EQ(kind, RequestKind::kAck);
  EXPECT_FALSE(st.NextResponse(s1_));

  auto s2 = cache::Snapshot::Derive(*s1_, Set(ResourceType::kEndpoint, "e142", "v1"));
  const uint64_t before = st.incremental_evaluations();
  auto resp = st.NextResponse(s2);
  ASSERT_TRUE(resp);
  EXPECT_EQ(Names(*resp), std::vector<std::string>{"e142"});
  EXPECT_EQ(resp->version, s2->Get(ResourceType::kEndpoint).version);
  EXPECT_EQ(st.incremental_evaluations(), before + 1);
  EXPECT_FALSE(st.NextResponse(s2));

  // A change to a name it does not subscribe to: nothing to send.
  auto s3 = cache::Snapshot::Derive(*s2, Set(ResourceType::kEndpoint, "other", "v1"));
  EXPECT_FALSE(st.NextResponse(s3));
  EXPECT_EQ(st.incremental_evaluations(), before + 2);
}

TEST_F(HundredEndpointsTest, SotwStreamTwoSnapshotsBehindComparesEverythingAndGetsBothChanges) {
  SotwState st(std::nullopt);
  RequestKind kind;
  ResourceType type;
  ASSERT_TRUE(st.OnRequest(SotwRequest(ResourceType::kEndpoint, names_), &kind, &type).ok());
  ASSERT_TRUE(st.NextResponse(s1_));
  auto s2 = cache::Snapshot::Derive(*s1_, Set(ResourceType::kEndpoint, "e101", "v1"));
  auto s3 = cache::Snapshot::Derive(*s2, Set(ResourceType::kEndpoint, "e102", "v1"));
  // s3's changes start at s2's version; the stream holds s1's: it cannot use them.
  const uint64_t before = st.incremental_evaluations();
  auto resp = st.NextResponse(s3);
  ASSERT_TRUE(resp);
  EXPECT_EQ(Names(*resp), (std::vector<std::string>{"e101", "e102"}));
  EXPECT_EQ(st.incremental_evaluations(), before);
  EXPECT_FALSE(st.NextResponse(s3));
}

TEST_F(HundredEndpointsTest, SotwNameSubscribedWhileSomethingChangesIsSentWithTheChange) {
  SotwState st(std::nullopt);
  RequestKind kind;
  ResourceType type;
  std::vector<std::string> ten(names_.begin(), names_.begin() + 10);
  ASSERT_TRUE(st.OnRequest(SotwRequest(ResourceType::kEndpoint, ten), &kind, &type).ok());
  auto first = st.NextResponse(s1_);
  ASSERT_TRUE(first);
  ten.push_back("e150");  // unchanged, newly named: sent because the client may not hold it
  ASSERT_TRUE(st.OnRequest(SotwRequest(ResourceType::kEndpoint, ten, first->nonce), &kind, &type).ok());
  auto s2 = cache::Snapshot::Derive(*s1_, Set(ResourceType::kEndpoint, "e103", "v1"));
  const uint64_t before = st.incremental_evaluations();
  auto resp = st.NextResponse(s2);
  ASSERT_TRUE(resp);
  EXPECT_EQ(Names(*resp), (std::vector<std::string>{"e103", "e150"}));
  EXPECT_EQ(st.incremental_evaluations(), before + 1);
}

TEST_F(HundredEndpointsTest, DeltaStreamThatKeptUpIsSentOnlyTheChangedOneAndTheRemovedOne) {
  DeltaState st(ResourceType::kEndpoint);
  RequestKind kind;
  ResourceType type;
  ASSERT_TRUE(st.OnRequest(DeltaRequest(ResourceType::kEndpoint, names_), &kind, &type).ok());
  auto first = st.NextResponse(s1_);
  ASSERT_TRUE(first);
  EXPECT_EQ(DeltaNames(ParseDelta(*first)).size(), 100u);
  Updates u = Set(ResourceType::kEndpoint, "e142", "v1");
  u[static_cast<size_t>(ResourceType::kEndpoint)].erase.push_back("e199");
  auto s2 = cache::Snapshot::Derive(*s1_, std::move(u));
  const uint64_t before = st.incremental_evaluations();
  auto resp = st.NextResponse(s2);
  ASSERT_TRUE(resp);
  auto parsed = ParseDelta(*resp);
  EXPECT_EQ(DeltaNames(parsed), std::vector<std::string>{"e142"});
  EXPECT_EQ(Removed(parsed), std::vector<std::string>{"e199"});
  EXPECT_EQ(st.incremental_evaluations(), before + 1);
  EXPECT_FALSE(st.NextResponse(s2));
}

// ADS: a cluster and its endpoints go, the listener that used it changes. The client is told of
// the removal only after the new listener (make before break), and the derived snapshot's path
// tells it exactly what the full comparison does.
cache::SnapshotPtr AdsWorld() {
  return Build({{ResourceType::kCluster, "c0", "v0"},
                {ResourceType::kCluster, "c1", "v0"},
                {ResourceType::kEndpoint, "c0", "v0"},
                {ResourceType::kEndpoint, "c1", "v0"},
                {ResourceType::kListener, "l0", "v0"}});
}

Updates DropC1() {
  Updates u = Set(ResourceType::kListener, "l0", "v1");
  u[static_cast<size_t>(ResourceType::kCluster)].erase.push_back("c1");
  u[static_cast<size_t>(ResourceType::kEndpoint)].erase.push_back("c1");
  return u;
}

TEST(AdsRemovalTest, SotwRemovedClusterLeavesAfterTheNewListener) {
  Twin<SotwState> twin(std::nullopt);
  twin.Publish(AdsWorld());
  twin.Apply(SotwRequest(ResourceType::kCluster, {}));
  twin.Apply(SotwRequest(ResourceType::kEndpoint, {"c0", "c1"}));
  twin.Apply(SotwRequest(ResourceType::kListener, {}));
  twin.Drain();
  ASSERT_EQ(twin.responses, 3u);  // CDS, EDS, LDS

  twin.Publish(cache::Snapshot::Derive(*twin.derived_snapshot, DropC1()));
  auto lds = twin.derived.NextResponse(twin.derived_snapshot);
  ASSERT_TRUE(lds);
  EXPECT_EQ(lds->type, ResourceType::kListener);
  EXPECT_EQ(Names(*lds), std::vector<std::string>{"l0"});
  auto cds = twin.derived.NextResponse(twin.derived_snapshot);
  ASSERT_TRUE(cds);
  EXPECT_EQ(cds->type, ResourceType::kCluster);
  EXPECT_EQ(Names(*cds), std::vector<std::string>{"c0"});
  EXPECT_FALSE(twin.derived.NextResponse(twin.derived_snapshot));
  EXPECT_GE(twin.derived.incremental_evaluations(), 3u);

  // The twin fed from scratch says the same.
  auto lds2 = twin.scratch.NextResponse(twin.scratch_snapshot);
  auto cds2 = twin.scratch.NextResponse(twin.scratch_snapshot);
  ASSERT_TRUE(lds2 && cds2);
  EXPECT_EQ(lds->Serialize(), lds2->Serialize());
  EXPECT_EQ(cds->Serialize(), cds2->Serialize());
  EXPECT_FALSE(twin.scratch.NextResponse(twin.scratch_snapshot));
}

TEST(AdsRemovalTest, SotwChangedClusterIsFollowedByItsUnchangedEndpoints) {
  Twin<SotwState> twin(std::nullopt);
  twin.Publish(AdsWorld());
  twin.Apply(SotwRequest(ResourceType::kCluster, {}));
  twin.Apply(SotwRequest(ResourceType::kEndpoint, {"c0", "c1"}));
  twin.Drain();
  const uint64_t before = twin.derived.incremental_evaluations();
  twin.Publish(cache::Snapshot::Derive(*twin.derived_snapshot, Set(ResourceType::kCluster, "c1", "v1")));
  auto cds = twin.derived.NextResponse(twin.derived_snapshot);
  ASSERT_TRUE(cds);
  EXPECT_EQ(Names(*cds), (std::vector<std::string>{"c0", "c1"}));  // full state
  auto eds = twin.derived.NextResponse(twin.derived_snapshot);
  ASSERT_TRUE(eds);
  EXPECT_EQ(eds->type, ResourceType::kEndpoint);
  EXPECT_EQ(Names(*eds), std::vector<std::string>{"c1"});
  EXPECT_EQ(twin.derived.incremental_evaluations(), before + 2);  // both from the change lists
}

TEST(AdsRemovalTest, DeltaRemovedClusterAndEndpointsAreNamedAfterTheNewListener) {
  Twin<DeltaState> twin(std::nullopt);
  twin.Publish(AdsWorld());
  twin.Apply(DeltaRequest(ResourceType::kCluster, {"*"}));
  twin.Apply(DeltaRequest(ResourceType::kEndpoint, {"c0", "c1"}));
  twin.Apply(DeltaRequest(ResourceType::kListener, {"*"}));
  twin.Drain();
  ASSERT_EQ(twin.responses, 3u);

  twin.Publish(cache::Snapshot::Derive(*twin.derived_snapshot, DropC1()));
  const uint64_t before = twin.derived.incremental_evaluations();
  std::vector<std::pair<ResourceType, DeltaDiscoveryResponse>> seen;
  while (auto r = twin.derived.NextResponse(twin.derived_snapshot)) seen.emplace_back(r->type, ParseDelta(*r));
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].first, ResourceType::kListener);
  EXPECT_EQ(DeltaNames(seen[0].second), std::vector<std::string>{"l0"});
  EXPECT_EQ(seen[1].first, ResourceType::kCluster);
  EXPECT_EQ(Removed(seen[1].second), std::vector<std::string>{"c1"});
  EXPECT_EQ(seen[2].first, ResourceType::kEndpoint);
  EXPECT_EQ(Removed(seen[2].second), std::vector<std::string>{"c1"});
  EXPECT_EQ(twin.derived.incremental_evaluations(), before + 3);

  size_t n = 0;
  while (twin.scratch.NextResponse(twin.scratch_snapshot)) n++;
  EXPECT_EQ(n, 3u);
}

}  // namespace
}  // namespace tern::xds
