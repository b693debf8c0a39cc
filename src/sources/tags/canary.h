#pragma once
// Nomad canaries from instance tags. Pure: a Consul or Nomad source hands in one service's
// passing endpoints and the cluster its traffic goes to today.
//
// Nomad registers the allocations of a canary deployment with the job's `canary_tags` and, on
// promotion, re-registers them with the normal tags. So: while some (not all) passing instances
// of a service carry the canary tag, the service gets two clusters, `<svc>-canary` (the tagged
// instances) and `<svc>-stable` (the others), with the base cluster's settings, and two routes:
//   1. header `x-canary: true` → `<svc>-canary` only (to try the canary on purpose);
//   2. everything else → split weight / 100 - weight between `<svc>-canary` and `<svc>-stable`.
// The weight is the service metadata `tern-canary-weight` (0..100; read from the canary
// instances first, then the others) or the configured default. With no tagged instance (promoted,
// or no deployment) or only tagged ones, Canary returns nothing and the service's own routing
// applies: all traffic to the one set.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/model.h"

namespace tern::sources::tags {

inline constexpr char kCanaryWeightMeta[] = "tern-canary-weight";
inline constexpr char kCanaryHeader[] = "x-canary";

struct CanaryOptions {
  std::string tag;          // "" = canaries off
  uint32_t weight = 10;     // percent of traffic to the canary set
};

struct CanaryRouting {
  model::Cluster canary;
  model::Cluster stable;
  std::vector<model::Route> routes;  // header route first, then the split
  uint32_t weight = 0;               // the percent used
};

// `base` is the service's cluster (its settings and all its passing endpoints); `origin` names
// the service in problems (e.g. "consul service greeter"). A bad `tern-canary-weight` is a
// problem and the default weight is used.
std::optional<CanaryRouting> Canary(const model::Cluster& base, const CanaryOptions& options, const std::string& origin,
                                    std::vector<model::Problem>* problems);

// "0".."100" → the percent; anything else (signs, spaces, fractions, above 100) → nullopt.
std::optional<uint32_t> ParseCanaryPercent(const std::string& text);

// The shape above for given endpoint sets and weight: `<svc>-canary` with `canary`, `<svc>-stable`
// with `stable` (both with the base cluster's settings), the header route and the split. Also
// used by the Nomad deployment-aware source (sources/nomad/deployment_traffic.h), so both ways of
// making a canary give a translator the same clusters and routes.
CanaryRouting SplitRouting(const model::Cluster& base, std::vector<model::Endpoint> canary,
                           std::vector<model::Endpoint> stable, uint32_t weight, const std::string& origin,
                           const std::string& canary_origin, const std::string& stable_origin);

}  // namespace tern::sources::tags
