#include "sources/consul/consul_source.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

namespace tern::sources {
namespace {

constexpr char kCatalogPath[] = "/v1/catalog/services";
constexpr char kStatePath[] = "/v1/health/state/any";
constexpr size_t kFixedWatches = 7;  // the catalog and the six config-entry kinds

// The service whose health `path` reads: "/v1/health/service/<escaped name>[?...]" (as
// consul::ServiceHealthPath escapes it).
std::string ServiceOfHealthPath(const std::string& path) {
  static const std::string prefix = "/v1/health/service/";
  if (path.compare(0, prefix.size(), prefix) != 0) return "";
  const size_t q = path.find('?');
  const std::string esc = path.substr(prefix.size(), q == std::string::npos ? std::string::npos : q - prefix.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < esc.size(); ++i) {
    if (esc[i] == '%' && i + 2 < esc.size() && hex(esc[i + 1]) >= 0 && hex(esc[i + 2]) >= 0) {
      out += static_cast<char>(hex(esc[i + 1]) * 16 + hex(esc[i + 2]));
      i += 2;
    } else {
      out += esc[i];
    }
  }
  return out;
}

std::string ConfigPath(const std::string& kind) { return "/v1/config/" + kind; }
std::string ChainPath(const std::string& service) { return "/v1/discovery-chain/" + consul::UrlEscape(service); }

// Consul's own service: never exposed, never watched.
bool Ignored(const std::string& service) { return service == "consul"; }

WatchingSource::Settings SettingsOf(const ConsulSource::Options& o) {
  WatchingSource::Settings s;
  s.kind = "consul";
  s.remote = "Consul";
  s.token_file = o.token_file;
  s.token_env = o.token_env;
  s.client.address = o.address;
  s.client.datacenter = o.datacenter;
  s.client.consistency = o.consistency;
  s.client.ca_file = o.ca_file;
  s.client.cert_file = o.cert_file;
  s.client.key_file = o.key_file;
  s.client.server_name = o.server_name;
  s.client.wait = o.wait;
  s.client.backoff_min = o.backoff_min;
  s.client.backoff_max = o.backoff_max;
  s.index_metric = "catalog_index";
  s.index_help = "X-Consul-Index of the last catalog answer.";
  s.reports_leader = true;
  s.registry = o.registry;
  return s;
}

}  // namespace

const std::vector<std::string>& ConsulSource::ConfigKinds() {
  static const std::vector<std::string> kinds = {"ingress-gateway", "service-defaults", "service-router",
                                                 "service-splitter", "service-resolver", "proxy-defaults"};
  return kinds;
}

ConsulSource::ConsulSource(std::string name, Options options)
    : WatchingSource(std::move(name), SettingsOf(options)), options_(std::move(options)),
      state_(options_.tag_routing) {}

ConsulSource::~ConsulSource() { Stop(); }

uint64_t ConsulSource::whole_mappings() const {
  absl::MutexLock lock(&mu_);
  return whole_mappings_;
}

// --- one full synchronous read ---------------------------------------------------------------

absl::StatusOr<FragmentPtr> ConsulSource::SyncOnce(std::vector<model::Problem>* problems) {
  if (TokenProblem(problems)) return absl::FailedPreconditionError(problems->back().message);
  const size_t before = problems->size();
  std::vector<std::pair<std::string, http::BlockingClient::AnswerSeed>> reads;  // to seed the watches with
  auto get = [&](const std::string& path) -> std::optional<std::string> {
    http::Response r = client().Get(path);
    if (!r.ok) {
      problems->push_back({Origin(path), r.error});
      return std::nullopt;
    }
    reads.emplace_back(path, http::BlockingClient::SeedOf(r));
    return std::move(r.body);
  };
  consul::ConsulView view;
  std::vector<model::Problem> entry_problems;
  std::map<std::string, std::set<std::string>> bad;
  std::optional<consul::CheckFingerprints> fingerprints;
  if (auto body = get(kCatalogPath)) {
    auto s = consul::DecodeCatalogServices(*body, kCatalogPath);
    if (s.ok()) view.services = *s;
    else problems->push_back({Origin(kCatalogPath), std::string(s.status().message())});
  }
  // Aggregate mode: the checks as of now, before the services are read, so that a change from
  // here on shows as a changed fingerprint.
  if (WantAggregate(view.services.size())) {
    if (auto body = get(kStatePath)) {
      auto f = consul::DecodeHealthState(*body, kStatePath);
      if (f.ok()) fingerprints = *f;
      else problems->push_back({Origin(kStatePath), std::string(f.status().message())});
    }
  }
  for (const auto& kind : ConfigKinds()) {
    auto body = get(ConfigPath(kind));
    if (!body) continue;
    std::vector<model::Problem> p;
    absl::Status st;
    if (kind == "ingress-gateway") {
      auto v = consul::DecodeIngressGateways(*body, ConfigPath(kind), &p);
      if (v.ok()) view.ingress = *v;
      st = v.status();
    } else if (kind == "service-defaults") {
      auto v = consul::DecodeServiceDefaults(*body, ConfigPath(kind), &p);
      if (v.ok()) for (auto& d : *v) view.defaults[d.name] = d;
      st = v.status();
    } else if (kind == "proxy-defaults") {
      auto v = consul::DecodeProxyDefaults(*body, ConfigPath(kind), &p);
      if (v.ok()) view.proxy_defaults = *v;
      st = v.status();
    } else {
      auto v = consul::DecodeChainEntries(kind, *body, ConfigPath(kind), &p);
      st = v.status();
    }
    if (!st.ok()) problems->push_back({Origin(ConfigPath(kind)), std::string(st.message())});
    for (auto& pr : p) entry_problems.push_back(pr);
  }
  if (problems->size() > before) return absl::UnavailableError("Consul could not be read");
  for (const auto& gw : view.ingress) {
    if (!gw.tls_enabled) continue;
    const std::string path = consul::ConnectLeafPath(gw.name);
    if (auto body = get(path)) {
      auto leaf = consul::DecodeConnectLeaf(*body, path);
      if (leaf.ok()) view.leaves[gw.name] = *leaf;
      else problems->push_back({Origin(path), std::string(leaf.status().message())});
    }
    if (!view.roots) {
      if (auto body = get(consul::kConnectRootsPath)) {
        auto roots = consul::DecodeConnectRoots(*body, consul::kConnectRootsPath);
        if (roots.ok()) view.roots = *roots;
        else problems->push_back({Origin(consul::kConnectRootsPath), std::string(roots.status().message())});
      }
    }
  }
  if (problems->size() > before) return absl::UnavailableError("Consul could not be read");
  std::set<std::string> health_paths;
  for (const auto& [service, tags] : view.services) {
    if (Ignored(service)) continue;
    health_paths.insert(consul::ServiceHealthPath(service));
    auto body = get(ChainPath(service));
    if (!body) continue;
    auto chain = consul::DecodeDiscoveryChain(*body, ChainPath(service));
    if (!chain.ok()) {
      problems->push_back({Origin(ChainPath(service)), std::string(chain.status().message())});
      continue;
    }
    for (const auto& p : consul::HealthPaths(*chain)) health_paths.insert(p);
    view.chains[service] = *chain;
  }
  for (const auto& path : health_paths) {
    auto body = get(path);
    if (!body) continue;
    auto inst = consul::DecodeHealthService(*body, path);
    if (!inst.ok()) {
      problems->push_back({Origin(path), std::string(inst.status().message())});
      continue;
    }
    view.health[path] = *inst;
  }
  if (problems->size() > before) return absl::UnavailableError("Consul could not be read");
  consul::ConsulState state(options_.tag_routing);
  state.SetCatalog(view.services);
  state.SetIngress(view.ingress);
  {
    std::vector<consul::ServiceDefaults> defaults;
    for (auto& [n, d] : view.defaults) defaults.push_back(d);
    state.SetDefaults(std::move(defaults));
  }
  state.SetProxyDefaults(view.proxy_defaults);
  for (auto& [service, chain] : view.chains) state.SetChain(service, chain);
  for (auto& [path, inst] : view.health) state.SetHealth(path, inst);
  for (auto& [gw, leaf] : view.leaves) state.SetLeaf(gw, leaf);
  state.SetRoots(view.roots);
  state.Promote();
  consul::ConsulState::Output out = state.Build();
  FragmentPtr fragment = out.world;
  for (auto& p : entry_problems) spdlog::warn("source {}: {}", name(), p.ToString());
  for (auto& p : out.mapping) spdlog::warn("source {}: {}", name(), p.ToString());

  absl::MutexLock lock(&mu_);
  if (!Watching()) {
    // Seed the watchers with what was read so that their first answers change nothing.
    state_ = std::move(state);
    ingress_ = view.ingress;
    defaults_.clear();
    for (auto& [n, d] : view.defaults) defaults_.push_back(d);
    for (const auto& kind : ConfigKinds()) config_known_.insert(kind);
    const auto now = std::chrono::system_clock::now();
    for (auto& [gw, leaf] : view.leaves) {
      LeafWatch& st = leaves_[gw];
      st.answered = true;
      st.refresh_at = consul::LeafRefreshAt(leaf, now);
    }
    if (view.roots) roots_answered_ = true;
    fingerprints_ = fingerprints;
    // ... and so that they start blocking where this read stopped instead of reading it all again.
    for (const auto& [path, seed] : reads) {
      if (path == kCatalogPath) catalog_index_ = seed.index;  // tern_consul_catalog_index from the first read on
      client().Seed(path, seed);
    }
  }
  SyncDone(fragment, out.mapping);
  return fragment;
}

// --- watching ---------------------------------------------------------------------------------

void ConsulSource::StartWatches() {
  catalog_watch_ = client().WatchEveryIndex(kCatalogPath, [this](const http::Response& r) { OnCatalog(r); });
  for (const auto& kind : ConfigKinds()) {
    config_watches_[kind] = client().Watch(ConfigPath(kind), [this, kind](const http::Response& r) { OnConfig(kind, r); });
  }
  // Services seeded by SyncOnce get their watches now.
  if (state_.catalog()) SetServices(*state_.catalog());
  ReconcileCa();
}

void ConsulSource::OnCatalog(const http::Response& r) {
  absl::MutexLock lock(&mu_);
  if (!r.ok) return Failed(kCatalogPath, r.error);
  auto services = consul::DecodeCatalogServices(r.body, kCatalogPath);
  if (!services.ok()) return Failed(kCatalogPath, std::string(services.status().message()));
  catalog_index_ = r.index;
  if (state_.catalog() && *state_.catalog() == *services && !gate_.failing.count(kCatalogPath)) {
    // The same services and tags at a new index: a registration changed (an instance's address,
    // port, meta or weights). Per-service watches see it themselves; in aggregate mode only a
    // changed check would say which service, so every service is read again (rate-limited).
    if (aggregate_) {
      sweep_pending_ = true;
      MaybeSweep();
    }
    return;
  }
  state_.SetCatalog(*services);
  SetServices(*services);
  Succeeded(kCatalogPath, "consul catalog index " + std::to_string(r.index));
}

bool ConsulSource::aggregate() const {
  absl::MutexLock lock(&mu_);
  return aggregate_;
}

bool ConsulSource::WantAggregate(size_t services) const {
  switch (options_.watch_mode) {
    case WatchMode::kPerService: return false;
    case WatchMode::kAggregate: return true;
    case WatchMode::kAuto: break;
  }
  // Per service: its health and its discovery chain (chain targets may add more).
  return kFixedWatches + 2 * services > options_.connection_budget;
}

http::WatchId ConsulSource::WatchPerService(const std::string& path, http::WatchCallback cb, bool has_data,
                                            bool* on_demand) {
  // Health in another datacenter, namespace or partition changes without a trace in the checks
  // /v1/health/state/any lists (this datacenter, the token's namespace): it keeps its blocking watch.
  *on_demand = aggregate_ && path.find("dc=") == std::string::npos && path.find("ns=") == std::string::npos &&
               path.find("partition=") == std::string::npos;
  if (!*on_demand) return client().Watch(path, std::move(cb));
  http::WatchId id = client().WatchOnDemand(path, std::move(cb));
  if (!has_data) client().Trigger(id);
  return id;
}

void ConsulSource::EnableAggregate() {
  if (aggregate_) return;
  aggregate_ = true;
  spdlog::info("source {}: {} services: watching Consul in aggregate mode (one blocking query on {}; at most {} "
               "connections)", name(), chain_watches_.size(), kStatePath, options_.connection_budget);
  client().SetMaxConnections(static_cast<long>(options_.connection_budget));
  state_watch_ = client().Watch(kStatePath, [this](const http::Response& r) { OnState(r); });
  // The per-service watches already running become on-demand reads (they hold current data).
  for (auto& [service, watch] : chain_watches_) {
    if (!watch) continue;
    client().Unwatch(watch);
    bool on_demand = false;
    std::string svc = service;
    watch = WatchPerService(ChainPath(service), [this, svc](const http::Response& r) { OnChain(svc, r); },
                            state_.has_chain(service), &on_demand);
  }
  for (auto& [path, h] : health_) {
    if (!h.watch) continue;
    client().Unwatch(h.watch);
    std::string p = path;
    h.watch = WatchPerService(path, [this, p](const http::Response& r) { OnHealth(p, r); },
                              state_.health(path) != nullptr, &h.on_demand);
  }
}

void ConsulSource::OnState(const http::Response& r) {
  absl::MutexLock lock(&mu_);
  if (!r.ok) return Failed(kStatePath, r.error);
  auto f = consul::DecodeHealthState(r.body, kStatePath);
  if (!f.ok()) {
    client().RejectAnswer(state_watch_);
    return Failed(kStatePath, std::string(f.status().message()));
  }
  if (fingerprints_) {
    std::set<std::string> services, nodes;
    auto diff = [](const std::map<std::string, uint64_t>& a, const std::map<std::string, uint64_t>& b,
                   std::set<std::string>& out) {
      for (const auto& [k, v] : a) {
        auto it = b.find(k);
        if (it == b.end() || it->second != v) out.insert(k);
      }
      for (const auto& [k, v] : b) {
        if (!a.contains(k)) out.insert(k);
      }
    };
    diff(fingerprints_->services, f->services, services);
    diff(fingerprints_->nodes, f->nodes, nodes);
    ReadHealthOf(services, nodes);
  }
  fingerprints_ = std::move(*f);
  if (gate_.failing.count(kStatePath)) Succeeded(kStatePath, "consul health state index " + std::to_string(r.index));
  MaybeSweep();
}

void ConsulSource::ReadHealthOf(const std::set<std::string>& services, const std::set<std::string>& nodes) {
  for (const auto& [path, h] : health_) {
    if (!h.on_demand) continue;
    bool read = services.contains(h.service);
    const std::vector<consul::Instance>* data = state_.health(path);
    if (!read && !nodes.empty() && data) {
      for (const auto& inst : *data) {
        if (nodes.contains(inst.node)) {
          read = true;
          break;
        }
      }
    }
    if (read) client().Trigger(h.watch);
  }
}

void ConsulSource::MaybeSweep() {
  if (!sweep_pending_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_sweep_ < options_.sweep_interval) return;
  sweep_pending_ = false;
  last_sweep_ = now;
  for (const auto& [path, h] : health_) {
    if (h.on_demand) client().Trigger(h.watch, /*urgent=*/false);  // behind any changed service's read
  }
}

void ConsulSource::SetServices(const consul::ServiceList& services) {
  for (auto it = chain_watches_.begin(); it != chain_watches_.end();) {
    if (services.count(it->first)) {
      ++it;
      continue;
    }
    // A successful read says the service is gone: this is a real removal.
    if (it->second) client().Unwatch(it->second);
    spdlog::info("source {}: service {} left the catalog", name(), it->first);
    it = chain_watches_.erase(it);
  }
  if (Watching() && WantAggregate(services.size())) EnableAggregate();
  for (const auto& [service, tags] : services) {
    if (Ignored(service)) continue;
    http::WatchId& watch = chain_watches_[service];
    if (Watching() && watch == 0) {
      std::string svc = service;
      bool on_demand = false;
      watch = WatchPerService(ChainPath(service), [this, svc](const http::Response& r) { OnChain(svc, r); },
                              state_.has_chain(service), &on_demand);
    }
  }
  Reconcile();
  WarnAboutConnections();
}

void ConsulSource::WarnAboutConnections() {
  // Every blocking query holds one HTTP/1.1 connection (Consul serves no HTTP/2 without TLS), and
  // Consul closes a client's connections beyond limits.http_max_conns_per_client (default 200):
  // the extra watches then fail with "Server returned nothing". Said once per doubling.
  if (aggregate_) return;
  const size_t watches = client().watch_count();
  if (watches < kConnectionWarning || watches < 2 * connections_warned_at_) return;
  connections_warned_at_ = watches;
  spdlog::warn(
      "source {}: {} blocking queries to Consul, one connection each; Consul's "
      "limits.http_max_conns_per_client (default 200) must be above that (docs/consul.md, \"Connections\")",
      name(), watches);
}

void ConsulSource::OnChain(const std::string& service, const http::Response& r) {
  absl::MutexLock lock(&mu_);
  const std::string path = ChainPath(service);
  if (!chain_watches_.contains(service)) return;
  if (!r.ok) return Failed(path, r.error);
  auto chain = consul::DecodeDiscoveryChain(r.body, path);
  if (!chain.ok()) return Failed(path, std::string(chain.status().message()));
  state_.SetChain(service, std::move(*chain));
  Reconcile();
  Succeeded(path, "consul discovery-chain " + service + " index " + std::to_string(r.index));
}

void ConsulSource::OnHealth(const std::string& path, const http::Response& r) {
  absl::MutexLock lock(&mu_);
  if (!health_.contains(path)) return;
  if (!r.ok) return Failed(path, r.error);
  auto inst = consul::DecodeHealthService(r.body, path);
  if (!inst.ok()) return Failed(path, std::string(inst.status().message()));
  state_.SetHealth(path, std::move(*inst));
  Reconcile();
  std::string what = path.substr(std::string("/v1/health/service/").size());
  Succeeded(path, "consul health " + what + " index " + std::to_string(r.index));
}

namespace {
// A decoded list of entries, with the previous version of each entry that failed to decode (the
// decoder names it in Problem::element).
template <typename Entry>
std::vector<Entry> KeepingBad(std::vector<Entry> next, const std::vector<Entry>& previous,
                              const std::vector<model::Problem>& problems) {
  for (const auto& p : problems) {
    if (p.element.empty()) continue;
    for (const auto& old : previous) {
      if (old.name == p.element) next.push_back(old);
    }
  }
  return next;
}
}  // namespace

void ConsulSource::OnConfig(const std::string& kind, const http::Response& r) {
  absl::MutexLock lock(&mu_);
  const std::string path = ConfigPath(kind);
  if (!r.ok) return Failed(path, r.error);
  std::vector<model::Problem> problems;
  absl::Status st;
  if (kind == "ingress-gateway") {
    auto v = consul::DecodeIngressGateways(r.body, path, &problems);
    st = v.status();
    if (v.ok()) {
      ingress_ = KeepingBad(std::move(*v), ingress_, problems);  // a bad entry keeps its previous version
      state_.SetIngress(ingress_);
    }
  } else if (kind == "service-defaults") {
    auto v = consul::DecodeServiceDefaults(r.body, path, &problems);
    st = v.status();
    if (v.ok()) {
      defaults_ = KeepingBad(std::move(*v), defaults_, problems);
      state_.SetDefaults(defaults_);
    }
  } else if (kind == "proxy-defaults") {
    auto v = consul::DecodeProxyDefaults(r.body, path, &problems);
    st = v.status();
    // A bad global entry keeps the last good one; a removed one is gone.
    if (v.ok() && problems.empty()) state_.SetProxyDefaults(*v);
  } else {
    auto v = consul::DecodeChainEntries(kind, r.body, path, &problems);
    st = v.status();
  }
  if (!st.ok()) return Failed(path, std::string(st.message()));
  std::set<std::string> bad;
  for (const auto& p : problems) {
    if (!p.element.empty()) bad.insert(p.element);
    Failed(p.origin, p.message);
  }
  // Entries that are fine again clear their error.
  for (const auto& name : bad_entries_[kind]) {
    if (!bad.count(name)) gate_.failing.erase(kind + "/" + name);
  }
  bad_entries_[kind] = bad;
  state_.SetBadEntries(kind, std::move(bad));
  config_known_.insert(kind);
  Reconcile();
  if (kind == "ingress-gateway") ReconcileCa();
  Succeeded(path, "consul config " + kind + " index " + std::to_string(r.index));
}

// --- Connect CA -------------------------------------------------------------------------------

void ConsulSource::ReconcileCa() {
  const std::set<std::string> wanted = state_.TlsGateways();
  for (auto it = leaves_.begin(); it != leaves_.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second.watch) client().Unwatch(it->second.watch);
    gate_.failing.erase(consul::ConnectLeafPath(it->first));
    state_.DropLeaf(it->first);
    it = leaves_.erase(it);
  }
  if (wanted.empty() && roots_watch_) {
    client().Unwatch(roots_watch_);
    roots_watch_ = 0;
    gate_.failing.erase(consul::kConnectRootsPath);
  }
  if (wanted.empty()) {
    state_.SetRoots(std::nullopt);
    roots_answered_ = false;
  }
  if (!Watching()) return;
  for (const auto& gw : wanted) {
    LeafWatch& st = leaves_[gw];
    if (st.watch) continue;
    st.watch = client().Watch(consul::ConnectLeafPath(gw), [this, gw](const http::Response& r) { OnLeaf(gw, r); });
  }
  if (!wanted.empty() && !roots_watch_) {
    roots_watch_ = client().Watch(consul::kConnectRootsPath, [this](const http::Response& r) { OnRoots(r); });
  }
}

bool ConsulSource::CaComplete() const {
  const std::set<std::string> wanted = state_.TlsGateways();
  if (wanted.empty()) return true;
  if (!roots_answered_) return false;
  for (const auto& gw : wanted) {
    auto it = leaves_.find(gw);
    if (it == leaves_.end() || !it->second.answered) return false;
  }
  return true;
}

void ConsulSource::OnLeaf(const std::string& gateway, const http::Response& r) {
  absl::MutexLock lock(&mu_);
  auto it = leaves_.find(gateway);
  if (it == leaves_.end()) return;
  const std::string path = consul::ConnectLeafPath(gateway);
  const bool first = !it->second.answered;
  it->second.answered = true;
  if (first) gate_.dirty = true;  // the gateway no longer waits for it
  if (!r.ok) return Failed(path, r.error);
  auto leaf = consul::DecodeConnectLeaf(r.body, path);
  if (!leaf.ok()) {
    client().RejectAnswer(it->second.watch);
    return Failed(path, std::string(leaf.status().message()));
  }
  it->second.refresh_at = consul::LeafRefreshAt(*leaf, std::chrono::system_clock::now());
  if (state_.leaf(gateway) != *leaf) {
    spdlog::info("source {}: Connect leaf for {} (serial {}) valid until {}", name(), gateway, leaf->serial,
                 std::chrono::duration_cast<std::chrono::seconds>(leaf->valid_before.time_since_epoch()).count());
  }
  state_.SetLeaf(gateway, std::move(*leaf));
  Succeeded(path, "consul connect leaf " + gateway + " index " + std::to_string(r.index));
}

void ConsulSource::OnRoots(const http::Response& r) {
  absl::MutexLock lock(&mu_);
  if (!roots_watch_) return;
  const bool first = !roots_answered_;
  roots_answered_ = true;
  if (first) gate_.dirty = true;
  if (!r.ok) return Failed(consul::kConnectRootsPath, r.error);
  auto roots = consul::DecodeConnectRoots(r.body, consul::kConnectRootsPath);
  if (!roots.ok()) {
    client().RejectAnswer(roots_watch_);
    return Failed(consul::kConnectRootsPath, std::string(roots.status().message()));
  }
  state_.SetRoots(std::move(*roots));
  Succeeded(consul::kConnectRootsPath, "consul connect roots index " + std::to_string(r.index));
}

void ConsulSource::RefreshLeaves() {
  if (!Watching()) return;
  const auto now = std::chrono::system_clock::now();
  for (auto& [gw, st] : leaves_) {
    if (!st.watch || !state_.leaf(gw) || now < st.refresh_at) continue;
    // A new watch starts with a plain read: Consul's agent hands out its renewed leaf.
    client().Unwatch(st.watch);
    std::string name = gw;
    st.watch = client().Watch(consul::ConnectLeafPath(gw), [this, name](const http::Response& r) { OnLeaf(name, r); });
    st.refresh_at = now + std::chrono::minutes(1);  // until the answer sets the next one
    spdlog::info("source {}: Connect leaf for {} is 2/3 through its lifetime; fetching it again", this->name(), gw);
  }
}

void ConsulSource::Reconcile() {
  // The health watches wanted now: each service's own, and every target of its chains; a chain
  // whose targets all have data is promoted (a chain waiting for new targets is promoted from
  // OnHealth once they answer).
  const std::set<std::string> wanted = state_.Promote();
  for (auto it = health_.begin(); it != health_.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second.watch) client().Unwatch(it->second.watch);
    gate_.failing.erase(it->first);
    state_.DropHealth(it->first);
    it = health_.erase(it);
  }
  if (!Watching()) return;
  for (const auto& path : wanted) {
    HealthWatch& h = health_[path];
    if (h.watch) continue;
    h.service = ServiceOfHealthPath(path);
    h.watch = WatchPerService(path, [this, path](const http::Response& r) { OnHealth(path, r); },
                              state_.health(path) != nullptr, &h.on_demand);
  }
}

// --- publishing -------------------------------------------------------------------------------

void ConsulSource::BeforeBatch() {
  RefreshLeaves();
  MaybeSweep();
}

bool ConsulSource::Complete() const {
  // Nothing is published before the catalog and every config kind have been read once: a
  // fragment without them would withdraw gateways and routes that are really there.
  return state_.catalog().has_value() && config_known_.size() == ConfigKinds().size() && CaComplete();
}

WatchingSource::Assembly ConsulSource::Assemble() {
  consul::ConsulState::Output out = state_.Build();
  if (out.whole) whole_mappings_++;
  Assembly a;
  a.world = std::move(out.world);
  a.mapping = std::move(out.mapping);
  // Changes are known from the second build on; before that the gate compares.
  if (out.changes) a.since_published = std::move(*out.changes);
  return a;
}

}  // namespace tern::sources
