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

std::string Origin(const std::string& endpoint) { return "consul " + endpoint; }

// The service a chain-shaping config entry belongs to: its name.
bool Ignored(const std::string& service) { return service == "consul"; }

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

const std::vector<std::string>& ConsulSource::ConfigKinds() {
  static const std::vector<std::string> kinds = {"ingress-gateway", "service-defaults", "service-router",
                                                 "service-splitter", "service-resolver", "proxy-defaults"};
  return kinds;
}

ConsulSource::ConsulSource(std::string name, Options options) : name_(std::move(name)), options_(std::move(options)) {
  http::ClientOptions c;
  c.address = options_.address;
  if (c.address.find("://") == std::string::npos) c.address = "http://" + c.address;
  c.datacenter = options_.datacenter;
  c.consistency = options_.consistency;
  c.ca_file = options_.ca_file;
  c.cert_file = options_.cert_file;
  c.key_file = options_.key_file;
  c.server_name = options_.server_name;
  c.wait = options_.wait;
  c.backoff_min = options_.backoff_min;
  c.backoff_max = options_.backoff_max;
  if (!options_.token_file.empty()) {
    std::ifstream in(options_.token_file);
    std::stringstream buf;
    if (in) buf << in.rdbuf();
    if (!in) token_error_ = "cannot read the Consul token file " + options_.token_file;
    c.token = Trimmed(buf.str());
  } else if (!options_.token_env.empty()) {
    const char* v = std::getenv(options_.token_env.c_str());
    if (!v) token_error_ = "the Consul token variable " + options_.token_env + " is not set";
    else c.token = Trimmed(v);
  }
  client_ = std::make_unique<http::BlockingClient>(std::move(c));
  status_.name = name_;
}

ConsulSource::~ConsulSource() { Stop(); }

uint64_t ConsulSource::requests_total() const { return client_->total_requests(); }

// --- one full synchronous read ---------------------------------------------------------------

absl::StatusOr<FragmentPtr> ConsulSource::SyncOnce(std::vector<model::Problem>* problems) {
  if (!token_error_.empty()) {
    problems->push_back({name_, token_error_});
    return absl::FailedPreconditionError(token_error_);
  }
  const size_t before = problems->size();
  std::vector<std::pair<std::string, http::BlockingClient::AnswerSeed>> reads;  // to seed the watches with
  auto get = [&](const std::string& path) -> std::optional<std::string> {
    http::Response r = client_->Get(path);
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
  std::vector<model::Problem> mapping;
  auto fragment = std::make_shared<const model::World>(consul::BuildWorld(view, &mapping, options_.tag_routing));
  for (auto& p : entry_problems) spdlog::warn("source {}: {}", name_, p.ToString());
  for (auto& p : mapping) spdlog::warn("source {}: {}", name_, p.ToString());

  absl::MutexLock lock(&mu_);
  if (!Watching()) {
    // Seed the watchers with what was read so that their first answers change nothing.
    catalog_ = view.services;
    ingress_ = view.ingress;
    defaults_.emplace();
    for (auto& [n, d] : view.defaults) defaults_->push_back(d);
    proxy_defaults_ = view.proxy_defaults;
    for (const auto& kind : ConfigKinds()) config_known_.insert(kind);
    for (auto& [service, chain] : view.chains) {
      services_[service].newest = chain;
      services_[service].effective = chain;
    }
    for (auto& [path, inst] : view.health) health_[path].data = inst;
    const auto now = std::chrono::system_clock::now();
    for (auto& [gw, leaf] : view.leaves) {
      LeafState& st = leaves_[gw];
      st.answered = true;
      st.data = leaf;
      st.refresh_at = consul::LeafRefreshAt(leaf, now);
    }
    if (view.roots) {
      roots_ = view.roots;
      roots_answered_ = true;
    }
    gate_.published = fragment;
    fingerprints_ = fingerprints;
    // ... and so that they start blocking where this read stopped instead of reading it all again.
    for (const auto& [path, seed] : reads) {
      if (path == kCatalogPath) catalog_index_ = seed.index;  // tern_consul_catalog_index from the first read on
      client_->Seed(path, seed);
    }
  }
  status_.synced = true;
  status_.index++;
  status_.last_sync = std::chrono::system_clock::now();
  status_.last_error.clear();
  return FragmentPtr(fragment);
}

// --- watching ---------------------------------------------------------------------------------

void ConsulSource::Start(UpdateSink& sink) {
  {
    absl::MutexLock lock(&mu_);
    if (sink_) return;
    sink_ = &sink;
    catalog_watch_ = client_->WatchEveryIndex(kCatalogPath, [this](const http::Response& r) { OnCatalog(r); });
    for (const auto& kind : ConfigKinds()) {
      config_watches_[kind] = client_->Watch(ConfigPath(kind), [this, kind](const http::Response& r) { OnConfig(kind, r); });
    }
    // Services seeded by SyncOnce get their watches now.
    if (catalog_) SetServices(*catalog_);
    ReconcileCa();
  }
  client_->ClearSeeds();  // every watch the sync seeded exists now
  client_->SetBatchHook([this] { OnBatch(); });
  client_->Start();
}

void ConsulSource::Stop() {
  client_->Stop();
  absl::MutexLock lock(&mu_);
  sink_ = nullptr;
}

void ConsulSource::Failed(const std::string& endpoint, const std::string& error) {
  gate_.Failed(name_, endpoint, Origin(endpoint), error, status_);
}

void ConsulSource::Succeeded(const std::string& endpoint, const std::string& reason) {
  gate_.Succeeded(name_, endpoint, Origin(endpoint), reason, status_);
}

void ConsulSource::OnCatalog(const http::Response& r) {
  absl::MutexLock lock(&mu_);
  if (!r.ok) return Failed(kCatalogPath, r.error);
  auto services = consul::DecodeCatalogServices(r.body, kCatalogPath);
  if (!services.ok()) return Failed(kCatalogPath, std::string(services.status().message()));
  catalog_index_ = r.index;
  if (catalog_ && *catalog_ == *services && !gate_.failing.count(kCatalogPath)) {
    // The same services and tags at a new index: a registration changed (an instance's address,
    // port, meta or weights). Per-service watches see it themselves; in aggregate mode only a
    // changed check would say which service, so every service is read again (rate-limited).
    if (aggregate_) {
      sweep_pending_ = true;
      MaybeSweep();
    }
    return;
  }
  catalog_ = *services;
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
  // Health in another datacenter changes without a trace in this datacenter's checks: it keeps
  // its blocking watch.
  *on_demand = aggregate_ && path.find("dc=") == std::string::npos;
  if (!*on_demand) return client_->Watch(path, std::move(cb));
  http::WatchId id = client_->WatchOnDemand(path, std::move(cb));
  if (!has_data) client_->Trigger(id);
  return id;
}

void ConsulSource::EnableAggregate() {
  if (aggregate_) return;
  aggregate_ = true;
  spdlog::info("source {}: {} services: watching Consul in aggregate mode (one blocking query on {}; at most {} "
               "connections)", name_, services_.size(), kStatePath, options_.connection_budget);
  client_->SetMaxConnections(static_cast<long>(options_.connection_budget));
  state_watch_ = client_->Watch(kStatePath, [this](const http::Response& r) { OnState(r); });
  // The per-service watches already running become on-demand reads (they hold current data).
  for (auto& [service, st] : services_) {
    if (!st.chain_watch) continue;
    client_->Unwatch(st.chain_watch);
    bool on_demand = false;
    std::string svc = service;
    st.chain_watch = WatchPerService(ChainPath(service), [this, svc](const http::Response& r) { OnChain(svc, r); },
                                     st.newest.has_value(), &on_demand);
  }
  for (auto& [path, h] : health_) {
    if (!h.watch) continue;
    client_->Unwatch(h.watch);
    std::string p = path;
    h.watch = WatchPerService(path, [this, p](const http::Response& r) { OnHealth(p, r); }, h.data.has_value(),
                              &h.on_demand);
  }
}

void ConsulSource::OnState(const http::Response& r) {
  absl::MutexLock lock(&mu_);
  if (!r.ok) return Failed(kStatePath, r.error);
  auto f = consul::DecodeHealthState(r.body, kStatePath);
  if (!f.ok()) {
    client_->RejectAnswer(state_watch_);
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
    if (!read && !nodes.empty() && h.data) {
      for (const auto& inst : *h.data) {
        if (nodes.contains(inst.node)) {
          read = true;
          break;
        }
      }
    }
    if (read) client_->Trigger(h.watch);
  }
}

void ConsulSource::ReadAllChains() {
  for (const auto& [service, st] : services_) {
    if (st.chain_watch) client_->Trigger(st.chain_watch);
  }
}

void ConsulSource::MaybeSweep() {
  if (!sweep_pending_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_sweep_ < options_.sweep_interval) return;
  sweep_pending_ = false;
  last_sweep_ = now;
  for (const auto& [path, h] : health_) {
    if (h.on_demand) client_->Trigger(h.watch, /*urgent=*/false);  // behind any changed service's read
  }
}

void ConsulSource::SetServices(consul::ServiceList services) {
  for (auto it = services_.begin(); it != services_.end();) {
    if (services.count(it->first)) {
      ++it;
      continue;
    }
    // A successful read says the service is gone: this is a real removal.
    if (it->second.chain_watch) client_->Unwatch(it->second.chain_watch);
    spdlog::info("source {}: service {} left the catalog", name_, it->first);
    it = services_.erase(it);
  }
  if (Watching() && WantAggregate(services.size())) EnableAggregate();
  for (const auto& [service, tags] : services) {
    if (Ignored(service)) continue;
    ServiceState& st = services_[service];
    if (Watching() && st.chain_watch == 0) {
      std::string svc = service;
      bool on_demand = false;
      st.chain_watch = WatchPerService(ChainPath(service), [this, svc](const http::Response& r) { OnChain(svc, r); },
                                       st.newest.has_value(), &on_demand);
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
  const size_t watches = client_->watch_count();
  if (watches < kConnectionWarning || watches < 2 * connections_warned_at_) return;
  connections_warned_at_ = watches;
  spdlog::warn(
      "source {}: {} blocking queries to Consul, one connection each; Consul's "
      "limits.http_max_conns_per_client (default 200) must be above that (docs/consul.md, \"Sizing\")",
      name_, watches);
}

void ConsulSource::OnChain(const std::string& service, const http::Response& r) {
  absl::MutexLock lock(&mu_);
  const std::string path = ChainPath(service);
  auto it = services_.find(service);
  if (it == services_.end()) return;
  if (!r.ok) return Failed(path, r.error);
  auto chain = consul::DecodeDiscoveryChain(r.body, path);
  if (!chain.ok()) return Failed(path, std::string(chain.status().message()));
  it->second.newest = *chain;
  Reconcile();
  Succeeded(path, "consul discovery-chain " + service + " index " + std::to_string(r.index));
}

void ConsulSource::OnHealth(const std::string& path, const http::Response& r) {
  absl::MutexLock lock(&mu_);
  auto it = health_.find(path);
  if (it == health_.end()) return;
  if (!r.ok) return Failed(path, r.error);
  auto inst = consul::DecodeHealthService(r.body, path);
  if (!inst.ok()) return Failed(path, std::string(inst.status().message()));
  it->second.data = *inst;
  Reconcile();
  std::string what = path.substr(std::string("/v1/health/service/").size());
  Succeeded(path, "consul health " + what + " index " + std::to_string(r.index));
}

void ConsulSource::OnConfig(const std::string& kind, const http::Response& r) {
  absl::MutexLock lock(&mu_);
  const std::string path = ConfigPath(kind);
  if (!r.ok) return Failed(path, r.error);
  std::vector<model::Problem> problems;
  absl::Status st;
  std::set<std::string> good;
  if (kind == "ingress-gateway") {
    auto v = consul::DecodeIngressGateways(r.body, path, &problems);
    st = v.status();
    if (v.ok()) {
      // A bad ingress entry keeps its previous version.
      std::vector<consul::IngressGateway> next = *v;
      for (const auto& p : problems) {
        std::string name = p.origin.substr(p.origin.find('/') + 1);
        if (ingress_) {
          for (const auto& old : *ingress_) if (old.name == name) next.push_back(old);
        }
      }
      ingress_ = std::move(next);
    }
  } else if (kind == "service-defaults") {
    auto v = consul::DecodeServiceDefaults(r.body, path, &problems);
    st = v.status();
    if (v.ok()) {
      std::vector<consul::ServiceDefaults> next = *v;
      for (const auto& p : problems) {
        std::string name = p.origin.substr(p.origin.find('/') + 1);
        if (defaults_) {
          for (const auto& old : *defaults_) if (old.name == name) next.push_back(old);
        }
      }
      defaults_ = std::move(next);
    }
  } else if (kind == "proxy-defaults") {
    auto v = consul::DecodeProxyDefaults(r.body, path, &problems);
    st = v.status();
    // A bad global entry keeps the last good one; a removed one is gone.
    if (v.ok() && problems.empty()) proxy_defaults_ = *v;
  } else {
    auto v = consul::DecodeChainEntries(kind, r.body, path, &problems);
    st = v.status();
  }
  if (!st.ok()) return Failed(path, std::string(st.message()));
  std::set<std::string> bad;
  for (const auto& p : problems) {
    bad.insert(p.origin.substr(p.origin.find('/') + 1));
    Failed(p.origin, p.message);
  }
  // Entries that are fine again clear their error.
  for (const auto& name : bad_entries_[kind]) {
    if (!bad.count(name)) gate_.failing.erase(kind + "/" + name);
  }
  bad_entries_[kind] = bad;
  config_known_.insert(kind);
  Reconcile();
  if (kind == "ingress-gateway") ReconcileCa();
  Succeeded(path, "consul config " + kind + " index " + std::to_string(r.index));
}

// --- Connect CA -------------------------------------------------------------------------------

std::set<std::string> ConsulSource::TlsGateways() const {
  std::set<std::string> out;
  if (ingress_) {
    for (const auto& g : *ingress_) if (g.tls_enabled) out.insert(g.name);
  }
  return out;
}

void ConsulSource::ReconcileCa() {
  const std::set<std::string> wanted = TlsGateways();
  for (auto it = leaves_.begin(); it != leaves_.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second.watch) client_->Unwatch(it->second.watch);
    gate_.failing.erase(consul::ConnectLeafPath(it->first));
    it = leaves_.erase(it);
  }
  if (wanted.empty() && roots_watch_) {
    client_->Unwatch(roots_watch_);
    roots_watch_ = 0;
    gate_.failing.erase(consul::kConnectRootsPath);
  }
  if (wanted.empty()) {
    roots_.reset();
    roots_answered_ = false;
  }
  if (!Watching()) return;
  for (const auto& gw : wanted) {
    LeafState& st = leaves_[gw];
    if (st.watch) continue;
    st.watch = client_->Watch(consul::ConnectLeafPath(gw), [this, gw](const http::Response& r) { OnLeaf(gw, r); });
  }
  if (!wanted.empty() && !roots_watch_) {
    roots_watch_ = client_->Watch(consul::kConnectRootsPath, [this](const http::Response& r) { OnRoots(r); });
  }
}

bool ConsulSource::CaComplete() const {
  const std::set<std::string> wanted = TlsGateways();
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
    client_->RejectAnswer(it->second.watch);
    return Failed(path, std::string(leaf.status().message()));
  }
  it->second.refresh_at = consul::LeafRefreshAt(*leaf, std::chrono::system_clock::now());
  const bool changed = it->second.data != *leaf;
  it->second.data = std::move(*leaf);
  if (changed) {
    spdlog::info("source {}: Connect leaf for {} (serial {}) valid until {}", name_, gateway, it->second.data->serial,
                 std::chrono::duration_cast<std::chrono::seconds>(it->second.data->valid_before.time_since_epoch()).count());
  }
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
    client_->RejectAnswer(roots_watch_);
    return Failed(consul::kConnectRootsPath, std::string(roots.status().message()));
  }
  roots_ = std::move(*roots);
  Succeeded(consul::kConnectRootsPath, "consul connect roots index " + std::to_string(r.index));
}

void ConsulSource::RefreshLeaves() {
  if (!Watching()) return;
  const auto now = std::chrono::system_clock::now();
  for (auto& [gw, st] : leaves_) {
    if (!st.watch || !st.data || now < st.refresh_at) continue;
    // A new watch starts with a plain read: Consul's agent hands out its renewed leaf.
    client_->Unwatch(st.watch);
    std::string name = gw;
    st.watch = client_->Watch(consul::ConnectLeafPath(gw), [this, name](const http::Response& r) { OnLeaf(name, r); });
    st.refresh_at = now + std::chrono::minutes(1);  // until the answer sets the next one
    spdlog::info("source {}: Connect leaf for {} is 2/3 through its lifetime; fetching it again", name_, gw);
  }
}

bool ConsulSource::ChainBlocked(const std::string& service) const {
  for (const auto& kind : {"service-router", "service-splitter", "service-resolver"}) {
    auto it = bad_entries_.find(kind);
    if (it != bad_entries_.end() && it->second.count(service)) return true;
  }
  return false;
}

void ConsulSource::Reconcile() {
  // Promote each service's newest chain once every health path it needs has data.
  for (auto& [service, st] : services_) {
    if (!st.newest || st.newest == st.effective || ChainBlocked(service)) continue;
    bool ready = true;
    for (const auto& p : consul::HealthPaths(*st.newest)) {
      auto h = health_.find(p);
      if (h == health_.end() || !h->second.data) ready = false;
    }
    if (ready) st.effective = st.newest;
  }
  // The health watches wanted now: each service's own, and every target of its chains.
  std::set<std::string> wanted;
  for (const auto& [service, st] : services_) {
    wanted.insert(consul::ServiceHealthPath(service));
    for (const auto* chain : {&st.newest, &st.effective}) {
      if (!*chain) continue;
      for (const auto& p : consul::HealthPaths(**chain)) wanted.insert(p);
    }
  }
  for (auto it = health_.begin(); it != health_.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second.watch) client_->Unwatch(it->second.watch);
    gate_.failing.erase(it->first);
    it = health_.erase(it);
  }
  if (!Watching()) return;
  bool added = false;
  for (const auto& path : wanted) {
    HealthState& h = health_[path];
    if (h.watch) continue;
    h.service = ServiceOfHealthPath(path);
    h.watch = WatchPerService(path, [this, path](const http::Response& r) { OnHealth(path, r); }, h.data.has_value(),
                              &h.on_demand);
    added = true;
  }
  // A chain waiting for new targets is promoted from OnHealth once they answer.
  (void)added;
}

consul::ConsulView ConsulSource::View() const {
  consul::ConsulView v;
  if (catalog_) v.services = *catalog_;
  for (const auto& [service, st] : services_) {
    if (st.effective) v.chains[service] = *st.effective;
  }
  for (const auto& [path, h] : health_) {
    if (h.data) v.health[path] = *h.data;
  }
  if (defaults_) for (const auto& d : *defaults_) v.defaults[d.name] = d;
  if (ingress_) v.ingress = *ingress_;
  v.proxy_defaults = proxy_defaults_;
  for (const auto& [gw, st] : leaves_) {
    if (st.data) v.leaves[gw] = *st.data;
  }
  v.roots = roots_;
  return v;
}

void ConsulSource::OnBatch() {
  UpdateSink* sink = nullptr;
  std::vector<model::Problem> errors;
  FragmentPtr fragment;
  std::optional<model::WorldDelta> since;
  std::string reason;
  {
    absl::MutexLock lock(&mu_);
    sink = sink_;
    errors.swap(gate_.pending_errors);
    // Nothing is published before the catalog and every config kind have been read once:
    // a fragment without them would withdraw gateways and routes that are really there.
    RefreshLeaves();
    MaybeSweep();
    bool complete = catalog_.has_value() && config_known_.size() == ConfigKinds().size() && CaComplete();
    if ((gate_.dirty || gate_.force) && complete) {
      std::vector<model::Problem> mapping;
      auto world = std::make_shared<const model::World>(consul::BuildWorld(View(), &mapping, options_.tag_routing));
      gate_.Offer(std::move(world), std::move(mapping), "consul answers again", status_, &fragment, &since, &reason, &errors);
    }
  }
  if (!sink) return;
  if (fragment && since) sink->OnUpdateWithChanges(name_, fragment, std::move(*since), reason);
  else if (fragment) sink->OnUpdate(name_, fragment, reason);
  if (!errors.empty()) sink->OnError(name_, std::move(errors));
}

SourceStatus ConsulSource::status() const {
  absl::MutexLock lock(&mu_);
  SourceStatus s = status_;
  s.index = catalog_index_ ? catalog_index_ : s.index;
  return s;
}

std::string ConsulSource::MetricsText() const {
  uint64_t errors, updates, index, failing;
  {
    absl::MutexLock lock(&mu_);
    errors = gate_.errors_total;
    updates = gate_.updates_total;
    index = catalog_index_;
    failing = gate_.failing.size();
  }
  std::string n = "{source=\"" + name_ + "\"}";
  std::string out;
  out += "# HELP tern_consul_requests_total HTTP requests made to Consul (blocking queries and reads).\n";
  out += "# TYPE tern_consul_requests_total counter\n";
  out += "tern_consul_requests_total" + n + " " + std::to_string(client_->total_requests()) + "\n";
  out += "# HELP tern_consul_errors_total Failed or undecodable Consul answers.\n";
  out += "# TYPE tern_consul_errors_total counter\n";
  out += "tern_consul_errors_total" + n + " " + std::to_string(errors) + "\n";
  out += "# HELP tern_consul_updates_total Fragments handed to the core.\n";
  out += "# TYPE tern_consul_updates_total counter\n";
  out += "tern_consul_updates_total" + n + " " + std::to_string(updates) + "\n";
  out += "# HELP tern_consul_watches Blocking queries currently watched.\n";
  out += "# TYPE tern_consul_watches gauge\n";
  out += "tern_consul_watches" + n + " " + std::to_string(client_->watch_count()) + "\n";
  out += "# HELP tern_consul_failing_endpoints Consul endpoints whose last answer failed.\n";
  out += "# TYPE tern_consul_failing_endpoints gauge\n";
  out += "tern_consul_failing_endpoints" + n + " " + std::to_string(failing) + "\n";
  out += "# HELP tern_consul_catalog_index X-Consul-Index of the last catalog answer.\n";
  out += "# TYPE tern_consul_catalog_index gauge\n";
  out += "tern_consul_catalog_index" + n + " " + std::to_string(index) + "\n";
  return out;
}

}  // namespace tern::sources
