#pragma once
// The `proxy-defaults` config entry (named "global"): the settings Consul users give every Envoy
// of the mesh, read as tern-wide gateway defaults (docs/consul.md, "proxy-defaults"):
//   Config.envoy_tracing_json               → tracing (Zipkin or OpenTelemetry providers)
//   Config.envoy_extra_static_clusters_json → clusters (the collectors those tracers name)
//   AccessLogs (Consul 1.15+)               → access logs
// Pure: JSON text in, model values out. A malformed global entry is one Problem naming
// "proxy-defaults/global" and the field, and decodes to nothing (the caller keeps the last good).
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/model.h"

namespace tern::sources::consul {

struct ProxyDefaults {
  model::GatewayDefaults defaults;
  std::vector<model::Cluster> clusters;  // from envoy_extra_static_clusters_json
  bool operator==(const ProxyDefaults&) const = default;
};

// /v1/config/proxy-defaults. nullopt when there is no (good) "global" entry.
absl::StatusOr<std::optional<ProxyDefaults>> DecodeProxyDefaults(const std::string& json, const std::string& endpoint,
                                                                 std::vector<model::Problem>* problems);

}  // namespace tern::sources::consul
