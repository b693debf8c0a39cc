#pragma once
// Pure decoders for the Consul HTTP API answers tern reads: JSON text in, plain structs out.
// No I/O. Errors name the endpoint and the JSON path of the offending value
// ("/v1/health/service/web: [2].Service.Port: expected a number"). Fields tern does not use are
// ignored, so answers from newer Consul versions (which add fields) still decode.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/model.h"

namespace tern::sources::consul {

// /v1/catalog/services: service name → tags.
using ServiceList = std::map<std::string, std::vector<std::string>>;
absl::StatusOr<ServiceList> DecodeCatalogServices(const std::string& json, const std::string& endpoint);

// /v1/health/state/any: every check of the datacenter, reduced to what tells that a service's
// health answer may have changed: a fingerprint of each service's checks (node, check, service
// instance, status, tags, modify index), and of each node's own checks (serfHealth, node
// maintenance), which change the health of every instance on that node.
struct CheckFingerprints {
  std::map<std::string, uint64_t> services;  // by ServiceName
  std::map<std::string, uint64_t> nodes;     // by Node, checks with no ServiceName
  bool operator==(const CheckFingerprints&) const = default;
};
absl::StatusOr<CheckFingerprints> DecodeHealthState(const std::string& json, const std::string& endpoint);

// One entry of /v1/health/service/:name.
struct Instance {
  std::string id;       // Service.ID
  std::string service;  // Service.Service
  std::string node;     // Node.Node
  std::string address;  // Service.Address, or Node.Address when empty
  uint32_t port = 0;
  std::vector<std::string> tags;
  std::map<std::string, std::string> meta;
  uint32_t weight_passing = 1;  // Service.Weights (Consul's defaults: 1 and 1)
  uint32_t weight_warning = 1;
  model::Health health = model::Health::kPassing;  // worst check; maintenance wins
  bool operator==(const Instance&) const = default;
};
absl::StatusOr<std::vector<Instance>> DecodeHealthService(const std::string& json, const std::string& endpoint);

// The model endpoint for an instance, or nullopt when it must not receive traffic (critical,
// maintenance, or warning with Weights.Warning = 0).
std::optional<model::Endpoint> ToEndpoint(const Instance& instance);

// /v1/discovery-chain/:service — Consul's own compilation of router, splitter and resolver.
struct ChainTarget {
  std::string id;  // "v1.web.default.dc1"
  std::string service;
  std::string subset;
  std::string datacenter;
  // Consul Enterprise (1.7+ namespaces, 1.11+ admin partitions); "" or "default" in Consul OSS.
  std::string ns;         // Namespace
  std::string partition;  // Partition
  std::string filter;  // Subset.Filter ("" = every instance)
  bool only_passing = false;
  bool operator==(const ChainTarget&) const = default;
};

struct ChainDestination {
  std::optional<std::string> prefix_rewrite;
  std::optional<std::chrono::milliseconds> request_timeout;
  std::optional<std::chrono::milliseconds> idle_timeout;  // Consul 1.15+
  uint32_t num_retries = 0;
  bool retry_on_connect_failure = false;
  std::vector<std::string> retry_on;  // Consul 1.15+; each an Envoy retry condition
  std::vector<uint32_t> retry_on_status_codes;
  model::HeaderRules request_headers;   // Consul 1.9+
  model::HeaderRules response_headers;
  bool operator==(const ChainDestination&) const = default;
};

struct ChainRoute {
  model::RouteMatch match;
  ChainDestination destination;
  std::string next_node;
  bool operator==(const ChainRoute&) const = default;
};

struct ChainSplit {
  double weight = 0;  // percent, may have decimals
  std::string next_node;
  bool operator==(const ChainSplit&) const = default;
};

struct ChainNode {
  std::string type;  // "router" | "splitter" | "resolver"
  std::string name;
  std::vector<ChainRoute> routes;  // router
  std::vector<ChainSplit> splits;  // splitter
  // resolver
  std::string target;
  std::optional<std::chrono::milliseconds> connect_timeout;
  // Resolver.RequestTimeout (Consul 1.16+): the timeout of requests routed to this resolver whose
  // router route sets none. Unset when 0.
  std::optional<std::chrono::milliseconds> request_timeout;
  std::vector<std::string> failover_targets;
  std::optional<model::LbPolicy> lb_policy;
  bool operator==(const ChainNode&) const = default;
};

struct DiscoveryChain {
  std::string service;
  std::string datacenter;
  std::string ns;         // Namespace (Enterprise; "" or "default" otherwise)
  std::string partition;  // Partition (Enterprise 1.11+)
  std::string protocol;
  std::string start_node;
  std::map<std::string, ChainNode> nodes;
  std::map<std::string, ChainTarget> targets;
  bool operator==(const DiscoveryChain&) const = default;
};
// Also checks that the chain is closed: the start node and every NextNode exist, every resolver's
// target and failover targets are in Targets.
absl::StatusOr<DiscoveryChain> DecodeDiscoveryChain(const std::string& json, const std::string& endpoint);

// Consul's limits on a proxy's traffic to one upstream (docs/consul.md "Circuit breakers and
// passive health checks"): the ingress-gateway entry's Defaults and per-service fields, and the
// Limits / PassiveHealthCheck / ConnectTimeoutMs of a service-defaults UpstreamConfig. Unset
// fields are absent here; which zero values count as unset is the decoder's business.
struct PassiveHealthCheck {
  std::optional<std::chrono::milliseconds> interval;        // Interval (Go duration)
  std::optional<uint32_t> max_failures;                     // MaxFailures
  std::optional<uint32_t> enforcing_consecutive_5xx;        // EnforcingConsecutive5xx (percent)
  std::optional<uint32_t> max_ejection_percent;             // MaxEjectionPercent
  std::optional<std::chrono::milliseconds> base_ejection_time;  // BaseEjectionTime (Go duration)
  bool operator==(const PassiveHealthCheck&) const = default;
};
struct UpstreamSettings {
  std::optional<uint32_t> max_connections;          // MaxConnections
  std::optional<uint32_t> max_pending_requests;     // MaxPendingRequests
  std::optional<uint32_t> max_concurrent_requests;  // MaxConcurrentRequests
  std::optional<PassiveHealthCheck> passive_health_check;
  std::optional<std::chrono::milliseconds> connect_timeout;  // UpstreamConfig ConnectTimeoutMs only
  std::string origin;  // "ingress-gateway/edge Defaults", "service-defaults/edge UpstreamConfig.Overrides[0]"
  bool empty() const {
    return !max_connections && !max_pending_requests && !max_concurrent_requests && !passive_health_check &&
           !connect_timeout;
  }
  bool operator==(const UpstreamSettings&) const = default;
};

// /v1/config/:kind lists. Each decoder returns the entries that decoded; an entry that did not
// adds a Problem whose origin is "<kind>/<name>" (so it affects only its own service) and is left
// out. A document that is not a list at all is an error.
struct IngressService {
  std::string name;
  std::vector<std::string> hosts;
  model::HeaderRules request_headers;   // Consul 1.9+
  model::HeaderRules response_headers;
  UpstreamSettings limits;  // Consul 1.11+: MaxConnections, ..., PassiveHealthCheck of the service
  bool operator==(const IngressService&) const = default;
};
struct IngressListener {
  uint32_t port = 0;
  std::string protocol = "tcp";
  std::vector<IngressService> services;
  bool operator==(const IngressListener&) const = default;
};
// tern's rate limits for a Consul-defined gateway, from the entry's Meta (docs/consul.md):
//   tern.rate_limit                   = "<rps>[:<burst>]"  every HTTP listener of the gateway
//   tern.rate_limit.port.<port>       = "<rps>[:<burst>]"  that listener
//   tern.rate_limit.service.<service> = "<rps>[:<burst>]"  that exposed service (its virtual host)
struct IngressRateLimits {
  std::optional<model::RateLimit> gateway;
  std::map<uint32_t, model::RateLimit> ports;
  std::map<std::string, model::RateLimit> services;
  bool operator==(const IngressRateLimits&) const = default;
};
struct IngressGateway {
  std::string name;
  std::vector<IngressListener> listeners;
  IngressRateLimits rate_limits;
  // Meta "tern.vhds" = auto | inline | on_demand (docs/consul.md).
  model::VhdsMode vhds = model::VhdsMode::kAuto;
  bool tls_enabled = false;  // TLS.Enabled: every listener terminates TLS with the Connect CA's leaf
  UpstreamSettings defaults;  // Consul 1.11+: Defaults (every exposed service)
  bool operator==(const IngressGateway&) const = default;
};
absl::StatusOr<std::vector<IngressGateway>> DecodeIngressGateways(const std::string& json,
                                                                  const std::string& endpoint,
                                                                  std::vector<model::Problem>* problems);

struct ServiceDefaults {
  std::string name;
  std::string protocol;  // "" = Consul's default (tcp)
  // UpstreamConfig (Consul 1.10+): this service as a caller, for its traffic to its upstreams.
  // tern reads it only for ingress gateways (the entry named like the gateway).
  UpstreamSettings upstream_defaults;                         // UpstreamConfig.Defaults
  std::map<std::string, UpstreamSettings> upstream_overrides;  // UpstreamConfig.Overrides, by Name
  bool operator==(const ServiceDefaults&) const = default;
};
absl::StatusOr<std::vector<ServiceDefaults>> DecodeServiceDefaults(const std::string& json,
                                                                   const std::string& endpoint,
                                                                   std::vector<model::Problem>* problems);

// service-router, service-splitter, service-resolver lists: tern follows the compiled discovery
// chain, so from these it needs only which services have a well-formed entry. Returns the names
// of the entries that are well formed; the others become problems ("service-router/web: ...").
absl::StatusOr<std::vector<std::string>> DecodeChainEntries(const std::string& kind, const std::string& json,
                                                            const std::string& endpoint,
                                                            std::vector<model::Problem>* problems);

// "5s", "1m30s", "250ms", "1.5s" (Go durations) or a number of nanoseconds.
std::optional<std::chrono::milliseconds> ParseGoDuration(const std::string& text);

}  // namespace tern::sources::consul
