#pragma once
#include <array>
#include <string_view>

namespace tern {

// xDS resource type URLs tern serves.
inline constexpr std::string_view kListenerType = "type.googleapis.com/envoy.config.listener.v3.Listener";
inline constexpr std::string_view kRouteType = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
inline constexpr std::string_view kVirtualHostType = "type.googleapis.com/envoy.config.route.v3.VirtualHost";
inline constexpr std::string_view kClusterType = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
inline constexpr std::string_view kEndpointType = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
inline constexpr std::string_view kSecretType = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

// Index of a type in per-type arrays. ADS sends in this order: CDS, EDS, LDS, RDS, SDS, VHDS
// (clusters before their endpoints, listeners before their routes).
enum class ResourceType { kCluster = 0, kEndpoint, kListener, kRoute, kSecret, kVirtualHost };
inline constexpr size_t kNumResourceTypes = 6;
inline constexpr std::array<ResourceType, kNumResourceTypes> kAdsOrder = {
    ResourceType::kCluster, ResourceType::kEndpoint, ResourceType::kListener,
    ResourceType::kRoute,   ResourceType::kSecret,   ResourceType::kVirtualHost};

constexpr std::string_view TypeUrl(ResourceType t) {
  switch (t) {
    case ResourceType::kCluster: return kClusterType;
    case ResourceType::kEndpoint: return kEndpointType;
    case ResourceType::kListener: return kListenerType;
    case ResourceType::kRoute: return kRouteType;
    case ResourceType::kSecret: return kSecretType;
    case ResourceType::kVirtualHost: return kVirtualHostType;
  }
  return "";
}

// Short name used in metrics, debug output and the CLI: listener, route, cluster, ...
constexpr std::string_view ShortName(ResourceType t) {
  switch (t) {
    case ResourceType::kCluster: return "cluster";
    case ResourceType::kEndpoint: return "endpoint";
    case ResourceType::kListener: return "listener";
    case ResourceType::kRoute: return "route";
    case ResourceType::kSecret: return "secret";
    case ResourceType::kVirtualHost: return "virtual_host";
  }
  return "";
}

inline bool ParseTypeUrl(std::string_view url, ResourceType* out) {
  for (ResourceType t : kAdsOrder) {
    if (TypeUrl(t) == url) { *out = t; return true; }
  }
  return false;
}

inline bool ParseShortName(std::string_view name, ResourceType* out) {
  for (ResourceType t : kAdsOrder) {
    if (ShortName(t) == name) { *out = t; return true; }
  }
  return false;
}

}  // namespace tern
