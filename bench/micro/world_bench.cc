// Microbenchmarks of the core path for the synthetic world (bench/worldgen): decode the
// services.yaml, translate, build snapshots (serialize + hash + PGV validation), and the same
// again after one instance health flip. The argument is the number of services (10 instances
// each; one gateway per 1,000 services, each exposing its 1,000).
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <mutex>

#include "server/snapshot_builder.h"
#include "sources/file/yaml_decoder.h"
#include "translate/translator.h"
#include "worldgen/worldgen.h"

namespace tern::bench {
namespace {

WorldSpec Spec(int64_t services) {
  WorldSpec spec;
  spec.services = static_cast<uint32_t>(services);
  spec.instances = 10;
  spec.exposed = spec.services < 1000 ? spec.services : 1000;
  spec.gateways = spec.services / spec.exposed;
  spec.stride = spec.exposed;
  return spec;
}

// The base world and the world with one instance critical, decoded once per size.
struct Worlds {
  std::string yaml;
  model::World base, flipped;
  model::ChangeSet flip;  // what differs between them (one cluster)
};

const Worlds& GetWorlds(int64_t services) {
  static std::mutex mu;
  static std::map<int64_t, std::unique_ptr<Worlds>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& w = cache[services];
  if (!w) {
    w = std::make_unique<Worlds>();
    WorldSpec spec = Spec(services);
    w->yaml = ServicesYaml(spec);
    w->base = *sources::file::DecodeServicesYaml(w->yaml, "services.yaml", nullptr);
    w->flipped = *sources::file::DecodeServicesYaml(ServicesYaml(spec, FlipService(spec, 0)), "services.yaml", nullptr);
    w->flip = model::Diff(w->base, w->flipped).Touched();
  }
  return *w;
}

void BM_DecodeServicesYaml(benchmark::State& state) {
  const Worlds& w = GetWorlds(state.range(0));
  for (auto _ : state) {
    auto world = sources::file::DecodeServicesYaml(w.yaml, "services.yaml", nullptr);
    benchmark::DoNotOptimize(world);
  }
  state.counters["yaml_MB"] = w.yaml.size() / 1e6;
}

void BM_TranslateFull(benchmark::State& state) {
  const Worlds& w = GetWorlds(state.range(0));
  for (auto _ : state) {
    auto t = translate::Translate(w.base);
    benchmark::DoNotOptimize(t);
  }
}

// A warm incremental translator (what the reconciler uses) told which cluster changed: only
// that cluster's endpoints are translated again.
void BM_TranslateAfterOneInstanceChange(benchmark::State& state) {
  const Worlds& w = GetWorlds(state.range(0));
  translate::IncrementalTranslator translator;
  model::DependencyIndex index;
  index.Update(w.base, model::ChangeSet::Everything());
  translator.Update(w.base, model::ChangeSet::Everything(), index);
  bool flip = false;
  for (auto _ : state) {
    flip = !flip;
    const model::World& world = flip ? w.flipped : w.base;
    index.Update(world, w.flip);
    auto t = translator.Update(world, w.flip, index);
    benchmark::DoNotOptimize(t);
  }
}

// Translate + serialize + hash + PGV validation + consistency, from a cold builder.
void BM_SnapshotBuildFull(benchmark::State& state) {
  const Worlds& w = GetWorlds(state.range(0));
  for (auto _ : state) {
    server::SnapshotBuilder builder;
    std::vector<model::Problem> problems;
    auto built = builder.Build(w.base, &problems);
    if (!built) state.SkipWithError("build failed");
    benchmark::DoNotOptimize(built);
  }
}

// What the reconciler pays per one-instance change: a warm builder told which cluster changed
// (validation, translation, serialization, Envoy's rules, snapshot derivation of what holds it).
void BM_SnapshotRebuildAfterOneInstanceChange(benchmark::State& state) {
  const Worlds& w = GetWorlds(state.range(0));
  server::SnapshotBuilder builder;
  std::vector<model::Problem> problems;
  builder.Build(w.base, &problems);
  bool flip = false;
  for (auto _ : state) {
    flip = !flip;
    auto built = builder.Build(flip ? w.flipped : w.base, w.flip, &problems);
    if (!built) state.SkipWithError("build failed");
    benchmark::DoNotOptimize(built);
  }
}

// One host added to a gateway of N virtual hosts (one service each), then removed again: a warm
// builder told that the gateway changed. Second argument: 0 = inline route table, 1 = on demand
// (VHDS: the unchanged hosts keep their messages and resources).
void BM_SnapshotRebuildAfterOneHostAdded(benchmark::State& state) {
  const int hosts = static_cast<int>(state.range(0));
  model::World w;
  model::Gateway g;
  g.name = "edge";
  g.vhds = state.range(1) ? model::VhdsMode::kOnDemand : model::VhdsMode::kInline;
  model::Listener l;
  l.name = "http";
  l.port = 8080;
  for (int i = 0; i <= hosts; ++i) {
    const std::string name = "svc-" + std::to_string(i);
    model::Cluster c;
    c.name = c.service = name;
    w.clusters[name] = c;
    model::VirtualHost vh;
    vh.name = name;
    vh.domains = {name + ".example.com"};
    model::Route r;
    r.match.path = "/";
    r.action.clusters.push_back({.cluster = name, .weight = 1});
    vh.routes.push_back(r);
    l.virtual_hosts.push_back(vh);
  }
  model::VirtualHost added = l.virtual_hosts.back();
  l.virtual_hosts.pop_back();
  g.listeners.push_back(l);
  w.gateways["edge"] = g;
  model::World with = w;
  with.gateways["edge"].listeners[0].virtual_hosts.push_back(added);
  model::ChangeSet changed;
  changed.gateways.insert("edge");
  server::SnapshotBuilder builder;
  std::vector<model::Problem> problems;
  if (!builder.Build(w, &problems)) state.SkipWithError("build failed");
  bool add = false;
  for (auto _ : state) {
    add = !add;
    auto built = builder.Build(add ? with : w, changed, &problems);
    if (!built) state.SkipWithError("build failed");
    benchmark::DoNotOptimize(built);
  }
  state.counters["serialized"] = static_cast<double>(builder.last_stats().serialized);
}

// Consul payload decoding and mapping: bench/micro/consul_bench.cc.

BENCHMARK(BM_DecodeServicesYaml)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_TranslateFull)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_TranslateAfterOneInstanceChange)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(200);
BENCHMARK(BM_SnapshotBuildFull)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK(BM_SnapshotRebuildAfterOneInstanceChange)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(200);
BENCHMARK(BM_SnapshotRebuildAfterOneHostAdded)
    ->Args({5000, 0})
    ->Args({5000, 1})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(10);

}  // namespace
}  // namespace tern::bench

BENCHMARK_MAIN();
