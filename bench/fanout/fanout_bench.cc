// tern-fanout-bench: the xds layer's per-publication work for N streams, without gRPC: N ADS
// protocol states (SotW or delta) shaped like the load generator's Envoys (wildcard CDS and LDS,
// EDS naming each of the gateway's 100 clusters, RDS naming its route configuration), synced,
// then one endpoint set changes per publication. Each publication is given either as a derived
// snapshot (Snapshot::Derive: the states answer from its change lists) or as the same contents
// built from scratch (the states compare everything they subscribe to), and every stream is
// brought up to date (all its responses computed, as the fan-out pool's workers do).
//
//   tern-fanout-bench [--benchmark_filter=...]     (Google Benchmark flags)
// Not part of `make bench`; see bench/performance_notes.md.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "cache/snapshot.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "xds/delta_state.h"
#include "xds/sotw_state.h"

namespace tern::bench {
namespace {

constexpr int kClusters = 100;

cache::ResourcePtr Res(ResourceType t, const std::string& name, int content) {
  // Bodies of a realistic size for an endpoint set / cluster (a few hundred bytes).
  return cache::MakeResource(t, name, name + "@" + std::to_string(content) + std::string(200, 'x'));
}

cache::SnapshotPtr World() {
  std::array<std::vector<cache::ResourcePtr>, kNumResourceTypes> res;
  for (int i = 0; i < kClusters; ++i) {
    const std::string name = "cluster-" + std::to_string(i);
    res[static_cast<size_t>(ResourceType::kCluster)].push_back(Res(ResourceType::kCluster, name, 0));
    res[static_cast<size_t>(ResourceType::kEndpoint)].push_back(Res(ResourceType::kEndpoint, name, 0));
  }
  res[static_cast<size_t>(ResourceType::kListener)].push_back(Res(ResourceType::kListener, "listener", 0));
  res[static_cast<size_t>(ResourceType::kRoute)].push_back(Res(ResourceType::kRoute, "route", 0));
  return std::make_shared<cache::Snapshot>("edge", std::move(res));
}

cache::SnapshotPtr Scratch(const cache::Snapshot& s) {
  std::array<std::vector<cache::ResourcePtr>, kNumResourceTypes> res;
  for (ResourceType t : kAdsOrder) {
    for (const auto& [name, r] : s.Get(t).resources) res[static_cast<size_t>(t)].push_back(r);
  }
  return std::make_shared<cache::Snapshot>(s.node_cluster(), std::move(res));
}

std::vector<std::string> ClusterNames() {
  std::vector<std::string> out;
  for (int i = 0; i < kClusters; ++i) out.push_back("cluster-" + std::to_string(i));
  return out;
}

void Subscribe(xds::SotwState& st) {
  auto req = [&](ResourceType t, const std::vector<std::string>& names) {
    envoy::service::discovery::v3::DiscoveryRequest r;
    r.set_type_url(std::string(TypeUrl(t)));
    for (const auto& n : names) r.add_resource_names(n);
    xds::RequestKind kind;
    ResourceType type;
    (void)st.OnRequest(r, &kind, &type);
  };
  req(ResourceType::kCluster, {});
  req(ResourceType::kEndpoint, ClusterNames());
  req(ResourceType::kListener, {});
  req(ResourceType::kRoute, {"route"});
}

void Subscribe(xds::DeltaState& st) {
  auto req = [&](ResourceType t, const std::vector<std::string>& names) {
    envoy::service::discovery::v3::DeltaDiscoveryRequest r;
    r.set_type_url(std::string(TypeUrl(t)));
    for (const auto& n : names) r.add_resource_names_subscribe(n);
    xds::RequestKind kind;
    ResourceType type;
    (void)st.OnRequest(r, &kind, &type);
  };
  req(ResourceType::kCluster, {"*"});
  req(ResourceType::kEndpoint, ClusterNames());
  req(ResourceType::kListener, {"*"});
  req(ResourceType::kRoute, {"route"});
}

// Arguments: streams, derived (1) or from scratch (0).
template <typename State>
void BM_Publish(benchmark::State& state) {
  const int streams = static_cast<int>(state.range(0));
  const bool derived = state.range(1) != 0;
  cache::SnapshotPtr snapshot = World();
  std::vector<std::unique_ptr<State>> states;
  for (int i = 0; i < streams; ++i) {
    states.push_back(std::make_unique<State>(std::nullopt));
    Subscribe(*states.back());
    while (states.back()->NextResponse(snapshot)) {
    }
  }
  int content = 0;
  size_t responses = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::array<cache::TypeUpdate, kNumResourceTypes> u;
    const std::string name = "cluster-" + std::to_string(content % kClusters);
    u[static_cast<size_t>(ResourceType::kEndpoint)].set.push_back(Res(ResourceType::kEndpoint, name, ++content));
    snapshot = cache::Snapshot::Derive(*snapshot, std::move(u));
    cache::SnapshotPtr published = derived ? snapshot : Scratch(*snapshot);
    state.ResumeTiming();
    for (auto& st : states) {
      while (auto resp = st->NextResponse(published)) {
        benchmark::DoNotOptimize(resp->header.data());
        responses++;
      }
    }
  }
  state.counters["responses_per_publication"] =
      benchmark::Counter(static_cast<double>(responses) / static_cast<double>(state.iterations()));
  state.counters["us_per_stream"] = benchmark::Counter(static_cast<double>(streams),
                                                       benchmark::Counter::kIsIterationInvariantRate |
                                                           benchmark::Counter::kInvert);
}

BENCHMARK_TEMPLATE(BM_Publish, xds::SotwState)
    ->ArgNames({"streams", "derived"})
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_Publish, xds::DeltaState)
    ->ArgNames({"streams", "derived"})
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tern::bench

BENCHMARK_MAIN();
