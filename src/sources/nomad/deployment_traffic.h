#pragma once
// Deployment-aware traffic for Nomad services: from what Nomad says about a job (its latest
// deployment, its allocations' DeploymentStatus, Nomad's own check results per allocation, the
// job's and groups' meta), the part each allocation's registrations get. Pure: no I/O, no clock.
//
// Per allocation, first match wins:
//   1. DesiredStatus other than "run" (Nomad is stopping it: an old version after promotion, a
//      canary after failure) or ClientStatus complete/failed/lost          → excluded
//   2. a Nomad check of the allocation failing, or still pending           → excluded
//      (checks not read for the allocation: nothing known, nothing excluded; the caller keeps
//      the last known results when a read fails, and says so)
//   3. a canary (DeploymentStatus.Canary, or listed in the group's PlacedCanaries) of the job's
//      latest deployment:
//        deployment successful, or its group promoted                      → stable (equal share)
//        deployment failed or cancelled (auto-revert included)             → excluded
//        otherwise (running, paused, pending, ...), Healthy not true       → excluded
//        otherwise                                                         → canary
//   4. anything else (no deployment, a canary of an older deployment, a
//      non-canary allocation)                                              → stable
// Blue/green (canary = count) is the same table: the new allocations are all canaries and get the
// canary share next to the old ones until promotion; then Nomad stops the old (rule 1).
//
// The canary share is the percent in the group's `meta { tern.canary_weight = "N" }`, else the
// job's, else TrafficOptions::default_canary_weight; a value that is not 0..100 is a problem and
// the next one applies.
//
// ApplyTraffic then shapes one service's cluster as sources/tags/canary.h does for tags:
// `<svc>-canary` and `<svc>-stable` clusters and a header route plus a weighted split, when both
// sets have endpoints; the translator needs nothing new.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/model.h"
#include "sources/nomad/deployments.h"
#include "sources/tags/canary.h"

namespace tern::sources::nomad {

enum class TrafficRole { kStable, kCanary, kExcluded };
std::string_view TrafficRoleName(TrafficRole r);

// What tern knows of one job.
struct JobDeploymentView {
  Job job;                                  // id, namespace, meta; empty meta when not read
  std::optional<Deployment> deployment;     // the latest; nullopt = the job has none
  std::vector<Allocation> allocations;      // the job's allocations
  std::map<std::string, std::vector<CheckResult>> checks;  // by allocation ID; absent = not read
};

struct AllocTraffic {
  TrafficRole role = TrafficRole::kStable;
  std::string reason;          // why, for /debug/sources and audit ("canary not healthy yet")
  uint32_t canary_weight = 0;  // the percent for the canary set (kCanary only)
  bool operator==(const AllocTraffic&) const = default;
};

struct JobTraffic {
  std::string job_id;
  std::string namespace_name;
  std::string deployment_id;  // "" = no deployment
  DeploymentStatus status = DeploymentStatus::kUnknown;
  // "none", "canary", "blue-green", "promoted", or the deployment status (successful, failed,
  // cancelled, paused, ...) when no group waits for promotion.
  std::string phase;
  std::map<std::string, AllocTraffic> allocations;  // by allocation ID
  bool operator==(const JobTraffic&) const = default;
};

struct TrafficOptions {
  uint32_t default_canary_weight = 10;
};

// `problems`: a bad tern.canary_weight; a deployment naming allocations that do not exist.
JobTraffic PlanJobTraffic(const JobDeploymentView& view, const TrafficOptions& options,
                          std::vector<model::Problem>* problems);

// One line for audit records and /debug/sources:
// "job web (default) deployment 70638f62 running, phase canary: 1 canary at 10%, 3 stable, 1 excluded".
std::string DescribeJobTraffic(const JobTraffic& t);

// Every job's allocations in one index (allocation IDs are unique across jobs).
std::map<std::string, AllocTraffic> AllocTrafficIndex(const std::vector<JobTraffic>& jobs);

struct ServiceTraffic {
  model::Cluster cluster;                   // `base` without its excluded endpoints
  std::optional<tags::CanaryRouting> split;  // when canary and stable endpoints both exist
};

// `base`: one service's cluster as BuildWorld makes it (endpoint metadata "alloc_id"); an
// endpoint whose allocation is not in `by_alloc` is stable. The split's weight is the first
// canary endpoint's (endpoints sorted by ID). `origin` names the service ("nomad service web").
ServiceTraffic ApplyTraffic(const model::Cluster& base, const std::map<std::string, AllocTraffic>& by_alloc,
                            const std::string& origin);

}  // namespace tern::sources::nomad
