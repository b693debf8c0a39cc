#include "model/changes.h"

namespace tern::model {

void ChangeSet::Merge(const ChangeSet& o) {
  everything = everything || o.everything;
  clusters.insert(o.clusters.begin(), o.clusters.end());
  gateways.insert(o.gateways.begin(), o.gateways.end());
  service_routes.insert(o.service_routes.begin(), o.service_routes.end());
  secrets.insert(o.secrets.begin(), o.secrets.end());
  defaults = defaults || o.defaults;
}

namespace {
template <typename M>
std::set<std::string> Keys(const M& m) {
  std::set<std::string> out;
  for (const auto& [k, _] : m) out.insert(out.end(), k);
  return out;
}

template <typename M>
void ComposeMap(M& into, M& later) {
  for (auto& [k, v] : later) into[k] = std::move(v);
}

// Entries of `after` that differ from `before`, and removals.
template <typename T>
void DiffMap(const std::map<std::string, T>& before, const std::map<std::string, T>& after,
             std::map<std::string, std::optional<T>>& out) {
  auto b = before.begin();
  auto a = after.begin();
  while (b != before.end() || a != after.end()) {
    if (a == after.end() || (b != before.end() && b->first < a->first)) {
      out.emplace(b->first, std::nullopt);
      ++b;
    } else if (b == before.end() || a->first < b->first) {
      out.emplace(a->first, a->second);
      ++a;
    } else {
      if (!(a->second == b->second)) out.emplace(a->first, a->second);
      ++a;
      ++b;
    }
  }
}

void AddRouteClusters(const std::vector<Route>& routes, std::set<std::string>& out) {
  for (const auto& r : routes) {
    for (const auto& wc : r.action.clusters) out.insert(wc.cluster);
  }
}

void AddTelemetryClusters(const std::optional<Tracing>& tracing, const std::optional<std::vector<AccessLog>>& logs,
                          std::set<std::string>& out) {
  if (tracing) out.insert(tracing->collector_cluster);
  if (!logs) return;
  for (const auto& l : *logs) {
    if (l.sink == AccessLog::Sink::kGrpc) out.insert(l.grpc_cluster);
  }
}
}  // namespace

ChangeSet WorldDelta::Touched() const {
  ChangeSet c;
  c.clusters = Keys(clusters);
  c.gateways = Keys(gateways);
  c.service_routes = Keys(service_routes);
  c.secrets = Keys(secrets);
  c.defaults = defaults.has_value();
  return c;
}

void WorldDelta::Compose(WorldDelta later) {
  ComposeMap(clusters, later.clusters);
  ComposeMap(gateways, later.gateways);
  ComposeMap(service_routes, later.service_routes);
  ComposeMap(secrets, later.secrets);
  if (later.defaults) defaults = std::move(later.defaults);
}

WorldDelta Diff(const World& before, const World& after) {
  WorldDelta d;
  DiffMap(before.clusters, after.clusters, d.clusters);
  DiffMap(before.gateways, after.gateways, d.gateways);
  DiffMap(before.service_routes, after.service_routes, d.service_routes);
  DiffMap(before.secrets, after.secrets, d.secrets);
  if (!(before.defaults == after.defaults)) d.defaults = after.defaults;
  return d;
}

std::set<std::string> ClustersReadBy(const Gateway& gw) {
  std::set<std::string> out;
  AddTelemetryClusters(gw.tracing, gw.access_logs, out);
  for (const auto& l : gw.listeners) {
    if (l.protocol == Protocol::kTcp) out.insert(l.tcp_cluster);
    for (const auto& vh : l.virtual_hosts) AddRouteClusters(vh.routes, out);
  }
  return out;
}

std::set<std::string> ClustersReadBy(const ServiceRoutes& sr) {
  std::set<std::string> out;
  AddRouteClusters(sr.routes, out);
  return out;
}

std::set<std::string> ClustersReadBy(const GatewayDefaults& d) {
  std::set<std::string> out;
  AddTelemetryClusters(d.tracing, d.access_logs, out);
  return out;
}

std::set<std::string> SecretsReadBy(const Gateway& gw) {
  std::set<std::string> out;
  for (const auto& l : gw.listeners) {
    if (!l.tls) continue;
    for (const auto& c : l.tls->certs) out.insert(c.secret);
    if (!l.tls->client_ca_secret.empty()) out.insert(l.tls->client_ca_secret);
  }
  return out;
}

std::set<std::string> SecretsReadBy(const Cluster& c) {
  std::set<std::string> out;
  if (!c.tls) return out;
  if (!c.tls->ca_secret.empty()) out.insert(c.tls->ca_secret);
  if (!c.tls->client_cert_secret.empty()) out.insert(c.tls->client_cert_secret);
  return out;
}

void DependencyIndex::Set(Edges& fwd, Reverse& rev, const std::string& reader, std::set<std::string> names) {
  if (auto it = fwd.find(reader); it != fwd.end()) {
    for (const auto& n : it->second) {
      auto r = rev.find(n);
      if (r == rev.end()) continue;
      r->second.erase(reader);
      if (r->second.empty()) rev.erase(r);
    }
    fwd.erase(it);
  }
  if (names.empty()) return;
  for (const auto& n : names) rev[n].insert(reader);
  fwd.emplace(reader, std::move(names));
}

std::set<std::string> DependencyIndex::Readers(const Reverse& rev, const std::set<std::string>& names) {
  std::set<std::string> out;
  for (const auto& n : names) {
    if (auto it = rev.find(n); it != rev.end()) out.insert(it->second.begin(), it->second.end());
  }
  return out;
}

void DependencyIndex::Clear() { *this = DependencyIndex(); }

void DependencyIndex::Update(const World& world, const ChangeSet& changes) {
  if (changes.everything) {
    Clear();
    for (const auto& [n, g] : world.gateways) {
      Set(gw_clusters_, clusters_to_gw_, n, ClustersReadBy(g));
      Set(gw_secrets_, secrets_to_gw_, n, SecretsReadBy(g));
    }
    for (const auto& [n, sr] : world.service_routes) Set(svc_clusters_, clusters_to_svc_, n, ClustersReadBy(sr));
    for (const auto& [n, c] : world.clusters) Set(cluster_secrets_, secrets_to_cluster_, n, SecretsReadBy(c));
    defaults_clusters_ = world.defaults ? ClustersReadBy(*world.defaults) : std::set<std::string>{};
    return;
  }
  for (const auto& n : changes.gateways) {
    auto it = world.gateways.find(n);
    Set(gw_clusters_, clusters_to_gw_, n, it == world.gateways.end() ? std::set<std::string>{} : ClustersReadBy(it->second));
    Set(gw_secrets_, secrets_to_gw_, n, it == world.gateways.end() ? std::set<std::string>{} : SecretsReadBy(it->second));
  }
  for (const auto& n : changes.service_routes) {
    auto it = world.service_routes.find(n);
    Set(svc_clusters_, clusters_to_svc_, n,
        it == world.service_routes.end() ? std::set<std::string>{} : ClustersReadBy(it->second));
  }
  for (const auto& n : changes.clusters) {
    auto it = world.clusters.find(n);
    Set(cluster_secrets_, secrets_to_cluster_, n,
        it == world.clusters.end() ? std::set<std::string>{} : SecretsReadBy(it->second));
  }
  if (changes.defaults) defaults_clusters_ = world.defaults ? ClustersReadBy(*world.defaults) : std::set<std::string>{};
}

std::set<std::string> DependencyIndex::GatewaysReadingClusters(const std::set<std::string>& clusters) const {
  return Readers(clusters_to_gw_, clusters);
}
std::set<std::string> DependencyIndex::ServicesReadingClusters(const std::set<std::string>& clusters) const {
  return Readers(clusters_to_svc_, clusters);
}
std::set<std::string> DependencyIndex::GatewaysReadingSecrets(const std::set<std::string>& secrets) const {
  return Readers(secrets_to_gw_, secrets);
}
std::set<std::string> DependencyIndex::ClustersReadingSecrets(const std::set<std::string>& secrets) const {
  return Readers(secrets_to_cluster_, secrets);
}
bool DependencyIndex::DefaultsRead(const std::set<std::string>& clusters) const {
  for (const auto& c : clusters) {
    if (defaults_clusters_.contains(c)) return true;
  }
  return false;
}

}  // namespace tern::model
