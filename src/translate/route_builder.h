#pragma once
// RouteConfigurations: gateway route tables and the per-service tables of proxyless clients.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "envoy/config/route/v3/route.pb.h"
#include "envoy/config/route/v3/route_components.pb.h"
#include "model/model.h"

namespace tern::translate {

// References to clusters that are not in `clusters` are dropped (model::Validate has reported
// them); every cluster that is referenced and exists is added to `used`.
class RouteBuilder {
 public:
  // `gateway_filters`: the route configuration is for a gateway Envoy, whose HTTP connection
  // manager has the local rate-limit filter; hosts' and routes' rate limits become per-filter
  // configuration. Proxyless clients (false) get none: gRPC 1.51 NACKs per-filter configuration
  // of filters it does not know.
  RouteBuilder(const std::map<std::string, model::Cluster>& clusters, std::set<std::string>* used,
               bool gateway_filters = false)
      : clusters_(clusters), used_(used), gateway_filters_(gateway_filters) {}

  std::unique_ptr<envoy::config::route::v3::RouteConfiguration> Build(
      const std::string& name, const std::vector<model::VirtualHost>& virtual_hosts) const;

  // VHDS: the route configuration `name` with no virtual host of its own, telling Envoy to ask
  // for the virtual host of each Host it sees (BuildHost gives them) on a delta gRPC stream to
  // its bootstrap cluster `xds_cluster`. Envoy accepts nothing else for VHDS (not `ads {}`: "vhds:
  // only 'DELTA_GRPC' is supported as an api_type"); the stream is VirtualHostDiscoveryService's.
  std::unique_ptr<envoy::config::route::v3::RouteConfiguration> BuildOnDemand(
      const std::string& name, const std::string& xds_cluster) const;

  void BuildRoute(const model::Route& route, envoy::config::route::v3::Route* out) const;

  // Fills `out` from `vh` with the domains it keeps (see Build) in route configuration `name`.
  // It reads of the clusters only whether those its routes name exist. `resource_name` (VHDS):
  // the host's name instead of its own, as Envoy keys on-demand hosts (and removes them) by it.
  void BuildHost(const std::string& name, const model::VirtualHost& vh, std::vector<std::string> domains,
                 envoy::config::route::v3::VirtualHost* out, const std::string& resource_name = "") const;
  // The domains each host keeps: Envoy rejects a route table where two virtual hosts claim the
  // same domain, so the first claim wins.
  static std::vector<std::vector<std::string>> ClaimDomains(const std::vector<model::VirtualHost>& virtual_hosts);

 private:
  void BuildMatch(const model::RouteMatch& match, envoy::config::route::v3::RouteMatch* out) const;
  void BuildAction(const model::RouteAction& action, envoy::config::route::v3::Route* out) const;

  const std::map<std::string, model::Cluster>& clusters_;
  std::set<std::string>* used_;
  bool gateway_filters_;
};

}  // namespace tern::translate
