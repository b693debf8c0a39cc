#include "sources/consul/consul_state.h"

#include <atomic>
#include <utility>

namespace tern::sources::consul {
namespace {

// Consul's own service: never exposed, never watched.
bool Ignored(const std::string& service) { return service == "consul"; }

}  // namespace

void ConsulState::SetCatalog(ServiceList services) {
  for (auto it = newest_.begin(); it != newest_.end();) {
    if (services.contains(it->first)) {
      ++it;
      continue;
    }
    view_.chains.erase(it->first);
    it = newest_.erase(it);
  }
  view_.services = services;
  catalog_ = std::move(services);
  dirty_all_ = true;
}

void ConsulState::SetChain(const std::string& service, DiscoveryChain chain) {
  if (!catalog_ || !catalog_->contains(service)) return;
  newest_[service] = std::move(chain);
}

void ConsulState::SetHealth(const std::string& path, std::vector<Instance> instances) {
  auto it = view_.health.find(path);
  if (it != view_.health.end() && it->second == instances) return;
  view_.health[path] = std::move(instances);
  dirty_health_.insert(path);
}

void ConsulState::DropHealth(const std::string& path) {
  if (view_.health.erase(path) > 0) dirty_health_.insert(path);
}

void ConsulState::SetIngress(std::vector<IngressGateway> gateways) {
  if (view_.ingress == gateways) return;
  view_.ingress = std::move(gateways);
  dirty_all_ = true;
}

void ConsulState::SetDefaults(std::vector<ServiceDefaults> defaults) {
  std::map<std::string, ServiceDefaults> next;
  for (auto& d : defaults) next[d.name] = std::move(d);
  if (view_.defaults == next) return;
  view_.defaults = std::move(next);
  dirty_all_ = true;
}

void ConsulState::SetProxyDefaults(std::optional<ProxyDefaults> defaults) {
  if (view_.proxy_defaults == defaults) return;
  view_.proxy_defaults = std::move(defaults);
  dirty_all_ = true;
}

void ConsulState::SetLeaf(const std::string& gateway, ConnectLeaf leaf) {
  auto it = view_.leaves.find(gateway);
  if (it != view_.leaves.end() && it->second == leaf) return;
  view_.leaves[gateway] = std::move(leaf);
  dirty_all_ = true;
}

void ConsulState::DropLeaf(const std::string& gateway) {
  if (view_.leaves.erase(gateway) > 0) dirty_all_ = true;
}

void ConsulState::SetRoots(std::optional<ConnectRoots> roots) {
  if (view_.roots == roots) return;
  view_.roots = std::move(roots);
  dirty_all_ = true;
}

void ConsulState::SetBadEntries(const std::string& kind, std::set<std::string> names) {
  bad_entries_[kind] = std::move(names);
}

bool ConsulState::ChainBlocked(const std::string& service) const {
  for (const auto& kind : {"service-router", "service-splitter", "service-resolver"}) {
    auto it = bad_entries_.find(kind);
    if (it != bad_entries_.end() && it->second.contains(service)) return true;
  }
  return false;
}

std::set<std::string> ConsulState::Promote() {
  for (auto& [service, chain] : newest_) {
    auto used = view_.chains.find(service);
    if ((used != view_.chains.end() && used->second == chain) || ChainBlocked(service)) continue;
    bool ready = true;
    for (const auto& p : HealthPaths(chain)) {
      if (!view_.health.contains(p)) ready = false;
    }
    if (!ready) continue;
    view_.chains[service] = chain;
    dirty_all_ = true;
  }
  std::set<std::string> wanted;
  if (catalog_) {
    for (const auto& [service, tags] : *catalog_) {
      if (!Ignored(service)) wanted.insert(ServiceHealthPath(service));
    }
  }
  for (const auto* chains : {&newest_, &view_.chains}) {
    for (const auto& [service, chain] : *chains) {
      for (const auto& p : HealthPaths(chain)) wanted.insert(p);
    }
  }
  return wanted;
}

const std::vector<Instance>* ConsulState::health(const std::string& path) const {
  auto it = view_.health.find(path);
  return it == view_.health.end() ? nullptr : &it->second;
}

const std::optional<ConnectLeaf> ConsulState::leaf(const std::string& gateway) const {
  auto it = view_.leaves.find(gateway);
  if (it == view_.leaves.end()) return std::nullopt;
  return it->second;
}

std::set<std::string> ConsulState::TlsGateways() const {
  std::set<std::string> out;
  for (const auto& g : view_.ingress) {
    if (g.tls_enabled) out.insert(g.name);
  }
  return out;
}

model::World& ConsulState::Writable() {
  // The core drops a fragment once it has applied it; until then it may be reading it.
  if (world_.use_count() > 1) world_ = std::make_shared<model::World>(*world_);
  else std::atomic_thread_fence(std::memory_order_acquire);  // pairs with the core's release of it
  return *world_;
}

void ConsulState::RecordSources() {
  sources_.clear();
  readers_.clear();
  // As consul::BuildWorld does: a target named by several chains is the first chain's.
  for (const auto& [service, chain] : view_.chains) {
    for (const auto& [id, target] : chain.targets) {
      if (sources_.contains(id)) continue;
      auto& src = sources_[id] = EndpointSources(chain, id);
      for (const auto& s : src) readers_[s.health_path].insert(id);
    }
  }
}

void ConsulState::MapWhole(Output& out) {
  std::vector<model::Problem> problems;
  auto next = std::make_shared<model::World>(BuildWorld(view_, &problems, tags_));
  if (world_) out.changes = model::Diff(*world_, *next);
  world_ = std::move(next);
  mapping_ = std::move(problems);
  RecordSources();
  out.whole = true;
}

bool ConsulState::MapHealth(Output& out) {
  model::WorldDelta changes;
  std::set<std::string> ids;
  for (const auto& path : dirty_health_) {
    if (auto r = readers_.find(path); r != readers_.end()) ids.insert(r->second.begin(), r->second.end());
  }
  for (const auto& id : ids) {
    auto c = world_->clusters.find(id);
    auto src = sources_.find(id);
    if (c == world_->clusters.end() || src == sources_.end()) continue;
    std::vector<model::Endpoint> endpoints = EndpointsFrom(view_.health, src->second);
    if (endpoints == c->second.endpoints) continue;
    model::Cluster& mine = Writable().clusters[id];  // Writable may have copied the world
    mine.endpoints = std::move(endpoints);
    changes.clusters[id] = mine;
  }
  out.changes = std::move(changes);
  return true;
}

ConsulState::Output ConsulState::Build() {
  Output out;
  // Tag routing reads instances' tags and health into routes: a health change is not confined to
  // the clusters that read it there.
  const bool tags_read_instances = !tags_.fabio.gateways.empty() || !tags_.canary.tag.empty();
  if (!world_ || dirty_all_ || (!dirty_health_.empty() && tags_read_instances)) {
    MapWhole(out);
  } else {
    MapHealth(out);
  }
  dirty_all_ = false;
  dirty_health_.clear();
  out.world = world_;
  out.mapping = mapping_;
  return out;
}

}  // namespace tern::sources::consul
