#pragma once
// Change sets: what an update touched, so that the core costs what changed, not what exists.
//
// A source says what changed as a WorldDelta (the new value of each touched element, or its
// removal); whole-file sources may still hand over a complete fragment, which the reconciler
// turns into a delta by comparing it with what that source contributed before. The reconciler
// applies deltas to its world in place and passes the touched names on as a ChangeSet; the
// DependencyIndex says which other elements read a touched one (a gateway routing to a service,
// a cluster using a secret), so that validation and translation look at exactly those.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "model/model.h"

namespace tern::model {

// Names of the elements an update added, changed or removed.
struct ChangeSet {
  bool everything = false;  // compare everything (first build, after a failed build)
  std::set<std::string> clusters;
  std::set<std::string> gateways;
  std::set<std::string> service_routes;
  std::set<std::string> secrets;
  bool defaults = false;

  bool empty() const {
    return !everything && clusters.empty() && gateways.empty() && service_routes.empty() && secrets.empty() &&
           !defaults;
  }
  void Merge(const ChangeSet& other);
  static ChangeSet Everything() {
    ChangeSet c;
    c.everything = true;
    return c;
  }
};

// New values of touched elements (nullopt: removed).
struct WorldDelta {
  std::map<std::string, std::optional<Cluster>> clusters;
  std::map<std::string, std::optional<Gateway>> gateways;
  std::map<std::string, std::optional<ServiceRoutes>> service_routes;
  std::map<std::string, std::optional<Secret>> secrets;
  std::optional<std::optional<GatewayDefaults>> defaults;  // engaged: the defaults changed

  bool empty() const {
    return clusters.empty() && gateways.empty() && service_routes.empty() && secrets.empty() && !defaults;
  }
  ChangeSet Touched() const;
  // `later` applied after this one: for a name in both, the later value wins.
  void Compose(WorldDelta later);
};

// What `after` changes relative to `before` (both a source's whole contribution). O(size).
WorldDelta Diff(const World& before, const World& after);

// Which elements read which: gateways and service routes name clusters (routes, TCP listeners,
// telemetry collectors), gateways and clusters name secrets. Names are recorded whether or not the
// element they name exists, so that adding or removing it reaches its readers.
class DependencyIndex {
 public:
  // Re-records what the touched elements of `world` name (everything when changes.everything).
  void Update(const World& world, const ChangeSet& changes);
  // The gateways / service routes / clusters that read a touched cluster or secret (the touched
  // elements themselves are not included).
  std::set<std::string> GatewaysReadingClusters(const std::set<std::string>& clusters) const;
  std::set<std::string> ServicesReadingClusters(const std::set<std::string>& clusters) const;
  std::set<std::string> GatewaysReadingSecrets(const std::set<std::string>& secrets) const;
  std::set<std::string> ClustersReadingSecrets(const std::set<std::string>& secrets) const;
  bool DefaultsRead(const std::set<std::string>& clusters) const;
  void Clear();

 private:
  using Edges = std::map<std::string, std::set<std::string>>;  // reader → names it reads
  using Reverse = std::map<std::string, std::set<std::string>>;  // name → readers
  static void Set(Edges& fwd, Reverse& rev, const std::string& reader, std::set<std::string> names);
  static std::set<std::string> Readers(const Reverse& rev, const std::set<std::string>& names);
  Edges gw_clusters_, svc_clusters_, gw_secrets_, cluster_secrets_;
  Reverse clusters_to_gw_, clusters_to_svc_, secrets_to_gw_, secrets_to_cluster_;
  std::set<std::string> defaults_clusters_;
};

// The clusters and secrets an element reads.
std::set<std::string> ClustersReadBy(const Gateway& gw);
std::set<std::string> ClustersReadBy(const ServiceRoutes& sr);
std::set<std::string> ClustersReadBy(const GatewayDefaults& d);
std::set<std::string> SecretsReadBy(const Gateway& gw);
std::set<std::string> SecretsReadBy(const Cluster& c);

// Validate() restricted to the named elements (the checks that look at them, and only those).
// Validate(world) == ValidateElements(world, every name) up to order.
struct Elements {
  std::set<std::string> clusters, gateways, service_routes, secrets;
  bool defaults = false;
};
std::vector<Problem> ValidateElements(const World& world, const Elements& elements);

}  // namespace tern::model
