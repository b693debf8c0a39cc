#pragma once
// model::World → Envoy resources. Pure and deterministic: no clock, no I/O, same input → same
// bytes. The translator knows Envoy's API but nothing of gRPC, the cache or Consul.
//
// Naming (stable: tests, bootstrap and users depend on it):
//   cluster / ClusterLoadAssignment  = model cluster name
//   gateway listener                 = model listener name; its RouteConfiguration has the same name
//   proxyless API listener           = service name (what a gRPC client puts in xds:///NAME);
//                                      its RouteConfiguration is named "svc/<service>"
//   on-demand virtual host (VHDS)    = "<route configuration>/<virtual host name>" (gateways only)
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/message.h>

#include "common/type_urls.h"
#include "model/changes.h"
#include "model/model.h"

namespace tern::translate {

using MessagePtr = std::shared_ptr<const google::protobuf::Message>;

struct NamedMessage {
  std::string name;
  MessagePtr message;
};

// A dependency between resources (listener → route config, cluster → endpoints); lets the cache
// check a snapshot is consistent.
struct Dependency {
  ResourceType from_type;
  std::string from_name;
  ResourceType to_type;
  std::string to_name;
};

// A virtual host served on demand (VHDS): envoy.config.route.v3.VirtualHost and the domains it
// answers for, by which a request for "<route configuration>/<host>" finds it.
struct VirtualHostMessage {
  std::string name;  // "<route configuration>/<virtual host name>"
  MessagePtr message;
  std::vector<std::string> domains;
};

// Whether a gateway listener's route table is served on demand (model::VhdsMode).
bool OnDemandHosts(model::VhdsMode mode, const model::Listener& listener);

struct GatewayResources {
  std::vector<NamedMessage> listeners;
  std::vector<NamedMessage> routes;
  // The virtual hosts of its route configurations that are served on demand (those then carry
  // none inline). Proxyless clients (the mesh) never get any.
  std::vector<VirtualHostMessage> virtual_hosts;
  std::vector<std::string> clusters;  // names of the clusters its routes use (sorted, unique)
  // Names of the secrets it uses (sorted, unique): its listeners' certificates and client CAs and
  // the upstream TLS secrets of its clusters. Secrets go only to the gateways that use them.
  std::vector<std::string> secrets;
  std::vector<Dependency> dependencies;
  // This gateway's own variants of clusters it uses (model::Gateway::upstreams): a CDS resource
  // with the shared cluster's name, served to this gateway in place of the shared one. Endpoints
  // stay shared. Proxyless clients (the mesh) never have any.
  std::map<std::string, MessagePtr> cluster_variants;
};

// Everything translated from one world. Clusters and endpoints are translated once and shared
// by every gateway that uses them.
struct Translation {
  std::map<std::string, MessagePtr> clusters;   // envoy.config.cluster.v3.Cluster
  std::map<std::string, MessagePtr> endpoints;  // envoy.config.endpoint.v3.ClusterLoadAssignment
  std::map<std::string, MessagePtr> secrets;    // envoy.extensions.transport_sockets.tls.v3.Secret
  std::map<std::string, GatewayResources> gateways;  // by gateway name (= node cluster)
  // Proxyless gRPC: one API listener + route configuration per service (clusters and
  // service_routes of the world), served only to clients that ask for them by name. Never
  // carries secrets: proxyless clients do not fetch certificates over SDS.
  GatewayResources mesh;
};

struct Options {
  std::string ads_config_source = "ads";  // listeners and clusters point RDS/EDS at ADS
  // VHDS: the cluster of a gateway Envoy's bootstrap that reaches tern (the name `tern bootstrap`
  // gives it); on-demand route configurations send Envoy's VHDS stream there.
  std::string xds_cluster = "tern_xds";
};

Translation Translate(const model::World& world, const Options& options = {});

// What one incremental step re-translated (names whose messages are new objects or gone).
struct TranslationChanges {
  bool everything = false;           // rebuilt from scratch
  std::set<std::string> clusters;    // cluster or endpoints message changed, or the cluster removed
  std::set<std::string> secrets;
  std::set<std::string> gateways;    // GatewayResources changed, or the gateway removed
  std::set<std::string> services;    // a proxyless service's listener and route changed, or removed
  size_t messages = 0;               // messages built in this step (for tests and metrics)
};

// The translation kept up to date from change sets. Each resource is translated from exactly the
// model elements it reads: endpoints ← the cluster's instances; cluster ← the cluster's settings;
// a gateway's listeners and routes ← the gateway, the world's defaults and the existence and TLS
// secret names of the clusters it names; a gateway's cluster variants ← the gateway's upstream
// policies and the settings (not the endpoints) of the clusters they vary; a proxyless service's listener and route ← its routes
// and the existence of the clusters they name; secret ← the secret. A step re-translates what the
// change set names plus what reads it (model::DependencyIndex) and nothing else; unchanged
// resources keep the very same message objects, so later stages skip them by pointer. The state
// equals a from-scratch Translate() of the same world (tested). Not thread-safe: one owner.
class IncrementalTranslator {
 public:
  explicit IncrementalTranslator(Options options = {}) : options_(std::move(options)) {}

  // `changes` names every element that differs from the world of the previous call (use
  // ChangeSet::Everything() the first time and whenever unsure); `index` is up to date with `world`.
  TranslationChanges Update(const model::World& world, const model::ChangeSet& changes,
                            const model::DependencyIndex& index);
  // Everything, as one Translation (render, validate, tests).
  Translation Translate(const model::World& world);
  void Reset();

  struct ClusterEntry {
    model::Cluster settings;  // the model without its endpoints: decides whether to rebuild `cluster`
    MessagePtr cluster;
    MessagePtr endpoints;
  };
  const std::map<std::string, ClusterEntry>& clusters() const { return clusters_; }
  const std::map<std::string, MessagePtr>& secrets() const { return secrets_; }
  const std::map<std::string, GatewayResources>& gateways() const { return gateways_; }
  // Per proxyless service: its API listener, its route configuration and their dependencies.
  const std::map<std::string, GatewayResources>& services() const { return services_; }
  // Every service's pieces as the mesh's GatewayResources (O(world): full builds only).
  GatewayResources Mesh() const;
  // The current state as one Translation (O(world): tests and tools).
  Translation Current() const;

 private:
  Options options_;
  std::map<std::string, ClusterEntry> clusters_;
  std::map<std::string, MessagePtr> secrets_;
  std::map<std::string, GatewayResources> gateways_;
  std::map<std::string, GatewayResources> services_;

  // A gateway's variant of a cluster and the settings it was built from (reused when equal).
  struct VariantEntry {
    model::Cluster settings;
    MessagePtr message;
  };
  // Builds gateway `name`'s cluster variants into `out`, reusing unchanged ones; returns how
  // many messages it built.
  size_t TranslateVariants(const model::World& world, const std::string& name, const model::Gateway& gw,
                           GatewayResources* out);
  void ForgetVariants(const std::string& gateway);
  std::map<std::string, std::map<std::string, VariantEntry>> variants_;  // by gateway, then cluster
  std::map<std::string, std::set<std::string>> variant_readers_;        // cluster → gateways varying it

 public:
  // An on-demand virtual host and what its message was built from: the host (its origins do not
  // reach the message and are ignored), the domains it kept and which of the clusters its routes
  // name existed. A gateway translated again reuses the message of every host whose inputs are equal,
  // so that one changed host of thousands is one new message (and one serialization).
  struct HostEntry {
    model::VirtualHost host;
    std::vector<std::string> domains;
    std::vector<std::pair<std::string, bool>> clusters;
    MessagePtr message;
    std::set<std::string> used;
  };
  using HostCache = std::map<std::string, HostEntry>;  // by resource name "<route config>/<host>"

 private:
  std::map<std::string, HostCache> hosts_;  // by gateway
};

}  // namespace tern::translate
