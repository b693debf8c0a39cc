// The Consul source's CPU path at scale: decode /v1/health/service/:name answers, map Consul's
// view to the model (BuildWorld, with Fabio tags and Nomad canaries on), translate the world to
// Envoy resources. The argument is the number of services; each has 10 instances, so 10,000
// services = 100,000 instances. The JSON payloads are generated here in Consul's documented
// shape (one array per service, Node + Service + Checks per instance).
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sources/consul/decoders.h"
#include "sources/consul/mapper.h"
#include "translate/translator.h"

namespace tern::bench {
namespace {

using sources::consul::ConsulView;
using sources::consul::DiscoveryChain;
using sources::consul::ServiceHealthPath;

constexpr int kInstances = 10;

std::string Name(int64_t i) { return "svc-" + std::to_string(i); }

// One service's health answer: instance 0 carries a Fabio tag, instance 9 of every tenth
// service is a Nomad canary, one in 20 instances is in warning, the rest passing.
std::string HealthJson(int64_t s) {
  std::string out = "[";
  for (int i = 0; i < kInstances; ++i) {
    const std::string id = Name(s) + "-" + std::to_string(i);
    const int ip = static_cast<int>(s * kInstances + i);
    std::string tags = "\"v1\",\"zone-a\"";
    if (i == 0) tags += ",\"urlprefix-/" + Name(s) + " strip=/" + Name(s) + "\"";
    if (i == 9 && s % 10 == 0) tags += ",\"canary\"";
    const char* status = (ip % 20 == 7) ? "warning" : "passing";
    if (i) out += ",";
    out += R"({"Node":{"ID":"0c3b3bb2-7b2a-4f2e-9d0e-)" + std::to_string(100000000000 + ip) +
           R"(","Node":"node-)" + std::to_string(ip / 4) + R"(","Address":"10.)" + std::to_string((ip >> 16) & 255) +
           "." + std::to_string((ip >> 8) & 255) + "." + std::to_string(ip & 255) +
           R"(","Datacenter":"dc1","TaggedAddresses":{"lan":"10.0.0.1","wan":"10.0.0.1"},"Meta":{"consul-network-segment":""}},)"
           R"("Service":{"ID":")" + id + R"(","Service":")" + Name(s) + R"(","Tags":[)" + tags +
           R"(],"Address":"","Meta":{"version":"1","team":"payments"},"Port":)" + std::to_string(20000 + i) +
           R"(,"Weights":{"Passing":10,"Warning":1},"EnableTagOverride":false,"Namespace":"default"},)"
           R"("Checks":[{"Node":"n","CheckID":"serfHealth","Name":"Serf Health Status","Status":"passing","Output":"Agent alive and reachable","ServiceID":"","ServiceName":""},)"
           R"({"Node":"n","CheckID":"service:)" + id + R"(","Name":"Service check","Status":")" + status +
           R"(","Output":"HTTP GET http://127.0.0.1/health: 200 OK","ServiceID":")" + id + R"(","ServiceName":")" +
           Name(s) + R"("}]})";
  }
  return out + "]";
}

// Consul's default chain (a single resolver), as /v1/discovery-chain returns it for a service
// without router, splitter or resolver entries.
DiscoveryChain DefaultChain(const std::string& service) {
  DiscoveryChain c;
  c.service = service;
  c.datacenter = "dc1";
  c.protocol = "http";
  const std::string target = service + ".default.dc1";
  c.start_node = "resolver:" + target;
  c.nodes[c.start_node] = {.type = "resolver", .name = target, .target = target};
  c.targets[target] = {.id = target, .service = service, .datacenter = "dc1"};
  return c;
}

struct Payloads {
  std::vector<std::pair<std::string, std::string>> health;  // path → JSON
  size_t bytes = 0;
  ConsulView view;  // decoded, for the mapping and translation steps
  model::World world;
};

sources::consul::TagRouting Tags() {
  return {.fabio = {.gateways = {"fabio"}, .port = 9999}, .canary = {.tag = "canary", .weight = 10}};
}

const Payloads& Get(int64_t services) {
  static std::mutex mu;
  static std::map<int64_t, std::unique_ptr<Payloads>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& p = cache[services];
  if (!p) {
    p = std::make_unique<Payloads>();
    for (int64_t s = 0; s < services; ++s) {
      const std::string path = ServiceHealthPath(Name(s));
      p->health.emplace_back(path, HealthJson(s));
      p->bytes += p->health.back().second.size();
      p->view.services[Name(s)] = {};
      p->view.chains[Name(s)] = DefaultChain(Name(s));
      p->view.health[path] = *sources::consul::DecodeHealthService(p->health.back().second, path);
    }
    std::vector<model::Problem> problems;
    p->world = sources::consul::BuildWorld(p->view, &problems, Tags());
  }
  return *p;
}

void BM_ConsulDecodeHealth(benchmark::State& state) {
  const Payloads& p = Get(state.range(0));
  for (auto _ : state) {
    size_t instances = 0;
    for (const auto& [path, json] : p.health) {
      auto decoded = sources::consul::DecodeHealthService(json, path);
      if (!decoded.ok()) state.SkipWithError("decode failed");
      instances += decoded->size();
    }
    benchmark::DoNotOptimize(instances);
  }
  state.counters["payload_MB"] = p.bytes / 1e6;
  state.counters["instances"] = static_cast<double>(state.range(0) * kInstances);
}

void BM_ConsulMapToModel(benchmark::State& state) {
  const Payloads& p = Get(state.range(0));
  for (auto _ : state) {
    std::vector<model::Problem> problems;
    auto world = sources::consul::BuildWorld(p.view, &problems, Tags());
    benchmark::DoNotOptimize(world);
  }
  state.counters["clusters"] = static_cast<double>(p.world.clusters.size());
}

void BM_ConsulTranslate(benchmark::State& state) {
  const Payloads& p = Get(state.range(0));
  for (auto _ : state) {
    auto t = translate::Translate(p.world);
    benchmark::DoNotOptimize(t);
  }
}

// What one full resync costs: every health answer decoded, the view mapped, the world translated.
void BM_ConsulDecodeMapTranslate(benchmark::State& state) {
  const Payloads& p = Get(state.range(0));
  for (auto _ : state) {
    ConsulView view;
    view.services = p.view.services;
    view.chains = p.view.chains;
    for (const auto& [path, json] : p.health) view.health[path] = *sources::consul::DecodeHealthService(json, path);
    std::vector<model::Problem> problems;
    auto world = sources::consul::BuildWorld(view, &problems, Tags());
    auto t = translate::Translate(world);
    benchmark::DoNotOptimize(t);
  }
}

BENCHMARK(BM_ConsulDecodeHealth)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_ConsulMapToModel)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_ConsulTranslate)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_ConsulDecodeMapTranslate)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(2);

}  // namespace
}  // namespace tern::bench
