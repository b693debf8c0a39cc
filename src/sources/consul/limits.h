#pragma once
// Consul's circuit breakers and passive health checks for ingress gateways (docs/consul.md
// "Circuit breakers and passive health checks"): what each ingress gateway applies to its own
// traffic to the services it exposes, as model::Gateway::upstreams (per-gateway cluster variants).
//
// For each exposed service, the most specific layer that sets a field wins:
//   1. the listener's service entry (Listeners[].Services[]: MaxConnections, ..., PassiveHealthCheck)
//   2. the ingress-gateway entry's Defaults
//   3. the gateway's own service-defaults UpstreamConfig, as Consul resolves it for the service:
//      its Overrides entry named like the service merged into its Defaults block by block (the
//      override's Limits, PassiveHealthCheck, ConnectTimeoutMs each replace the Defaults' whole)
//   4. the cluster's own settings (tern's files), then Envoy's defaults.
// Across layers 1-3 limits go field by field; a PassiveHealthCheck is taken whole from the first
// layer that has one (its unset fields are Envoy's defaults); ConnectTimeoutMs comes from layer 3.
// A service's own service-defaults UpstreamConfig describes it as a caller: it never applies to
// traffic sent to it.
#include <map>
#include <string>
#include <vector>

#include "model/model.h"
#include "sources/consul/decoders.h"

namespace tern::sources::consul {

// The layers of one exposed service, most specific first, as one model policy.
model::UpstreamPolicy MergeUpstreamSettings(const std::vector<const UpstreamSettings*>& layers);

// Fills `upstreams` of every gateway of `world` that an ingress-gateway entry of `ingress` made,
// from the entry and the gateway's own service-defaults entry (`defaults`, by service). A cluster
// reached through two exposed services with different settings keeps the first listener's (in
// the entry's order) and adds a problem naming both.
void ApplyIngressLimits(const std::vector<IngressGateway>& ingress, const std::map<std::string, ServiceDefaults>& defaults,
                        model::World* world, std::vector<model::Problem>* problems);

}  // namespace tern::sources::consul
