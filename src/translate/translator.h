#pragma once
// model::World → Envoy resources. Pure and deterministic: no clock, no I/O, same input → same
// bytes. The translator knows Envoy's API but nothing of gRPC, the cache or Consul.
//
// Naming (stable: tests, bootstrap and users depend on it):
//   cluster / ClusterLoadAssignment  = model cluster name
//   gateway listener                 = model listener name; its RouteConfiguration has the same name
//   proxyless API listener           = service name (what a gRPC client puts in xds:///NAME);
//                                      its RouteConfiguration is named "svc/<service>"
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "common/type_urls.h"
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

struct GatewayResources {
  std::vector<NamedMessage> listeners;
  std::vector<NamedMessage> routes;
  std::vector<std::string> clusters;  // names of the clusters its routes use (sorted, unique)
  // Names of the secrets it uses (sorted, unique): its listeners' certificates and client CAs and
  // the upstream TLS secrets of its clusters. Secrets go only to the gateways that use them.
  std::vector<std::string> secrets;
  std::vector<Dependency> dependencies;
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
};

Translation Translate(const model::World& world, const Options& options = {});

// The same translation, reusing the messages of whatever did not change since the previous call
// (clusters and endpoint sets whose model is equal; gateways and per-service routes whose model
// is equal while the set of cluster names and their TLS settings are unchanged). The output is
// identical to Translate(); unchanged resources are the very same message objects, so later
// stages can skip them by pointer. Not thread-safe: one owner.
class IncrementalTranslator {
 public:
  explicit IncrementalTranslator(Options options = {}) : options_(std::move(options)) {}
  Translation Translate(const model::World& world);

 private:
  struct ClusterEntry {
    model::Cluster model;
    MessagePtr cluster;
    MessagePtr endpoints;
  };
  struct GatewayEntry {
    model::Gateway model;
    GatewayResources out;
  };
  struct ServiceEntry {
    std::optional<model::ServiceRoutes> routes;
    GatewayResources out;  // one API listener, one route configuration, their dependencies
  };
  Options options_;
  std::map<std::string, ClusterEntry> clusters_;
  std::map<std::string, GatewayEntry> gateways_;
  std::map<std::string, ServiceEntry> services_;
  std::string shape_;  // cluster names and TLS settings the gateway and service entries were built for
};

}  // namespace tern::translate
