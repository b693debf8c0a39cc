#include "fake_nomad_model.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>

namespace tern::fake_nomad {

bool NomadModel::InNamespace(const json& reg, const std::string& ns) const {
  return ns == "*" || reg.value("Namespace", "default") == ns;
}

json NomadModel::ListServices(const std::string& ns) {
  // namespace → service → tags (the union over its registrations)
  std::map<std::string, std::map<std::string, std::set<std::string>>> by_ns;
  for (const auto& [id, reg] : regs_) {
    if (!InNamespace(reg, ns)) continue;
    auto& tags = by_ns[reg["Namespace"].get<std::string>()][reg["ServiceName"].get<std::string>()];
    for (const auto& t : reg["Tags"]) tags.insert(t.get<std::string>());
  }
  json out = json::array();
  for (const auto& [name, services] : by_ns) {
    json entry = {{"Namespace", name}, {"Services", json::array()}};
    for (const auto& [service, tags] : services) {
      entry["Services"].push_back({{"ServiceName", service}, {"Tags", json(std::vector<std::string>(tags.begin(), tags.end()))}});
    }
    out.push_back(std::move(entry));
  }
  return out;
}

json NomadModel::ReadService(const std::string& ns, const std::string& name) {
  json out = json::array();
  for (const auto& [id, reg] : regs_) {
    if (InNamespace(reg, ns) && reg["ServiceName"] == name) out.push_back(reg);
  }
  return out;
}

void NomadModel::Bump() {
  index_++;
  changed_.notify_all();
}

json NomadModel::MakeEvent(const char* topic, const char* type, const std::string& key, const json& obj,
                           const char* payload_key, json filter_keys) {
  return {{"Topic", topic}, {"Type", type}, {"Key", key}, {"Namespace", obj.value("Namespace", "default")},
          {"FilterKeys", std::move(filter_keys)}, {"Payload", {{payload_key, obj}}}};
}

json NomadModel::ServiceEvent(const char* type, const json& reg) {
  return MakeEvent("Service", type, reg["ServiceName"].get<std::string>(), reg, "Service");
}

json NomadModel::DeploymentEvent(const char* type, const json& d) {
  return MakeEvent("Deployment", type, d["ID"].get<std::string>(), d, "Deployment", json::array({d["JobID"]}));
}

json NomadModel::AllocEvent(const char* type, const json& a) {
  return MakeEvent("Allocation", type, a["ID"].get<std::string>(), a, "Allocation",
                   json::array({a["JobID"], a.value("DeploymentID", "")}));
}

void NomadModel::Publish(std::vector<json> events) {
  for (auto& e : events) e["Index"] = index_;
  events_.push_back({{"Index", index_}, {"Events", std::move(events)}});
  while (events_.size() > event_buffer_) events_.pop_front();
  changed_.notify_all();
}

std::string NomadModel::NewId() {
  ++ids_;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%08llx-%04llx-4000-8000-%012llx", static_cast<unsigned long long>(ids_ * 2654435761ULL & 0xffffffffULL),
                static_cast<unsigned long long>(ids_ & 0xffff), static_cast<unsigned long long>(ids_));
  return buf;
}

std::string NomadModel::Now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<json> NomadModel::FindJob(const std::string& ns, const std::string& id) const {
  auto it = jobs_.find(Key(ns, id));
  if (it == jobs_.end()) return std::nullopt;
  return it->second;
}

const json* NomadModel::Group(const json& job, const std::string& name) {
  for (const auto& g : job["TaskGroups"]) {
    if (g["Name"] == name) return &g;
  }
  return nullptr;
}

json NomadModel::GroupUpdate(const json& job, const json& group, const char* key, json dflt) {
  if (group.contains("Update") && group["Update"].is_object() && group["Update"].contains(key)) return group["Update"][key];
  if (job.contains("Update") && job["Update"].is_object() && job["Update"].contains(key)) return job["Update"][key];
  return dflt;
}

std::optional<json> NomadModel::LatestDeployment(const std::string& ns, const std::string& job_id) const {
  const json* best = nullptr;
  for (const auto& [id, d] : deployments_) {
    if (d["JobID"] != job_id || !InNamespace(d, ns)) continue;
    if (!best || d["CreateIndex"].get<uint64_t>() > (*best)["CreateIndex"].get<uint64_t>()) best = &d;
  }
  if (!best) return std::nullopt;
  return *best;
}

json& NomadModel::NewDeployment(const json& job, bool first_version) {
  json d = {{"ID", NewId()}, {"Namespace", job["Namespace"]}, {"JobID", job["ID"]}, {"JobVersion", job["Version"]},
            {"JobModifyIndex", index_}, {"JobSpecModifyIndex", index_}, {"JobCreateIndex", job["CreateIndex"]},
            {"IsMultiregion", false}, {"TaskGroups", json::object()}, {"Status", "running"},
            {"StatusDescription", "Deployment is running"}, {"CreateIndex", index_}, {"ModifyIndex", index_}};
  bool manual = false;
  for (const auto& g : job["TaskGroups"]) {
    const std::string name = g["Name"];
    bool running_older = false;
    for (const auto& [aid, a] : allocs_) {
      running_older |= a["JobID"] == job["ID"] && InNamespace(a, job["Namespace"]) && a["TaskGroup"] == name &&
                       a["DesiredStatus"] == "run";
    }
    const uint32_t canary = first_version || !running_older ? 0 : GroupUpdate(job, g, "Canary", 0).get<uint32_t>();
    const bool auto_promote = GroupUpdate(job, g, "AutoPromote", false).get<bool>();
    if (canary > 0 && !auto_promote) manual = true;
    d["TaskGroups"][name] = {{"AutoRevert", GroupUpdate(job, g, "AutoRevert", false)},
                             {"AutoPromote", auto_promote},
                             {"ProgressDeadline", 600000000000LL},
                             {"Promoted", false},
                             {"PlacedCanaries", nullptr},
                             {"DesiredCanaries", canary},
                             {"DesiredTotal", g.value("Count", 1)},
                             {"PlacedAllocs", 0},
                             {"HealthyAllocs", 0},
                             {"UnhealthyAllocs", 0}};
  }
  if (manual) d["StatusDescription"] = "Deployment is running but requires manual promotion";
  const std::string id = d["ID"];
  return deployments_[id] = std::move(d);
}

json& NomadModel::RegisterJobLocked(json job, std::vector<json>* events, std::optional<uint64_t> version) {
  const std::string key = Key(job["Namespace"], job["ID"]);
  auto old = jobs_.find(key);
  const bool first = old == jobs_.end();
  job["Version"] = version ? *version : (first ? 0 : old->second["Version"].get<uint64_t>() + 1);
  job["CreateIndex"] = first ? index_ : old->second["CreateIndex"].get<uint64_t>();
  job["ModifyIndex"] = job["JobModifyIndex"] = index_;
  job["Status"] = "running";
  job["Stable"] = false;
  if (!job.contains("Type")) job["Type"] = "service";
  if (!job.contains("Name")) job["Name"] = job["ID"];
  // A new version cancels the deployment still running for the old one.
  if (auto latest = LatestDeployment(job["Namespace"], job["ID"]); latest && (*latest)["Status"] == "running") {
    json& d = deployments_[(*latest)["ID"].get<std::string>()];
    d["Status"] = "cancelled";
    d["StatusDescription"] = "Cancelled due to newer version of job";
    d["ModifyIndex"] = index_;
    events->push_back(DeploymentEvent("DeploymentStatusUpdate", d));
  }
  versions_[key][job["Version"].get<uint64_t>()] = job;
  json& stored = jobs_[key] = std::move(job);
  events->push_back(MakeEvent("Job", "JobRegistered", stored["ID"], stored, "Job"));
  json& d = NewDeployment(stored, first);
  events->push_back(DeploymentEvent("PlanResult", d));
  return stored;
}

void NomadModel::StopAllocLocked(json& a, std::vector<json>* events) {
  a["DesiredStatus"] = "stop";
  a["DesiredDescription"] = "alloc not needed due to job update";
  a["ClientStatus"] = "complete";
  a["ModifyIndex"] = index_;
  events->push_back(AllocEvent("AllocationUpdateDesiredStatus", a));
  for (auto it = regs_.begin(); it != regs_.end();) {
    if (it->second["AllocID"] == a["ID"]) {
      events->push_back(ServiceEvent("ServiceDeregistration", it->second));
      it = regs_.erase(it);
    } else {
      ++it;
    }
  }
}

void NomadModel::RecountLocked(json& d, std::vector<json>* events) {
  for (auto& [name, g] : d["TaskGroups"].items()) {
    uint32_t healthy = 0, unhealthy = 0;
    for (const auto& [aid, a] : allocs_) {
      if (a["DeploymentID"] != d["ID"] || a["TaskGroup"] != name || a["DesiredStatus"] != "run") continue;
      const json& h = a["DeploymentStatus"]["Healthy"];
      if (h == true) ++healthy;
      if (h == false) ++unhealthy;
    }
    g["HealthyAllocs"] = healthy;
    g["UnhealthyAllocs"] = unhealthy;
  }
  if (d["Status"] != "running") return;
  bool done = true;
  for (const auto& [name, g] : d["TaskGroups"].items()) {
    const bool canaries_done = g["DesiredCanaries"] == 0 || g["Promoted"] == true;
    done &= canaries_done && g["HealthyAllocs"].get<uint32_t>() >= g["DesiredTotal"].get<uint32_t>();
  }
  if (done) {
    d["Status"] = "successful";
    d["StatusDescription"] = "Deployment completed successfully";
    d["ModifyIndex"] = index_;
    events->push_back(DeploymentEvent("DeploymentStatusUpdate", d));
    const std::string key = Key(d["Namespace"], d["JobID"]);
    json& job = jobs_[key];
    if (job["Version"] == d["JobVersion"]) job["Stable"] = true;
    versions_[key][d["JobVersion"].get<uint64_t>()]["Stable"] = true;
  }
}

std::string NomadModel::CanPromote(const json& d, const std::vector<std::string>& groups,
                                   std::vector<std::string>* names) const {
  if (d["Status"] != "running") return "can't promote terminal deployment";
  for (const auto& [name, g] : d["TaskGroups"].items()) {
    if (g["DesiredCanaries"].get<uint32_t>() == 0) continue;
    if (!groups.empty() && std::find(groups.begin(), groups.end(), name) == groups.end()) continue;
    uint32_t healthy = 0;
    if (g["PlacedCanaries"].is_array()) {
      for (const auto& c : g["PlacedCanaries"]) {
        auto a = allocs_.find(c.get<std::string>());
        if (a != allocs_.end() && a->second.at("DeploymentStatus").at("Healthy") == true) ++healthy;
      }
    }
    if (healthy < g["DesiredCanaries"].get<uint32_t>()) {
      return "Task group \"" + name + "\" has " + std::to_string(healthy) + "/" +
             std::to_string(g["DesiredCanaries"].get<uint32_t>()) + " healthy allocations";
    }
    names->push_back(name);
  }
  return "";
}

void NomadModel::PromoteLocked(json& d, const std::vector<std::string>& names, std::vector<json>* events) {
  for (const auto& name : names) d["TaskGroups"][name]["Promoted"] = true;
  d["StatusDescription"] = "Deployment is running";
  d["ModifyIndex"] = index_;
  events->push_back(DeploymentEvent("DeploymentPromotion", d));
  // The old version's allocations of the promoted groups make way for the new one.
  for (auto& [aid, a] : allocs_) {
    if (a["JobID"] == d["JobID"] && InNamespace(a, d["Namespace"]) && a["DesiredStatus"] == "run" &&
        a["JobVersion"].get<uint64_t>() < d["JobVersion"].get<uint64_t>() &&
        std::find(names.begin(), names.end(), a["TaskGroup"].get<std::string>()) != names.end()) {
      StopAllocLocked(a, events);
    }
  }
  RecountLocked(d, events);
}

void NomadModel::FailLocked(json& d, const std::string& why, std::vector<json>* events) {
  bool revert = false;
  for (const auto& [name, g] : d["TaskGroups"].items()) revert |= g["AutoRevert"] == true;
  const std::string key = Key(d["Namespace"], d["JobID"]);
  // Auto-revert goes back to the latest stable version before this one.
  std::optional<uint64_t> back;
  if (revert) {
    for (const auto& [v, spec] : versions_[key]) {
      if (v < d["JobVersion"].get<uint64_t>() && spec.value("Stable", false)) back = v;
    }
    if (!back && d["JobVersion"].get<uint64_t>() > 0) back = d["JobVersion"].get<uint64_t>() - 1;
  }
  d["Status"] = "failed";
  d["StatusDescription"] = back ? why + " - rolling back to job version " + std::to_string(*back) : why;
  d["ModifyIndex"] = index_;
  events->push_back(DeploymentEvent("DeploymentStatusUpdate", d));
  if (!back) return;
  // The revert: a new job version with the old spec; the failed version's allocations stop and
  // the old version's keep running (updated in place), so its deployment completes at once.
  json spec = versions_[key][*back];
  const std::string failed_id = d["ID"];
  json& job = RegisterJobLocked(spec, events);
  for (auto& [aid, a] : allocs_) {
    if (a["JobID"] != job["ID"] || !InNamespace(a, job["Namespace"]) || a["DesiredStatus"] != "run") continue;
    if (a["DeploymentID"] == failed_id) {
      StopAllocLocked(a, events);
    } else {
      a["JobVersion"] = job["Version"];
      a["ModifyIndex"] = index_;
      events->push_back(AllocEvent("AllocationUpdated", a));
    }
  }
  json& nd = deployments_[LatestDeployment(job["Namespace"], job["ID"])->at("ID").get<std::string>()];
  nd["Status"] = "successful";
  nd["StatusDescription"] = "Deployment completed successfully";
  for (auto& [name, g] : nd["TaskGroups"].items()) g["DesiredCanaries"] = 0;
  job["Stable"] = true;
  versions_[key][job["Version"].get<uint64_t>()]["Stable"] = true;
  events->push_back(DeploymentEvent("DeploymentStatusUpdate", nd));
}

}  // namespace tern::fake_nomad
