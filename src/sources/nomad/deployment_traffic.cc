#include "sources/nomad/deployment_traffic.h"

#include <algorithm>
#include <set>

#include "sources/nomad/decoders.h"

namespace tern::sources::nomad {
namespace {

const JobGroup* FindGroup(const Job& job, const std::string& name) {
  for (const auto& g : job.groups) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

// Group meta, then job meta, then the default; a bad value is reported and skipped.
uint32_t CanaryWeight(const Job& job, const std::string& group, const TrafficOptions& options,
                      std::vector<model::Problem>* problems) {
  const std::string job_origin = "nomad job " + job.id + " (" + job.namespace_name + ")";
  auto from = [&](const std::map<std::string, std::string>& meta, const std::string& origin) -> std::optional<uint32_t> {
    auto it = meta.find(kCanaryWeightJobMeta);
    if (it == meta.end()) return std::nullopt;
    if (auto w = tags::ParseCanaryPercent(it->second)) return w;
    problems->push_back({origin + " meta " + kCanaryWeightJobMeta,
                         "'" + it->second + "' is not a whole percent in 0..100; ignored"});
    return std::nullopt;
  };
  if (const JobGroup* g = FindGroup(job, group)) {
    if (auto w = from(g->meta, job_origin + " group " + group)) return *w;
  }
  if (auto w = from(job.meta, job_origin)) return *w;
  return options.default_canary_weight;
}

std::optional<std::string> CheckVeto(const std::vector<CheckResult>& checks) {
  for (const auto& c : checks) {
    const std::string name = c.check.empty() ? c.id : c.check;
    const std::string mode = c.mode == CheckMode::kReadiness ? "readiness" : "healthiness";
    if (c.status == CheckStatus::kFailure) return "Nomad " + mode + " check '" + name + "' failing";
    if (c.status == CheckStatus::kPending) return "Nomad " + mode + " check '" + name + "' pending";
  }
  return std::nullopt;
}

std::string Phase(const JobDeploymentView& view) {
  if (!view.deployment) return "none";
  const Deployment& d = *view.deployment;
  if (d.status == DeploymentStatus::kSuccessful || d.status == DeploymentStatus::kFailed ||
      d.status == DeploymentStatus::kCancelled) {
    return std::string(DeploymentStatusName(d.status));
  }
  bool waiting = false, blue_green = false, promoted = false;
  for (const auto& [name, g] : d.task_groups) {
    if (g.desired_canaries == 0) continue;
    if (g.promoted) {
      promoted = true;
      continue;
    }
    waiting = true;
    const JobGroup* jg = FindGroup(view.job, name);
    const uint32_t count = jg ? jg->count : g.desired_total;
    if (count > 0 && g.desired_canaries >= count) blue_green = true;
  }
  if (waiting) return blue_green ? "blue-green" : "canary";
  if (promoted) return "promoted";
  return d.status_text.empty() ? std::string(DeploymentStatusName(d.status)) : d.status_text;
}

}  // namespace

std::string_view TrafficRoleName(TrafficRole r) {
  switch (r) {
    case TrafficRole::kStable: return "stable";
    case TrafficRole::kCanary: return "canary";
    case TrafficRole::kExcluded: return "excluded";
  }
  return "stable";
}

JobTraffic PlanJobTraffic(const JobDeploymentView& view, const TrafficOptions& options,
                          std::vector<model::Problem>* problems) {
  JobTraffic out;
  out.job_id = view.job.id;
  out.namespace_name = view.job.namespace_name.empty() ? kDefaultNamespace : view.job.namespace_name;
  out.phase = Phase(view);
  const Deployment* dep = view.deployment ? &*view.deployment : nullptr;
  std::set<std::string> placed;  // canaries the deployment lists
  if (dep) {
    out.deployment_id = dep->id;
    out.status = dep->status;
    std::set<std::string> known;
    for (const auto& a : view.allocations) known.insert(a.id);
    for (const auto& [name, g] : dep->task_groups) {
      for (const auto& id : g.placed_canaries) {
        placed.insert(id);
        if (!known.contains(id)) {
          problems->push_back({"nomad job " + out.job_id + " (" + out.namespace_name + ") deployment " + dep->id +
                                   " group " + name,
                               "PlacedCanaries names allocation " + id + ", which the job does not have; ignored"});
        }
      }
    }
  }
  std::map<std::string, uint32_t> weights;  // by group, computed once (one problem per bad meta)
  for (const auto& a : view.allocations) {
    AllocTraffic t;
    const bool canary_flag = a.deployment_status && a.deployment_status->canary;
    const bool latest = dep && a.deployment_id == dep->id;
    const bool canary = latest && (canary_flag || placed.contains(a.id));
    auto checks = view.checks.find(a.id);
    std::optional<std::string> veto = checks == view.checks.end() ? std::nullopt : CheckVeto(checks->second);
    if (!a.desired_status.empty() && a.desired_status != "run") {
      t = {TrafficRole::kExcluded, "allocation desired status " + a.desired_status};
    } else if (a.client_status == "complete" || a.client_status == "failed" || a.client_status == "lost") {
      t = {TrafficRole::kExcluded, "allocation client status " + a.client_status};
    } else if (veto) {
      t = {TrafficRole::kExcluded, *veto};
    } else if (!canary) {
      t = {TrafficRole::kStable, dep ? "not a canary of deployment " + dep->id : "no deployment"};
    } else {
      auto g = dep->task_groups.find(a.task_group);
      const bool promoted = g != dep->task_groups.end() && g->second.promoted;
      // Healthy: true, false, or null (not decided yet); a missing DeploymentStatus is null.
      const bool healthy = a.deployment_status && a.deployment_status->healthy.value_or(false);
      const bool unhealthy = a.deployment_status && !a.deployment_status->healthy.value_or(true);
      if (dep->status == DeploymentStatus::kSuccessful) {
        t = {TrafficRole::kStable, "canary of successful deployment " + dep->id};
      } else if (promoted) {
        t = {TrafficRole::kStable, "canary promoted in deployment " + dep->id};
      } else if (dep->status == DeploymentStatus::kFailed || dep->status == DeploymentStatus::kCancelled) {
        t = {TrafficRole::kExcluded, "canary of " + std::string(DeploymentStatusName(dep->status)) + " deployment " + dep->id};
      } else if (!healthy) {
        t = {TrafficRole::kExcluded, unhealthy ? "canary unhealthy" : "canary not healthy yet"};
      } else {
        if (!weights.contains(a.task_group)) weights[a.task_group] = CanaryWeight(view.job, a.task_group, options, problems);
        t = {TrafficRole::kCanary, "healthy canary of " + std::string(DeploymentStatusName(dep->status)) +
                                       " deployment " + dep->id, weights[a.task_group]};
      }
    }
    out.allocations[a.id] = std::move(t);
  }
  return out;
}

std::string DescribeJobTraffic(const JobTraffic& t) {
  size_t canary = 0, stable = 0, excluded = 0;
  uint32_t weight = 0;
  for (const auto& [id, a] : t.allocations) {
    if (a.role == TrafficRole::kCanary) {
      if (canary++ == 0) weight = a.canary_weight;
    } else if (a.role == TrafficRole::kStable) {
      ++stable;
    } else {
      ++excluded;
    }
  }
  std::string s = "job " + t.job_id + " (" + t.namespace_name + ") ";
  s += t.deployment_id.empty() ? "no deployment"
                               : "deployment " + t.deployment_id + " " + std::string(DeploymentStatusName(t.status));
  s += ", phase " + t.phase + ": ";
  if (canary > 0) s += std::to_string(canary) + " canary at " + std::to_string(weight) + "%, ";
  s += std::to_string(stable) + " stable, " + std::to_string(excluded) + " excluded";
  return s;
}

std::map<std::string, AllocTraffic> AllocTrafficIndex(const std::vector<JobTraffic>& jobs) {
  std::map<std::string, AllocTraffic> out;
  for (const auto& j : jobs) {
    for (const auto& [id, a] : j.allocations) out[id] = a;
  }
  return out;
}

ServiceTraffic ApplyTraffic(const model::Cluster& base, const std::map<std::string, AllocTraffic>& by_alloc,
                            const std::string& origin) {
  ServiceTraffic out;
  out.cluster = base;
  out.cluster.endpoints.clear();
  std::vector<model::Endpoint> canary, stable;
  std::optional<uint32_t> weight;
  for (const auto& ep : base.endpoints) {
    auto alloc = ep.metadata.find("alloc_id");
    const AllocTraffic* t = nullptr;
    if (alloc != ep.metadata.end()) {
      auto it = by_alloc.find(alloc->second);
      if (it != by_alloc.end()) t = &it->second;
    }
    if (t && t->role == TrafficRole::kExcluded) continue;
    out.cluster.endpoints.push_back(ep);
    if (t && t->role == TrafficRole::kCanary) {
      if (!weight) weight = t->canary_weight;
      canary.push_back(ep);
    } else {
      stable.push_back(ep);
    }
  }
  if (!canary.empty() && !stable.empty()) {
    out.split = tags::SplitRouting(base, std::move(canary), std::move(stable), *weight, origin,
                                   origin + " canary allocations of a running deployment",
                                   origin + " stable allocations");
  }
  return out;
}

}  // namespace tern::sources::nomad
