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

// Consul payload decoding and mapping: bench/micro/consul_bench.cc.

BENCHMARK(BM_DecodeServicesYaml)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_TranslateFull)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_TranslateAfterOneInstanceChange)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(200);
BENCHMARK(BM_SnapshotBuildFull)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK(BM_SnapshotRebuildAfterOneInstanceChange)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(200);

}  // namespace
}  // namespace tern::bench

BENCHMARK_MAIN();
