#pragma once
// The pure part of the Consul source: the last good answer of every endpoint, which discovery
// chain each service uses, and the world they map to (mapper.h), kept up to date in proportion to
// what changed. No I/O: ConsulSource decodes Consul's answers and hands them here; unit tests
// drive it directly (test/sources/consul_state_test.cc).
//
// Cost of a change. Build() re-maps the whole view (consul::BuildWorld) and compares it with the
// previous world only when something other than instances changed (catalog, chains, config
// entries, Connect CA) or when tag routing reads instances (Fabio gateways, canary tags: a tag or
// health change can change routes there). When only the health of some paths changed, it
// re-computes just the clusters that read those paths (EndpointSources, recorded at the last
// whole mapping) and reports exactly them: a health flip in a catalog of 10,000 services costs
// one cluster, not a mapping and a comparison of 10,000.
//
// The world is shared with the core as `shared_ptr<const World>`; it is updated in place when the
// core has let go of the previous one and copied first otherwise (the core keeps no fragment
// after applying it), so a fragment the core still reads never changes under it.
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "model/changes.h"
#include "model/model.h"
#include "sources/consul/mapper.h"

namespace tern::sources::consul {

class ConsulState {
 public:
  explicit ConsulState(TagRouting tags = {}) : tags_(std::move(tags)) {}

  // --- answers (decoded, good ones only) --------------------------------------------------------
  // The catalog. A service it no longer lists loses its chains.
  void SetCatalog(ServiceList services);
  // A service's newest discovery chain; it is used once every health path it needs has data
  // (Promote).
  void SetChain(const std::string& service, DiscoveryChain chain);
  void SetHealth(const std::string& path, std::vector<Instance> instances);
  void DropHealth(const std::string& path);  // no longer watched
  void SetIngress(std::vector<IngressGateway> gateways);
  void SetDefaults(std::vector<ServiceDefaults> defaults);
  void SetProxyDefaults(std::optional<ProxyDefaults> defaults);
  void SetLeaf(const std::string& gateway, ConnectLeaf leaf);
  void DropLeaf(const std::string& gateway);
  void SetRoots(std::optional<ConnectRoots> roots);
  // Chain-shaping entries (router, splitter, resolver) of `kind` that failed to decode: their
  // services keep the chain in use (a newer one waits until the entry is fixed).
  void SetBadEntries(const std::string& kind, std::set<std::string> names);

  // Promotes newest chains whose health paths all have data. Returns the health paths wanted
  // now: each service's own, and every target of its newest and used chains.
  std::set<std::string> Promote();

  // --- reading ----------------------------------------------------------------------------------
  const std::optional<ServiceList>& catalog() const { return catalog_; }
  bool has_chain(const std::string& service) const { return newest_.contains(service); }
  const std::vector<IngressGateway>& ingress() const { return view_.ingress; }
  const std::vector<Instance>* health(const std::string& path) const;
  const std::optional<ConnectLeaf> leaf(const std::string& gateway) const;
  const ConsulView& view() const { return view_; }
  // Ingress gateways with TLS enabled (they need a Connect leaf and the roots).
  std::set<std::string> TlsGateways() const;

  // --- publication ------------------------------------------------------------------------------
  struct Output {
    std::shared_ptr<const model::World> world;
    std::optional<model::WorldDelta> changes;  // since the previous Build (none the first time)
    std::vector<model::Problem> mapping;       // what could not be mapped, by element
    bool whole = false;                        // mapped from scratch this time (for tests, stats)
  };
  Output Build();

 private:
  bool ChainBlocked(const std::string& service) const;
  void MapWhole(Output& out);
  bool MapHealth(Output& out);
  model::World& Writable();
  void RecordSources();

  TagRouting tags_;
  std::optional<ServiceList> catalog_;
  ConsulView view_;  // chains in use, health by path, entries, Connect CA
  std::map<std::string, DiscoveryChain> newest_;
  std::map<std::string, std::set<std::string>> bad_entries_;  // kind → entry names

  // Since the last Build.
  bool dirty_all_ = true;
  std::set<std::string> dirty_health_;

  std::shared_ptr<model::World> world_;
  std::vector<model::Problem> mapping_;
  // From the last whole mapping: each chain cluster's endpoint sources, and which clusters read
  // each health path.
  std::map<std::string, std::vector<EndpointSource>> sources_;
  std::map<std::string, std::set<std::string>> readers_;
};

}  // namespace tern::sources::consul
