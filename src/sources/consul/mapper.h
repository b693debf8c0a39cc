#pragma once
// Consul's view (catalog, health, discovery chains, config entries) → one model::World fragment.
// Pure: the source's watchers keep the last good answer of every endpoint in a ConsulView and
// call BuildWorld after every change.
//
// Mapping (see docs/consul.md):
//   * every target of a discovery chain → one model::Cluster named by the target ID
//     ("v1.web.default.dc1"); its endpoints are the health of the target's service filtered by the
//     subset filter (Consul evaluates the filter: each target has its own health watch), failover
//     targets' endpoints join at priority 1, 2, ...; connect timeout and load balancer from the
//     target's resolver node; protocol from service-defaults;
//   * the chain's router routes → routes (path/header/query/method matches, prefix rewrite,
//     request timeout, retries), splitter → weighted clusters, resolver → its target;
//   * every service → ServiceRoutes (what a proxyless gRPC client of `xds:///service` follows);
//   * every ingress-gateway entry → a Gateway named after the entry, one listener per port;
//     with TLS.Enabled every listener terminates TLS with the gateway's Connect leaf (secret
//     "connect-leaf/<gateway>", the default certificate) and names the Connect roots
//     ("connect-roots") as its validation context; until both are known the gateway has no
//     listeners (never plaintext where TLS was asked for).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/model.h"
#include "sources/consul/connect_ca.h"
#include "sources/consul/decoders.h"
#include "sources/consul/proxy_defaults.h"
#include "sources/tags/canary.h"
#include "sources/tags/fabio.h"

namespace tern::sources::consul {

struct ConsulView {
  ServiceList services;                                 // the catalog
  std::map<std::string, DiscoveryChain> chains;         // by service
  std::map<std::string, std::vector<Instance>> health;  // by health path (HealthPath)
  std::map<std::string, ServiceDefaults> defaults;      // by service
  std::vector<IngressGateway> ingress;
  std::optional<ProxyDefaults> proxy_defaults;  // the "global" proxy-defaults entry
  // Connect CA, for ingress gateways with TLS.Enabled: each such gateway's leaf (by gateway name)
  // and the roots.
  std::map<std::string, ConnectLeaf> leaves;
  std::optional<ConnectRoots> roots;
};

// The health endpoint (path and query) that yields a target's instances: the service's health
// filtered by the subset filter, in the target's datacenter, namespace and partition when they
// are not the chain's ("" and "default" are the same namespace and partition).
std::string HealthPath(const ChainTarget& target, const std::string& chain_datacenter,
                       const std::string& chain_namespace = "", const std::string& chain_partition = "");
std::string ServiceHealthPath(const std::string& service);
std::string UrlEscape(const std::string& text);

// Every health path a chain needs.
std::vector<std::string> HealthPaths(const DiscoveryChain& chain);

// Where a target cluster's endpoints come from: the health path of the target (priority 0), then
// of each failover target of the target's resolver node (priority 1, 2, ...), in that order.
struct EndpointSource {
  std::string health_path;
  uint32_t priority = 0;
  bool operator==(const EndpointSource&) const = default;
};
std::vector<EndpointSource> EndpointSources(const DiscoveryChain& chain, const std::string& target_id);
// The endpoints those sources give with the instances known now (a path not read yet gives none).
std::vector<model::Endpoint> EndpointsFrom(const std::map<std::string, std::vector<Instance>>& health,
                                           const std::vector<EndpointSource>& sources);

// The routes a request addressed to the chain's service follows.
std::vector<model::Route> ChainRoutes(const DiscoveryChain& chain);

// The chain's default target: where a request that matches no router route, or a TCP
// connection, goes.
std::string DefaultTarget(const DiscoveryChain& chain);

model::Protocol ProtocolFromConsul(const std::string& protocol);

// Routing from instance tags (docs/consul.md "Routing from tags"): Fabio `urlprefix-` tags on the
// gateways that opt in, and Nomad canary tags. Both apply only to services whose discovery chain
// does no routing of its own (PlainChain): a Consul router, splitter or resolver wins.
struct TagRouting {
  tags::FabioOptions fabio;    // no gateways = Fabio tags are not read
  tags::CanaryOptions canary;  // no tag = canaries off
};

// True when the chain is Consul's default one: a single resolver to the service itself (no
// router, splitter, subset, redirect or failover).
bool PlainChain(const DiscoveryChain& chain);

// Problems name the entry that caused them ("ingress-gateway/edge: ..."); the affected part is
// left out and everything else is built.
model::World BuildWorld(const ConsulView& view, std::vector<model::Problem>* problems, const TagRouting& tags = {});

}  // namespace tern::sources::consul
