#pragma once
// The Consul source: watches Consul with blocking queries and turns what it sees into one
// model::World fragment (see mapper.h for the mapping, docs/consul.md for the whole story).
//
// Watches, all multiplexed on one BlockingClient thread:
//   /v1/catalog/services                      which services exist: per-service watches start and
//                                             stop with it
//   /v1/config/<kind>                         ingress-gateway, service-defaults, service-router,
//                                             service-splitter, service-resolver
//   /v1/discovery-chain/<service>             per service: Consul's compiled routing
//   /v1/health/service/<service>[?filter=..]  per service, and per chain target with its subset
//                                             filter (Consul evaluates the filter)
//   /v1/agent/connect/ca/leaf/<gateway>       per ingress gateway with TLS.Enabled: its leaf
//   /v1/agent/connect/ca/roots                while any gateway has TLS enabled
//
// Connect leaves are also fetched again (a fresh, non-blocking read) 2/3 into their lifetime in
// case no blocking query woke up for a renewal. A leaf or roots answer that does not decode keeps
// the last good one (and so the last good secret). Private keys are never logged.
//
// Every answer is decoded here and handed to consul::ConsulState (consul_state.h, the pure part:
// last good data, chains in use, the world kept up to date in proportion to the change); this
// class is the I/O: which endpoints are watched, and how. A good answer replaces that endpoint's
// last good data, a bad one (Consul unreachable, 5xx, malformed JSON) is reported once through
// sink.OnError naming the endpoint and changes nothing: a failed watch keeps its last good data,
// so a fragment never loses routes because a watch failed. Only a successful answer that no
// longer lists a service removes it. A new chain is used only once every target it names has its
// endpoints, so a canary change never routes to a cluster whose endpoints are still being
// fetched. After each batch of answers the world is brought up to date; if it changed, the sink
// gets it with what changed and a reason naming the events ("consul health web index 42").
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sources/consul/consul_state.h"
#include "sources/consul/decoders.h"
#include "sources/consul/mapper.h"
#include "sources/watch/watching_source.h"

namespace tern::sources {

class ConsulSource : public WatchingSource {
 public:
  // How per-service data is watched (docs/consul.md "Connections").
  //   kPerService: a blocking query per service health, discovery chain and chain target: one
  //     connection each, changes seen at once; fits small catalogs.
  //   kAggregate: one blocking query on /v1/health/state/any says which services' checks changed;
  //     only their health (and, after a config-entry change, the chains) are read, at most 4 at a
  //     time; a catalog index that moves without a check change (a re-registration) re-reads every
  //     service, at most once per sweep_interval. The connections held stay under
  //     connection_budget whatever the catalog size.
  //   kAuto: per-service while its watches fit connection_budget, aggregate beyond.
  enum class WatchMode { kAuto, kPerService, kAggregate };
  struct Options {
    std::string address = "http://127.0.0.1:8500";
    std::string datacenter;
    std::string token_file;  // the ACL token is read from this file ...
    std::string token_env;   // ... or this environment variable; never logged
    std::string consistency = "default";
    std::string ca_file, cert_file, key_file, server_name;
    std::chrono::milliseconds wait{std::chrono::seconds(60)};
    std::chrono::milliseconds backoff_min{50};
    // Capped at 1 s so that tern is back within a second of Consul; a down Consul still sees
    // at most about one request per watch per 0.5–1 s.
    std::chrono::milliseconds backoff_max{1000};
    // Routing from instance tags: Fabio gateways and Nomad canaries (see mapper.h).
    consul::TagRouting tag_routing;
    WatchMode watch_mode = WatchMode::kAuto;
    size_t connection_budget = 16;
    std::chrono::milliseconds sweep_interval{std::chrono::seconds(30)};
    std::shared_ptr<prometheus::Registry> registry;  // tern_consul_* series (none: a registry of its own)
  };

  ConsulSource(std::string name, Options options);
  ~ConsulSource() override;

  absl::StatusOr<FragmentPtr> SyncOnce(std::vector<model::Problem>* problems) override;

  bool aggregate() const;  // watching in aggregate mode now
  // Batches published by re-mapping the whole view (the others touched only the clusters whose
  // instances changed).
  uint64_t whole_mappings() const;

  static const std::vector<std::string>& ConfigKinds();

 private:
  struct HealthWatch {
    http::WatchId watch = 0;
    bool on_demand = false;
    std::string service;  // whose health this is
  };
  struct LeafWatch {
    http::WatchId watch = 0;
    bool answered = false;  // success or failure: the gateway need not wait any longer
    std::chrono::system_clock::time_point refresh_at{};
  };

  // WatchingSource
  void StartWatches() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void BeforeBatch() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Complete() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Assembly Assemble() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t ReportedIndex() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return catalog_index_; }

  // Watch callbacks (client thread).
  void OnCatalog(const http::Response& r);
  void OnChain(const std::string& service, const http::Response& r);
  void OnHealth(const std::string& path, const http::Response& r);
  void OnConfig(const std::string& kind, const http::Response& r);
  void OnLeaf(const std::string& gateway, const http::Response& r);
  void OnRoots(const http::Response& r);
  void OnState(const http::Response& r);
  // Aggregate mode: whether the catalog needs it, switching to it (once on, it stays on).
  bool WantAggregate(size_t services) const;
  void EnableAggregate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A per-service watch in the current mode; an on-demand one without data is read at once.
  http::WatchId WatchPerService(const std::string& path, http::WatchCallback cb, bool has_data, bool* on_demand)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReadHealthOf(const std::set<std::string>& services, const std::set<std::string>& nodes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeSweep() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts and stops Connect CA watches to match the TLS-enabled ingress gateways.
  void ReconcileCa() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Re-reads leaves that are 2/3 into their lifetime.
  void RefreshLeaves() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool CaComplete() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Applies a new catalog: starts and stops per-service watches.
  void SetServices(const consul::ServiceList& services) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Per-service mode only: says once per doubling when the watches near Consul's per-client limit.
  void WarnAboutConnections() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static constexpr size_t kConnectionWarning = 150;  // watches; Consul's default limit is 200
  // Promotes chains whose targets are all known; starts/stops health watches to match.
  void Reconcile() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;

  consul::ConsulState state_ ABSL_GUARDED_BY(mu_);
  uint64_t catalog_index_ ABSL_GUARDED_BY(mu_) = 0;
  http::WatchId catalog_watch_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, http::WatchId> chain_watches_ ABSL_GUARDED_BY(mu_);  // by service
  std::map<std::string, HealthWatch> health_ ABSL_GUARDED_BY(mu_);            // by path
  std::map<std::string, http::WatchId> config_watches_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> config_known_ ABSL_GUARDED_BY(mu_);  // kinds read at least once
  // The last good entries by kind, for keeping a bad entry's previous version.
  std::vector<consul::IngressGateway> ingress_ ABSL_GUARDED_BY(mu_);
  std::vector<consul::ServiceDefaults> defaults_ ABSL_GUARDED_BY(mu_);
  // kind → names of entries that failed to decode (their service keeps its last good chain).
  std::map<std::string, std::set<std::string>> bad_entries_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, LeafWatch> leaves_ ABSL_GUARDED_BY(mu_);  // by gateway name
  http::WatchId roots_watch_ ABSL_GUARDED_BY(mu_) = 0;
  bool roots_answered_ ABSL_GUARDED_BY(mu_) = false;
  bool aggregate_ ABSL_GUARDED_BY(mu_) = false;
  http::WatchId state_watch_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<consul::CheckFingerprints> fingerprints_ ABSL_GUARDED_BY(mu_);
  bool sweep_pending_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point last_sweep_ ABSL_GUARDED_BY(mu_){};
  uint64_t whole_mappings_ ABSL_GUARDED_BY(mu_) = 0;
  size_t connections_warned_at_ ABSL_GUARDED_BY(mu_) = 0;  // watch count of the last sizing warning
};

}  // namespace tern::sources
