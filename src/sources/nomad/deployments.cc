#include "sources/nomad/deployments.h"

#include <algorithm>

#include "sources/nomad/decoders.h"
#include "sources/nomad/json_reader.h"

namespace tern::sources::nomad {
namespace {

using internal::Bad;
using internal::Field;
using internal::Index;
using internal::Join;
using internal::json;
using internal::Reader;

constexpr std::pair<DeploymentStatus, std::string_view> kStatusNames[] = {
    {DeploymentStatus::kRunning, "running"},       {DeploymentStatus::kSuccessful, "successful"},
    {DeploymentStatus::kFailed, "failed"},         {DeploymentStatus::kCancelled, "cancelled"},
    {DeploymentStatus::kPaused, "paused"},         {DeploymentStatus::kPending, "pending"},
    {DeploymentStatus::kBlocked, "blocked"},       {DeploymentStatus::kUnblocking, "unblocking"},
    {DeploymentStatus::kInitializing, "initializing"},
};

DeploymentStatus StatusFromText(const std::string& text) {
  for (const auto& [s, name] : kStatusNames) {
    if (name == text) return s;
  }
  return DeploymentStatus::kUnknown;
}

bool ReadGroupUpdate(Reader& r, const json& obj, const std::string& path, uint32_t* canary) {
  const json* u = Field(obj, "Update");
  if (!u) return true;
  const std::string upath = Join(path, "Update");
  return r.Object(*u, upath) && r.Uint32(*u, "Canary", upath, canary);
}

std::string Query(const std::string& namespace_name, const std::string& region) {
  std::string q;
  if (!namespace_name.empty()) q += "namespace=" + UrlEscape(namespace_name);
  if (!region.empty()) q += (q.empty() ? "" : "&") + std::string("region=") + UrlEscape(region);
  return q.empty() ? "" : "?" + q;
}

}  // namespace

namespace internal {

bool ReadDeployment(Reader& r, const json& d, const std::string& path, Deployment* out) {
  if (!r.Object(d, path)) return false;
  Deployment dep;
  dep.namespace_name = kDefaultNamespace;
  bool ok = r.RequiredString(d, "ID", path, &dep.id) && r.RequiredString(d, "JobID", path, &dep.job_id) &&
            r.String(d, "Namespace", path, &dep.namespace_name) && r.Uint64(d, "JobVersion", path, &dep.job_version) &&
            r.RequiredString(d, "Status", path, &dep.status_text) &&
            r.String(d, "StatusDescription", path, &dep.status_description) &&
            r.Uint64(d, "ModifyIndex", path, &dep.modify_index);
  if (!ok) return false;
  if (dep.namespace_name.empty()) dep.namespace_name = kDefaultNamespace;
  dep.status = StatusFromText(dep.status_text);
  if (const json* groups = Field(d, "TaskGroups")) {
    const std::string gpath = Join(path, "TaskGroups");
    if (!r.Object(*groups, gpath)) return false;
    for (auto it = groups->begin(); it != groups->end(); ++it) {
      const std::string p = Join(gpath, it.key());
      const json& g = it.value();
      DeploymentGroup dg;
      if (!r.Object(g, p)) return false;
      ok = r.Bool(g, "Promoted", p, &dg.promoted) && r.Bool(g, "AutoRevert", p, &dg.auto_revert) &&
           r.Bool(g, "AutoPromote", p, &dg.auto_promote) && r.Uint32(g, "DesiredCanaries", p, &dg.desired_canaries) &&
           r.Uint32(g, "DesiredTotal", p, &dg.desired_total) && r.Strings(g, "PlacedCanaries", p, &dg.placed_canaries) &&
           r.Uint32(g, "PlacedAllocs", p, &dg.placed_allocs) && r.Uint32(g, "HealthyAllocs", p, &dg.healthy_allocs) &&
           r.Uint32(g, "UnhealthyAllocs", p, &dg.unhealthy_allocs);
      if (!ok) return false;
      dep.task_groups[it.key()] = std::move(dg);
    }
  }
  *out = std::move(dep);
  return true;
}

bool ReadAllocation(Reader& r, const json& a, const std::string& path, Allocation* out) {
  if (!r.Object(a, path)) return false;
  Allocation al;
  al.namespace_name = kDefaultNamespace;
  bool ok = r.RequiredString(a, "ID", path, &al.id) && r.String(a, "JobID", path, &al.job_id) &&
            r.String(a, "TaskGroup", path, &al.task_group) && r.String(a, "Namespace", path, &al.namespace_name) &&
            r.String(a, "ClientStatus", path, &al.client_status) &&
            r.String(a, "DesiredStatus", path, &al.desired_status) &&
            r.String(a, "DeploymentID", path, &al.deployment_id) && r.Uint64(a, "JobVersion", path, &al.job_version) &&
            r.Uint64(a, "ModifyIndex", path, &al.modify_index);
  if (!ok) return false;
  if (al.namespace_name.empty()) al.namespace_name = kDefaultNamespace;
  if (const json* ds = Field(a, "DeploymentStatus")) {
    const std::string p = Join(path, "DeploymentStatus");
    AllocDeploymentStatus s;
    ok = r.Object(*ds, p) && r.OptionalBool(*ds, "Healthy", p, &s.healthy) && r.Bool(*ds, "Canary", p, &s.canary) &&
         r.String(*ds, "Timestamp", p, &s.timestamp) && r.Uint64(*ds, "ModifyIndex", p, &s.modify_index);
    if (!ok) return false;
    al.deployment_status = std::move(s);
  }
  *out = std::move(al);
  return true;
}

}  // namespace internal

std::string_view DeploymentStatusName(DeploymentStatus s) {
  for (const auto& [status, name] : kStatusNames) {
    if (status == s) return name;
  }
  return "unknown";
}

absl::StatusOr<Job> DecodeJob(const std::string& text, const std::string& endpoint) {
  absl::Status st;
  auto j = internal::Parse(text, endpoint, &st);
  if (!j) return st;
  Reader r{endpoint};
  if (!r.Object(*j, "")) return Bad(endpoint, "", "expected an object");
  Job job;
  job.namespace_name = kDefaultNamespace;
  uint32_t job_canary = 0;
  bool ok = r.RequiredString(*j, "ID", "", &job.id) && r.String(*j, "Namespace", "", &job.namespace_name) &&
            r.Uint64(*j, "Version", "", &job.version) && r.Uint64(*j, "ModifyIndex", "", &job.modify_index) &&
            r.StringMap(*j, "Meta", "", &job.meta) && ReadGroupUpdate(r, *j, "", &job_canary);
  if (!ok) return r.status;
  if (job.namespace_name.empty()) job.namespace_name = kDefaultNamespace;
  if (const json* groups = Field(*j, "TaskGroups")) {
    if (!groups->is_array()) return Bad(endpoint, "TaskGroups", "expected a list");
    for (size_t i = 0; i < groups->size(); ++i) {
      const std::string p = Index("TaskGroups", i);
      const json& g = (*groups)[i];
      JobGroup jg;
      jg.canary = job_canary;
      ok = r.Object(g, p) && r.RequiredString(g, "Name", p, &jg.name) && r.Uint32(g, "Count", p, &jg.count) &&
           r.StringMap(g, "Meta", p, &jg.meta) && ReadGroupUpdate(r, g, p, &jg.canary);
      if (!ok) return r.status;
      job.groups.push_back(std::move(jg));
    }
  }
  return job;
}

absl::StatusOr<std::optional<Deployment>> DecodeJobDeployment(const std::string& text, const std::string& endpoint) {
  absl::Status st;
  auto j = internal::Parse(text, endpoint, &st);
  if (!j) return st;
  if (j->is_null()) return std::optional<Deployment>();
  Reader r{endpoint};
  Deployment d;
  if (!internal::ReadDeployment(r, *j, "", &d)) return r.status;
  return std::optional<Deployment>(std::move(d));
}

absl::StatusOr<std::vector<Allocation>> DecodeAllocations(const std::string& text, const std::string& endpoint) {
  absl::Status st;
  auto j = internal::Parse(text, endpoint, &st);
  if (!j) return st;
  std::vector<Allocation> out;
  if (j->is_null()) return out;
  if (!j->is_array()) return Bad(endpoint, "", "expected a list");
  Reader r{endpoint};
  for (size_t i = 0; i < j->size(); ++i) {
    Allocation a;
    if (!internal::ReadAllocation(r, (*j)[i], Index("", i), &a)) return r.status;
    out.push_back(std::move(a));
  }
  return out;
}

absl::StatusOr<std::vector<CheckResult>> DecodeAllocationChecks(const std::string& text, const std::string& endpoint) {
  absl::Status st;
  auto j = internal::Parse(text, endpoint, &st);
  if (!j) return st;
  std::vector<CheckResult> out;
  if (j->is_null()) return out;
  if (!j->is_object()) return Bad(endpoint, "", "expected an object of check results");
  Reader r{endpoint};
  for (auto it = j->begin(); it != j->end(); ++it) {
    const std::string p = it.key();
    const json& c = it.value();
    CheckResult cr;
    std::string mode, status;
    bool ok = r.Object(c, p) && r.String(c, "ID", p, &cr.id) && r.String(c, "Check", p, &cr.check) &&
              r.String(c, "Group", p, &cr.group) && r.String(c, "Task", p, &cr.task) &&
              r.String(c, "Service", p, &cr.service) && r.RequiredString(c, "Mode", p, &mode) &&
              r.RequiredString(c, "Status", p, &status) && r.Int64(c, "StatusCode", p, &cr.status_code) &&
              r.String(c, "Output", p, &cr.output) && r.Int64(c, "Timestamp", p, &cr.timestamp);
    if (!ok) return r.status;
    if (cr.id.empty()) cr.id = it.key();
    if (mode == "healthiness") cr.mode = CheckMode::kHealthiness;
    else if (mode == "readiness") cr.mode = CheckMode::kReadiness;
    else return Bad(endpoint, Join(p, "Mode"), "expected healthiness or readiness, got '" + mode + "'");
    if (status == "success") cr.status = CheckStatus::kSuccess;
    else if (status == "failure") cr.status = CheckStatus::kFailure;
    else if (status == "pending") cr.status = CheckStatus::kPending;
    else return Bad(endpoint, Join(p, "Status"), "expected success, failure or pending, got '" + status + "'");
    out.push_back(std::move(cr));
  }
  std::sort(out.begin(), out.end(), [](const CheckResult& a, const CheckResult& b) { return a.id < b.id; });
  return out;
}

std::string JobPath(const std::string& job_id, const std::string& ns, const std::string& region) {
  return "/v1/job/" + UrlEscape(job_id) + Query(ns, region);
}
std::string JobDeploymentPath(const std::string& job_id, const std::string& ns, const std::string& region) {
  return "/v1/job/" + UrlEscape(job_id) + "/deployment" + Query(ns, region);
}
std::string JobAllocationsPath(const std::string& job_id, const std::string& ns, const std::string& region) {
  return "/v1/job/" + UrlEscape(job_id) + "/allocations" + Query(ns, region);
}
std::string DeploymentAllocationsPath(const std::string& deployment_id, const std::string& ns,
                                      const std::string& region) {
  return "/v1/deployment/allocations/" + UrlEscape(deployment_id) + Query(ns, region);
}
std::string AllocationChecksPath(const std::string& alloc_id, const std::string& ns, const std::string& region) {
  return "/v1/client/allocation/" + UrlEscape(alloc_id) + "/checks" + Query(ns, region);
}

}  // namespace tern::sources::nomad
