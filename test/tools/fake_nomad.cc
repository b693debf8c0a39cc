// tern-fake-nomad: a faithful in-memory fake of the parts of Nomad's HTTP API tern reads, written
// from Nomad's documentation (https://developer.hashicorp.com/nomad/api-docs: services, jobs,
// deployments, allocations, client#read-allocation-checks, events, and #blocking-queries), for
// tests that need Nomad without a Nomad binary.
//
// Nomad's side, as documented:
//   GET    /v1/services[?namespace=NS|*]        [{"Namespace", "Services": [{"ServiceName", "Tags"}]}]
//   GET    /v1/service/:name[?namespace=NS|*]   [{"ID", "ServiceName", "Namespace", "NodeID",
//                                                 "Datacenter", "JobID", "AllocID", "Tags",
//                                                 "Address", "Port", "CreateIndex", "ModifyIndex"}]
//   DELETE /v1/service/:name/:id                 deletes one registration
//   GET    /v1/job/:job_id                       the job (404 "job not found")
//   GET    /v1/job/:job_id/deployment            its latest deployment, or null
//   GET    /v1/job/:job_id/allocations           its allocations (stubs)
//   GET    /v1/deployment/:id                    one deployment (404 "deployment not found")
//   GET    /v1/deployment/allocations/:id        the deployment's allocations (stubs)
//   PUT    /v1/deployment/promote/:id            {"DeploymentID", "All": true} or {"Groups": [..]}
//   PUT    /v1/deployment/fail/:id
//   PUT    /v1/deployment/allocation-health/:id  {"HealthyAllocationIDs", "UnhealthyAllocationIDs"}
//   GET    /v1/client/allocation/:id/checks      {check id: result}; a client endpoint: not blocking,
//                                                 no index (results live on the client, not in raft)
//   GET    /v1/event/stream?topic=T[:key]&index=N&namespace=NS   NDJSON, chunked, never ends
// Reads (but checks and the stream) are blocking queries: with `index=N` the request is held until
// the state's index is above N or `wait` (Go duration, default 5m, at most 10m, plus up to wait/16
// of jitter) passes; every answer carries X-Nomad-Index (never below 1), X-Nomad-KnownLeader and
// X-Nomad-LastContact. The index is one global raft-like counter that increases on every change,
// and every change is one frame on the event stream at that index. `namespace` defaults to
// "default"; "*" means every namespace. `region` is accepted (one region here). Started with
// `--token T`, every /v1 request must carry `X-Nomad-Token: T` (or `Authorization: Bearer T`):
// none → 403 "Permission denied", another → 403 "ACL token not found".
//
// Deployments follow Nomad's rules: registering a new version of a job whose groups run
// allocations of an older one starts a deployment with update.canary canaries per group
// (DesiredCanaries; none for a job's first version); an allocation placed while its group still
// lacks canaries is one (DeploymentStatus.Canary, PlacedCanaries); allocation-health sets
// DeploymentStatus.Healthy; an unhealthy allocation fails the deployment (and with auto_revert the
// job goes back to the previous version: a new job version and deployment, the canaries stopped);
// auto_promote promotes once every canary is healthy; promote (refused while a canary is not
// healthy) stops the old version's allocations of the promoted groups; a deployment is successful
// once every group is promoted (or has no canaries) and has DesiredTotal healthy allocations; a
// new job version cancels the running deployment. The scheduler is the test: the fake places no
// allocation by itself (after a promotion the test places the rest of the new version).
//
// The event stream: topics Service (ServiceRegistration, ServiceDeregistration), Job
// (JobRegistered), Deployment (PlanResult, DeploymentStatusUpdate, DeploymentPromotion,
// DeploymentAllocHealth) and Allocation (PlanResult, AllocationUpdated,
// AllocationUpdateDesiredStatus); a frame {"Index", "Events"} per change; `{}` heartbeats every
// --heartbeat-ms (default 10000, Nomad's 10 s). `index=N` streams the buffered frames from index N
// on (inclusive: resume with the last index seen + 1); when N is older than the buffer
// (--event-buffer frames, default 256) the stream starts at the oldest frame it still holds.
//
// The test side (not Nomad's):
//   PUT    /test/register          body: one registration as Nomad shows it (ID, ServiceName and
//                                  Port required; Namespace defaults to "default"); replaces one
//                                  with the same ID; answers {"Index": N}
//   DELETE /test/deregister/:id    404 when unknown
//   PUT    /test/job               body: a job as Nomad shows it (ID; TaskGroups [{Name, Count,
//                                  Meta, Update {Canary, AutoRevert, AutoPromote}}]; Meta; Update):
//                                  registers it or a new version; answers {"Index", "JobVersion",
//                                  "DeploymentID"}
//   PUT    /test/alloc             body {"ID"?, "JobID", "Namespace"?, "TaskGroup", "Service"?,
//                                  "Port"?, "Address"?, "Tags"?}: places a running allocation of
//                                  the job's current version (and registers its service at
//                                  Address:Port as "_nomad-task-<alloc>-<service>"); answers
//                                  {"Index", "ID", "Canary", "DeploymentID"}
//   PUT    /test/stop-alloc/:id    the allocation stops (DesiredStatus stop, ClientStatus
//                                  complete) and its registrations go
//   PUT    /test/checks/:alloc_id  body: the allocation's check results, as the checks endpoint
//                                  answers them (replaces them; no index change, as in Nomad)
//   PUT    /test/fault?mode=500|500-binary|garbage|none   every /v1 read then answers HTTP 500,
//                                  or HTTP 500 whose body is not UTF-8 (what a proxy in front of
//                                  Nomad may send), or 200 with malformed JSON, or normally
//                                  again; held blocking queries are woken so that they answer with
//                                  the fault at once; a new event stream answers 500 (500 modes)
//                                  or one broken line and the end of the stream (garbage)
//   PUT    /test/stream?mode=cut|rewind|garbage|forbidden|missing|none   cut: every open event
//                                  stream sends half of a frame and the connection closes without
//                                  the chunked body's end (once); rewind: every open stream sends
//                                  the oldest buffered frame again, an index below what it already
//                                  sent (once: what a client sees of a Nomad whose state was
//                                  restored from an older snapshot); garbage: open and new streams send a
//                                  line that is not JSON, then carry on; forbidden: new streams
//                                  answer 403 "Permission denied" (a token whose policy lacks what
//                                  the stream needs, while every other read is allowed); missing:
//                                  new streams answer 404 (a Nomad before the event stream, 1.0);
//                                  none: streams work again (open ones are left alone)
//   GET    /test/stats             {"requests": /v1 requests so far, "index": N, "fault": mode,
//                                  "registrations", "jobs", "allocations", "deployments",
//                                  "streams": open event streams, "stream_requests",
//                                  "paths": {"/v1/...": requests so far, by path without query},
//                                  "held": blocking queries waiting now (one whose client went
//                                  away counts until it wakes, as a Go handler would)}
//
// Flags: --port N (0 = pick one; printed as PORT=<n>), --token T, --heartbeat-ms N,
// --event-buffer N. Prints READY when listening.
//
// The state and Nomad's deployment rules live in fake_nomad_model.{h,cc}; this file is the HTTP
// side: routing, ACLs, faults, blocking queries and the event stream.
#include <civetweb.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_nomad_model.h"

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::optional<uint64_t> index;
  bool streamed = false;  // the handler wrote the answer itself (the event stream)
};

struct Options {
  std::string token;
  std::chrono::milliseconds heartbeat{10000};
  size_t event_buffer = 256;
};

class FakeNomad : private tern::fake_nomad::NomadModel {
 public:
  explicit FakeNomad(Options o)
      : NomadModel(o.event_buffer), token_(std::move(o.token)), heartbeat_(o.heartbeat) {}

  Reply Handle(mg_connection* conn) {
    const mg_request_info* info = mg_get_request_info(conn);
    const std::string method = info->request_method ? info->request_method : "";
    const std::string uri = info->local_uri ? info->local_uri : "";
    const std::string query = info->query_string ? info->query_string : "";
    if (uri.rfind("/test/", 0) == 0) return Control(conn, method, uri, query);
    if (uri.rfind("/v1/", 0) != 0) return Text(404, "Invalid URL");
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_++;
      paths_[uri]++;
    }
    if (!token_.empty()) {
      std::string given;
      if (const char* h = mg_get_header(conn, "X-Nomad-Token")) given = h;
      else if (const char* a = mg_get_header(conn, "Authorization"); a && std::strncmp(a, "Bearer ", 7) == 0) given = a + 7;
      if (given.empty()) return Text(403, "Permission denied");
      if (given != token_) return Text(403, "ACL token not found");
    }
    std::string ns = Var(query, "namespace");
    if (ns.empty()) ns = "default";
    if (method == "GET" && uri == "/v1/services") return Blocking(query, [&] { return ListServices(ns); });
    const std::string prefix = "/v1/service/";
    if (uri.rfind(prefix, 0) == 0) {
      std::string rest = uri.substr(prefix.size());
      auto slash = rest.find('/');
      if (method == "GET" && slash == std::string::npos && !rest.empty()) {
        return Blocking(query, [&] { return ReadService(ns, rest); });
      }
      if (method == "DELETE" && slash != std::string::npos) {
        return DeleteRegistration(ns, rest.substr(0, slash), rest.substr(slash + 1));
      }
      if (method != "GET" && method != "DELETE") return Text(405, "Invalid method");
    }
    if (method == "GET" && uri == "/v1/event/stream") return Stream(conn, query, ns);
    const bool write = method == "PUT" || method == "POST";
    if (auto rest = After(uri, "/v1/job/")) {
      const auto slash = rest->find('/');
      const std::string id = rest->substr(0, slash);
      const std::string sub = slash == std::string::npos ? "" : rest->substr(slash);
      if (method != "GET") return Text(405, "Invalid method");
      if (sub.empty()) return Blocking(query, [&]() -> std::optional<json> { return FindJob(ns, id); }, "job not found");
      if (sub == "/deployment") return Blocking(query, [&] { return LatestDeployment(ns, id).value_or(json(nullptr)); });
      if (sub == "/allocations") {
        return Blocking(query, [&] { return AllocStubs([&](const json& a) { return a["JobID"] == id && InNamespace(a, ns); }); });
      }
    }
    if (auto id = After(uri, "/v1/deployment/allocations/"); id && method == "GET") {
      return Blocking(query, [&] { return AllocStubs([&](const json& a) { return a["DeploymentID"] == *id; }); });
    }
    if (auto id = After(uri, "/v1/deployment/promote/"); id && write) return Promote(*id, ReadBody(conn));
    if (auto id = After(uri, "/v1/deployment/fail/"); id && write) return FailDeployment(*id);
    if (auto id = After(uri, "/v1/deployment/allocation-health/"); id && write) return AllocHealth(*id, ReadBody(conn));
    if (auto id = After(uri, "/v1/deployment/"); id && method == "GET" && id->find('/') == std::string::npos) {
      return Blocking(query, [&]() -> std::optional<json> {
        auto it = deployments_.find(*id);
        if (it == deployments_.end()) return std::nullopt;
        return it->second;
      }, "deployment not found");
    }
    if (auto rest = After(uri, "/v1/client/allocation/"); rest && method == "GET" && rest->ends_with("/checks")) {
      return ReadChecks(rest->substr(0, rest->size() - std::strlen("/checks")));
    }
    return Text(404, "Invalid URL");
  }

  void Shutdown() {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    changed_.notify_all();
  }

 private:
  static Reply Text(int status, std::string body) { return {status, std::move(body), "text/plain", std::nullopt}; }

  static std::string Var(const std::string& query, const char* name) {
    if (query.empty()) return "";
    std::string buf(query.size() + 1, '\0');
    int n = mg_get_var(query.c_str(), query.size(), name, buf.data(), buf.size());
    return n < 0 ? "" : buf.substr(0, static_cast<size_t>(n));
  }

  // A Go duration ("300ms", "1m30s", "60000ms"); nullopt when malformed.
  static std::optional<std::chrono::milliseconds> ParseDuration(const std::string& s) {
    if (s.empty()) return std::nullopt;
    double total_ms = 0;
    size_t i = 0;
    while (i < s.size()) {
      size_t start = i;
      while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
      if (start == i) return std::nullopt;
      double v = std::stod(s.substr(start, i - start));
      size_t ustart = i;
      while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
      std::string unit = s.substr(ustart, i - ustart);
      if (unit == "ns") total_ms += v / 1e6;
      else if (unit == "us" || unit == "µs") total_ms += v / 1e3;
      else if (unit == "ms") total_ms += v;
      else if (unit == "s") total_ms += v * 1e3;
      else if (unit == "m") total_ms += v * 60e3;
      else if (unit == "h") total_ms += v * 3600e3;
      else return std::nullopt;
    }
    return std::chrono::milliseconds(static_cast<int64_t>(total_ms));
  }

  // Runs `read` now, or (with index=N) once the state's index is above N or the wait is over.
  static std::optional<std::string> After(const std::string& uri, const std::string& prefix) {
    if (uri.rfind(prefix, 0) != 0 || uri.size() == prefix.size()) return std::nullopt;
    return uri.substr(prefix.size());
  }

  static std::string ReadBody(mg_connection* conn) {
    std::string body;
    char buf[4096];
    int n;
    while ((n = mg_read(conn, buf, sizeof buf)) > 0) body.append(buf, static_cast<size_t>(n));
    return body;
  }

  template <typename Read>
  Reply Blocking(const std::string& query, Read read, const std::string& not_found = "") {
    uint64_t min_index = 0;
    std::string index_text = Var(query, "index");
    if (!index_text.empty()) {
      try {
        min_index = std::stoull(index_text);
      } catch (...) {
        return Text(400, "Invalid index: " + index_text);
      }
    }
    auto wait = std::chrono::milliseconds(std::chrono::minutes(5));
    if (std::string w = Var(query, "wait"); !w.empty()) {
      auto d = ParseDuration(w);
      if (!d) return Text(400, "Invalid wait time");
      wait = *d;
    }
    wait = std::min<std::chrono::milliseconds>(wait, std::chrono::minutes(10));
    std::unique_lock<std::mutex> lock(mu_);
    if (min_index > 0) {
      // Nomad adds up to wait/16 of jitter so that many watchers do not wake together.
      auto jitter = std::chrono::milliseconds(wait.count() / 16 > 0 ? rng_() % (wait.count() / 16) : 0);
      const auto deadline = Clock::now() + wait + jitter;
      const std::string fault_at_start = fault_;
      held_++;
      changed_.wait_until(lock, deadline, [&] {
        return stopping_ || index_ > min_index || fault_ != fault_at_start;
      });
      held_--;
    }
    if (fault_ == "500") return Text(500, "rpc error: fault injected by tern-fake-nomad");
    if (fault_ == "500-binary") {
      // Latin-1 and stray bytes, then a long enough run that byte 200 (where a client quoting
      // the body would cut it) falls inside a three-byte character (U+20AC, the euro sign).
      std::string body = "proxy error: caf\xE9 \xFF\xFE\x80 upstream \xC3 unreachable ";
      while (body.size() < 199) body += 'x';
      body += "\xE2\x82\xAC tail";
      return Text(500, body);
    }
    if (fault_ == "garbage") return {200, "[{\"Namespace\": \"default\", \"Services\": [{\"ServiceName\": ", "application/json", index_};
    Reply r;
    if constexpr (std::is_same_v<decltype(read()), std::optional<json>>) {
      auto found = read();
      if (!found) return Text(404, not_found);
      r.body = found->dump();
    } else {
      r.body = read().dump();
    }
    r.index = std::max<uint64_t>(index_, 1);
    return r;
  }


  Reply DeleteRegistration(const std::string& ns, const std::string& name, const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = regs_.find(id);
    if (it == regs_.end() || it->second["ServiceName"] != name || !InNamespace(it->second, ns)) {
      return Text(404, "service registration not found");
    }
    json gone = std::move(it->second);
    regs_.erase(it);
    Bump();
    Publish({ServiceEvent("ServiceDeregistration", gone)});
    return {200, json{{"Index", index_}}.dump(), "application/json", index_};
  }

  Reply Promote(const std::string& id, const std::string& body) {
    json req = body.empty() ? json::object() : json::parse(body, nullptr, false);
    if (req.is_discarded() || !req.is_object()) return Text(400, "promote: malformed JSON");
    std::vector<std::string> groups;
    if (req.contains("Groups") && req["Groups"].is_array()) {
      for (const auto& g : req["Groups"]) {
        if (g.is_string()) groups.push_back(g);
      }
    }
    if (!req.value("All", false) && groups.empty()) return Text(400, "must specify All or Groups");
    std::lock_guard<std::mutex> lock(mu_);
    auto it = deployments_.find(id);
    if (it == deployments_.end()) return Text(404, "deployment not found");
    std::vector<std::string> names;
    if (std::string err = CanPromote(it->second, groups, &names); !err.empty()) return Text(400, err);
    Bump();
    std::vector<json> events;
    PromoteLocked(it->second, names, &events);
    Publish(std::move(events));
    return WriteAnswer(it->second);
  }

  Reply FailDeployment(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = deployments_.find(id);
    if (it == deployments_.end()) return Text(404, "deployment not found");
    if (it->second["Status"] != "running") return Text(400, "can't fail terminal deployment");
    Bump();
    std::vector<json> events;
    FailLocked(it->second, "Deployment marked as failed", &events);
    Publish(std::move(events));
    return WriteAnswer(deployments_[id]);
  }

  Reply AllocHealth(const std::string& id, const std::string& body) {
    json req = json::parse(body, nullptr, false);
    if (req.is_discarded() || !req.is_object()) return Text(400, "allocation-health: malformed JSON");
    std::lock_guard<std::mutex> lock(mu_);
    auto it = deployments_.find(id);
    if (it == deployments_.end()) return Text(404, "deployment not found");
    json& d = it->second;
    if (d["Status"] != "running") return Text(400, "can't set health of allocations for a terminal deployment");
    std::vector<std::pair<std::string, bool>> marks;
    for (const auto& [field, healthy] : {std::pair{"HealthyAllocationIDs", true}, std::pair{"UnhealthyAllocationIDs", false}}) {
      if (!req.contains(field) || req[field].is_null()) continue;
      if (!req[field].is_array()) return Text(400, std::string(field) + " must be a list");
      for (const auto& a : req[field]) {
        if (!a.is_string()) return Text(400, std::string(field) + " must be a list of IDs");
        auto al = allocs_.find(a.get<std::string>());
        if (al == allocs_.end() || al->second["DeploymentID"] != id)
          return Text(400, "Allocation \"" + a.get<std::string>() + "\" is not part of deployment");
        marks.push_back({a.get<std::string>(), healthy});
      }
    }
    Bump();
    std::vector<json> events;
    bool any_unhealthy = false;
    for (const auto& [aid, healthy] : marks) {
      json& a = allocs_[aid];
      a["DeploymentStatus"]["Healthy"] = healthy;
      a["DeploymentStatus"]["Timestamp"] = Now();
      a["DeploymentStatus"]["ModifyIndex"] = index_;
      a["ModifyIndex"] = index_;
      any_unhealthy |= !healthy;
      events.push_back(AllocEvent("AllocationUpdated", a));
    }
    RecountLocked(d, &events);
    d["ModifyIndex"] = index_;
    events.push_back(DeploymentEvent("DeploymentAllocHealth", d));
    if (any_unhealthy && d["Status"] == "running") {
      FailLocked(d, "Failed due to unhealthy allocations", &events);
    } else if (d["Status"] == "running") {
      bool auto_promote = false, canaries = false;
      for (const auto& [name, g] : d["TaskGroups"].items()) {
        if (g["DesiredCanaries"].get<uint32_t>() > 0 && g["Promoted"] == false) {
          canaries = true;
          auto_promote |= g["AutoPromote"] == true;
        }
      }
      std::vector<std::string> names;
      if (canaries && auto_promote && CanPromote(d, {}, &names).empty()) PromoteLocked(d, names, &events);
    }
    Publish(std::move(events));
    return WriteAnswer(deployments_[id]);
  }

  // What Nomad answers a deployment write: the indexes of the change.
  Reply WriteAnswer(const json& d) {
    json out = {{"EvalID", ""}, {"EvalCreateIndex", 0}, {"DeploymentModifyIndex", d["ModifyIndex"]}, {"Index", index_}};
    return {200, out.dump(), "application/json", index_};
  }

  Reply ReadChecks(const std::string& alloc_id) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!allocs_.contains(alloc_id)) return Text(404, "Unknown allocation \"" + alloc_id + "\"");
    if (fault_ == "500") return Text(500, "rpc error: fault injected by tern-fake-nomad");
    if (fault_ == "garbage") return {200, "{\"9810e9\": {\"Status\": ", "application/json", std::nullopt};
    auto it = checks_.find(alloc_id);
    return {200, it == checks_.end() ? "{}" : it->second.dump(), "application/json", std::nullopt};
  }

  Reply ControlJob(const std::string& body) {
    json job = json::parse(body, nullptr, false);
    if (job.is_discarded() || !job.is_object()) return Text(400, "job: malformed JSON");
    if (!job.contains("ID") || !job["ID"].is_string() || job["ID"] == "") return Text(400, "job: ID is required");
    if (!job.contains("TaskGroups") || !job["TaskGroups"].is_array() || job["TaskGroups"].empty())
      return Text(400, "job: TaskGroups is required");
    for (auto& g : job["TaskGroups"]) {
      if (!g.is_object() || !g.contains("Name") || !g["Name"].is_string()) return Text(400, "job: every task group needs a Name");
      if (!g.contains("Count")) g["Count"] = 1;
      if (!g["Count"].is_number_unsigned()) return Text(400, "job: Count must be a non-negative integer");
      for (const char* k : {"Canary"}) {
        if (g.contains("Update") && g["Update"].is_object() && g["Update"].contains(k) && !g["Update"][k].is_number_unsigned())
          return Text(400, "job: Update.Canary must be a non-negative integer");
      }
      if (!g.contains("Meta")) g["Meta"] = nullptr;
    }
    if (!job.contains("Namespace") || job["Namespace"] == "") job["Namespace"] = "default";
    if (!job.contains("Meta")) job["Meta"] = nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    Bump();
    std::vector<json> events;
    json& stored = RegisterJobLocked(std::move(job), &events);
    auto d = LatestDeployment(stored["Namespace"], stored["ID"]);
    json out = {{"Index", index_}, {"JobVersion", stored["Version"]}, {"DeploymentID", d ? (*d)["ID"] : json("")}};
    Publish(std::move(events));
    return {200, out.dump(), "application/json", index_};
  }

  Reply ControlAlloc(const std::string& body) {
    json req = json::parse(body, nullptr, false);
    if (req.is_discarded() || !req.is_object()) return Text(400, "alloc: malformed JSON");
    for (const char* k : {"JobID", "TaskGroup"}) {
      if (!req.contains(k) || !req[k].is_string()) return Text(400, std::string("alloc: ") + k + " is required");
    }
    if (req.contains("Service") && (!req["Service"].is_string() || !req.contains("Port") || !req["Port"].is_number_unsigned()))
      return Text(400, "alloc: Service needs a Port");
    const std::string ns = req.value("Namespace", "default");
    std::lock_guard<std::mutex> lock(mu_);
    auto job_it = jobs_.find(Key(ns, req["JobID"]));
    if (job_it == jobs_.end()) return Text(400, "alloc: no job " + req["JobID"].get<std::string>() + " in namespace " + ns);
    const json& job = job_it->second;
    if (!Group(job, req["TaskGroup"])) return Text(400, "alloc: job has no task group " + req["TaskGroup"].get<std::string>());
    const std::string id = req.value("ID", "").empty() ? NewId() : req["ID"].get<std::string>();
    if (allocs_.contains(id)) return Text(400, "alloc: " + id + " exists");
    Bump();
    std::vector<json> events;
    size_t n = 0;
    for (const auto& [aid, a] : allocs_) n += a["JobID"] == job["ID"] && a["TaskGroup"] == req["TaskGroup"];
    json a = {{"ID", id}, {"EvalID", NewId()}, {"Name", job["ID"].get<std::string>() + "." + req["TaskGroup"].get<std::string>() + "[" + std::to_string(n) + "]"},
              {"Namespace", ns}, {"NodeID", "node-1"}, {"NodeName", "fake-node"}, {"JobID", job["ID"]},
              {"JobType", job["Type"]}, {"JobVersion", job["Version"]}, {"TaskGroup", req["TaskGroup"]},
              {"DesiredStatus", "run"}, {"DesiredDescription", ""}, {"ClientStatus", "running"},
              {"ClientDescription", "Tasks are running"}, {"DeploymentID", ""}, {"DeploymentStatus", nullptr},
              {"FollowupEvalID", ""}, {"CreateIndex", index_}, {"ModifyIndex", index_}};
    bool canary = false;
    auto latest = LatestDeployment(ns, job["ID"]);
    if (latest && (*latest)["JobVersion"] == job["Version"] && (*latest)["Status"] == "running") {
      json& d = deployments_[(*latest)["ID"].get<std::string>()];
      json& g = d["TaskGroups"][req["TaskGroup"].get<std::string>()];
      if (!g["PlacedCanaries"].is_array()) g["PlacedCanaries"] = json::array();
      canary = g["Promoted"] == false && g["PlacedCanaries"].size() < g["DesiredCanaries"].get<size_t>();
      if (canary) g["PlacedCanaries"].push_back(id);
      g["PlacedAllocs"] = g["PlacedAllocs"].get<uint32_t>() + 1;
      d["ModifyIndex"] = index_;
      a["DeploymentID"] = d["ID"];
      a["DeploymentStatus"] = {{"Healthy", nullptr}, {"Canary", canary}, {"Timestamp", "0001-01-01T00:00:00Z"}, {"ModifyIndex", 0}};
      events.push_back(AllocEvent("PlanResult", a));
      events.push_back(DeploymentEvent("PlanResult", d));
    } else {
      events.push_back(AllocEvent("PlanResult", a));
    }
    if (req.contains("Service")) {
      json reg = {{"ID", "_nomad-task-" + id + "-" + req["Service"].get<std::string>()}, {"ServiceName", req["Service"]},
                  {"Namespace", ns}, {"NodeID", "node-1"}, {"Datacenter", "dc1"}, {"JobID", job["ID"]},
                  {"AllocID", id}, {"Tags", req.value("Tags", json::array())}, {"Address", req.value("Address", "127.0.0.1")},
                  {"Port", req["Port"]}, {"CreateIndex", index_}, {"ModifyIndex", index_}};
      events.push_back(ServiceEvent("ServiceRegistration", reg));
      const std::string reg_id = reg["ID"];
      regs_[reg_id] = std::move(reg);
    }
    json out = {{"Index", index_}, {"ID", id}, {"Canary", canary}, {"DeploymentID", a["DeploymentID"]}};
    allocs_[id] = std::move(a);
    Publish(std::move(events));
    return {200, out.dump(), "application/json", index_};
  }

  // ---- the event stream -----------------------------------------------------------------------
  struct TopicFilter {
    std::string topic;  // "*" = every topic
    std::string key;    // "" or "*" = every key
  };

  static std::vector<TopicFilter> Topics(const std::string& query) {
    std::vector<TopicFilter> out;
    for (int i = 0;; ++i) {
      char buf[512];
      int n = mg_get_var2(query.c_str(), query.size(), "topic", buf, sizeof buf, static_cast<size_t>(i));
      if (n < 0) break;
      std::string t(buf, static_cast<size_t>(n));
      auto colon = t.find(':');
      out.push_back({t.substr(0, colon), colon == std::string::npos ? "" : t.substr(colon + 1)});
    }
    if (out.empty()) out.push_back({"*", ""});
    return out;
  }

  static bool Matches(const json& event, const std::vector<TopicFilter>& topics, const std::string& ns) {
    if (ns != "*" && event.value("Namespace", "") != "" && event["Namespace"] != ns) return false;
    for (const auto& t : topics) {
      if (t.topic != "*" && event["Topic"] != t.topic) continue;
      if (t.key.empty() || t.key == "*" || event["Key"] == t.key) return true;
      for (const auto& k : event["FilterKeys"]) {
        if (k == t.key) return true;
      }
    }
    return false;
  }

  static bool WriteChunk(mg_connection* conn, const std::string& data) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    const std::string chunk = size + data + "\r\n";
    return mg_write(conn, chunk.data(), chunk.size()) == static_cast<int>(chunk.size());
  }

  Reply Stream(mg_connection* conn, const std::string& query, const std::string& ns) {
    uint64_t next = 0;
    if (std::string index_text = Var(query, "index"); !index_text.empty()) {
      try {
        next = std::stoull(index_text);
      } catch (...) {
        return Text(400, "Invalid index: " + index_text);
      }
    }
    const auto topics = Topics(query);
    std::unique_lock<std::mutex> lock(mu_);
    stream_requests_++;
    if (fault_ == "500" || fault_ == "500-binary") return Text(500, "rpc error: fault injected by tern-fake-nomad");
    if (stream_fault_ == "forbidden") return Text(403, "Permission denied");
    if (stream_fault_ == "missing") return Text(404, "Invalid URL");
    const bool broken_end = fault_ == "garbage";
    streams_++;
    const uint64_t cut_at_start = cut_generation_;
    uint64_t rewinds_seen = rewind_generation_;
    bool garbage_sent = false;
    lock.unlock();
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                             "Connection: close\r\n\r\n";
    bool ok = mg_write(conn, head.data(), head.size()) == static_cast<int>(head.size());
    if (ok && broken_end) ok = WriteChunk(conn, "{\"Index\": 7, \"Events\": [{\"Topic\": <html>bad gateway</html>\n") && WriteChunk(conn, "");
    lock.lock();
    auto heartbeat_at = Clock::now() + heartbeat_;
    while (ok && !broken_end) {
      std::string out;
      bool cut = false;
      if (stream_fault_ == "garbage" && !garbage_sent) {
        out += "this is not json {\n";
        garbage_sent = true;
      }
      if (rewind_generation_ != rewinds_seen && !events_.empty()) {
        // The oldest frame the buffer holds, again: an index below what this stream already sent.
        rewinds_seen = rewind_generation_;
        json events = json::array();
        for (const auto& e : events_.front()["Events"]) {
          if (Matches(e, topics, ns)) events.push_back(e);
        }
        out += json{{"Index", events_.front()["Index"]}, {"Events", std::move(events)}}.dump() + "\n";
      }
      for (const auto& frame : events_) {
        if (frame["Index"].get<uint64_t>() < next) continue;
        next = frame["Index"].get<uint64_t>() + 1;
        json events = json::array();
        for (const auto& e : frame["Events"]) {
          if (Matches(e, topics, ns)) events.push_back(e);
        }
        if (!events.empty()) out += json{{"Index", frame["Index"]}, {"Events", std::move(events)}}.dump() + "\n";
      }
      if (cut_generation_ != cut_at_start) {
        // Half a frame, then the connection ends without the chunked body's last chunk.
        std::string frame = out.empty() ? json{{"Index", index_}, {"Events", json::array()}}.dump() : out;
        out = frame.substr(0, std::max<size_t>(1, frame.size() / 2));
        cut = true;
      }
      if (stopping_) break;
      if (out.empty()) {
        if (Clock::now() >= heartbeat_at) {
          out = "{}\n";
        } else {
          const uint64_t seen = index_;
          const uint64_t cuts = cut_generation_;
          const uint64_t rewinds = rewind_generation_;
          const std::string sf = stream_fault_;
          changed_.wait_until(lock, heartbeat_at, [&] {
            return stopping_ || index_ != seen || cut_generation_ != cuts || rewind_generation_ != rewinds ||
                   stream_fault_ != sf;
          });
          if (stream_fault_ != sf) garbage_sent = false;
          continue;
        }
      }
      heartbeat_at = Clock::now() + heartbeat_;
      lock.unlock();
      ok = WriteChunk(conn, out);
      lock.lock();
      if (cut) break;
      if (!ok) break;
    }
    const bool clean = ok && stopping_;
    streams_--;
    lock.unlock();
    if (clean) WriteChunk(conn, "");
    Reply r;
    r.streamed = true;
    return r;
  }

  Reply Control(mg_connection* conn, const std::string& method, const std::string& uri, const std::string& query) {
    if ((method == "PUT" || method == "POST") && uri == "/test/register") {
      std::string body;
      char buf[4096];
      int n;
      while ((n = mg_read(conn, buf, sizeof buf)) > 0) body.append(buf, static_cast<size_t>(n));
      json reg = json::parse(body, nullptr, false);
      if (reg.is_discarded() || !reg.is_object()) return Text(400, "registration: malformed JSON");
      if (!reg.contains("ID") || !reg["ID"].is_string() || !reg.contains("ServiceName") ||
          !reg["ServiceName"].is_string() || !reg.contains("Port") || !reg["Port"].is_number_integer()) {
        return Text(400, "registration: ID, ServiceName and Port are required");
      }
      // The fields Nomad always sends, with its defaults.
      if (!reg.contains("Namespace") || reg["Namespace"] == "") reg["Namespace"] = "default";
      for (const char* k : {"NodeID", "Datacenter", "JobID", "AllocID", "Address"}) {
        if (!reg.contains(k)) reg[k] = k == std::string("Datacenter") ? "dc1" : (k == std::string("Address") ? "127.0.0.1" : "");
      }
      if (!reg.contains("Tags") || reg["Tags"].is_null()) reg["Tags"] = json::array();
      std::lock_guard<std::mutex> lock(mu_);
      Bump();
      const std::string id = reg["ID"];
      auto it = regs_.find(id);
      reg["CreateIndex"] = it == regs_.end() ? index_ : it->second["CreateIndex"].get<uint64_t>();
      reg["ModifyIndex"] = index_;
      regs_[id] = reg;
      Publish({ServiceEvent("ServiceRegistration", reg)});
      return {200, json{{"Index", index_}}.dump(), "application/json", index_};
    }
    const std::string dereg = "/test/deregister/";
    if (method == "DELETE" && uri.rfind(dereg, 0) == 0) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = regs_.find(uri.substr(dereg.size()));
      if (it == regs_.end()) return Text(404, "no such registration");
      json gone = std::move(it->second);
      regs_.erase(it);
      Bump();
      Publish({ServiceEvent("ServiceDeregistration", gone)});
      return {200, json{{"Index", index_}}.dump(), "application/json", index_};
    }
    if ((method == "PUT" || method == "POST") && uri == "/test/fault") {
      std::string mode = Var(query, "mode");
      if (mode != "500" && mode != "500-binary" && mode != "garbage" && mode != "none")
        return Text(400, "mode must be 500, 500-binary, garbage or none");
      std::lock_guard<std::mutex> lock(mu_);
      fault_ = mode == "none" ? "" : mode;
      changed_.notify_all();
      return {200, json{{"fault", mode}}.dump(), "application/json", std::nullopt};
    }
    const bool write = method == "PUT" || method == "POST";
    if (write && uri == "/test/job") return ControlJob(ReadBody(conn));
    if (write && uri == "/test/alloc") return ControlAlloc(ReadBody(conn));
    if (auto id = After(uri, "/test/stop-alloc/"); id && write) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = allocs_.find(*id);
      if (it == allocs_.end()) return Text(404, "no such allocation");
      Bump();
      std::vector<json> events;
      StopAllocLocked(it->second, &events);
      if (const std::string dep = it->second["DeploymentID"]; deployments_.contains(dep)) RecountLocked(deployments_[dep], &events);
      Publish(std::move(events));
      return {200, json{{"Index", index_}}.dump(), "application/json", index_};
    }
    if (auto id = After(uri, "/test/checks/"); id && write) {
      json checks = json::parse(ReadBody(conn), nullptr, false);
      if (checks.is_discarded() || !checks.is_object()) return Text(400, "checks: expected an object of check results");
      std::lock_guard<std::mutex> lock(mu_);
      if (!allocs_.contains(*id)) return Text(404, "no such allocation");
      checks_[*id] = std::move(checks);
      return {200, "{}", "application/json", std::nullopt};
    }
    if (write && uri == "/test/stream") {
      std::string mode = Var(query, "mode");
      if (mode != "cut" && mode != "rewind" && mode != "garbage" && mode != "forbidden" && mode != "missing" &&
          mode != "none")
        return Text(400, "mode must be cut, rewind, garbage, forbidden, missing or none");
      std::lock_guard<std::mutex> lock(mu_);
      if (mode == "cut") cut_generation_++;
      else if (mode == "rewind") rewind_generation_++;
      else stream_fault_ = mode == "none" ? "" : mode;
      changed_.notify_all();
      return {200, json{{"stream", mode}}.dump(), "application/json", std::nullopt};
    }
    if (method == "GET" && uri == "/test/stats") {
      std::lock_guard<std::mutex> lock(mu_);
      json s = {{"requests", requests_}, {"index", index_}, {"fault", fault_.empty() ? "none" : fault_},
                {"registrations", regs_.size()}, {"jobs", jobs_.size()}, {"allocations", allocs_.size()},
                {"deployments", deployments_.size()}, {"streams", streams_}, {"stream_requests", stream_requests_},
                {"paths", paths_}, {"held", held_}};
      return {200, s.dump(), "application/json", std::nullopt};
    }
    return Text(404, "unknown test endpoint");
  }

  const std::string token_;
  std::mutex mu_;
  uint64_t requests_ = 0;
  std::string fault_;  // "", "500", "500-binary", "garbage"
  bool stopping_ = false;
  const std::chrono::milliseconds heartbeat_;
  uint64_t cut_generation_ = 0;  // /test/stream?mode=cut: streams open before a bump are cut
  uint64_t rewind_generation_ = 0;  // mode=rewind: streams open before a bump resend the oldest frame
  std::string stream_fault_;     // "", "garbage", "forbidden", "missing"
  uint64_t streams_ = 0;         // open event streams
  uint64_t stream_requests_ = 0;
  std::map<std::string, uint64_t> paths_;  // /v1 requests by path (without the query)
  uint64_t held_ = 0;  // blocking queries waiting (a client that went away is noticed at the wake)
  std::mt19937_64 rng_{42};
};

const char* StatusText(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    default: return "Internal Server Error";
  }
}

int HandleRequest(mg_connection* conn, void* cbdata) {
  Reply r = static_cast<FakeNomad*>(cbdata)->Handle(conn);
  if (r.streamed) return 200;
  std::string headers = "HTTP/1.1 " + std::to_string(r.status) + " " + StatusText(r.status) + "\r\n" +
                        "Content-Type: " + r.content_type + "\r\n" +
                        "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  if (r.index) {
    headers += "X-Nomad-Index: " + std::to_string(*r.index) + "\r\n";
    headers += "X-Nomad-KnownLeader: true\r\nX-Nomad-LastContact: 0\r\n";
  }
  headers += "Connection: close\r\n\r\n";
  mg_write(conn, headers.data(), headers.size());
  mg_write(conn, r.body.data(), r.body.size());
  return static_cast<int>(r.status);
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--port" && i + 1 < argc) port = std::stoi(argv[++i]);
    else if (a == "--token" && i + 1 < argc) o.token = argv[++i];
    else if (a == "--heartbeat-ms" && i + 1 < argc) o.heartbeat = std::chrono::milliseconds(std::stoi(argv[++i]));
    else if (a == "--event-buffer" && i + 1 < argc) o.event_buffer = static_cast<size_t>(std::stoul(argv[++i]));
    else {
      std::cerr << "usage: tern-fake-nomad [--port N] [--token T] [--heartbeat-ms N] [--event-buffer N]\n";
      return 2;
    }
  }
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  FakeNomad nomad(std::move(o));
  mg_init_library(0);
  std::string ports = "127.0.0.1:" + std::to_string(port);
  // Every held blocking query holds a worker thread, as in Nomad's HTTP server a goroutine.
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads", "128", nullptr};
  mg_callbacks callbacks{};
  mg_context* ctx = mg_start(&callbacks, nullptr, options);
  if (ctx == nullptr) {
    std::cerr << "tern-fake-nomad: cannot listen on " << ports << "\n";
    return 1;
  }
  mg_set_request_handler(ctx, "/", HandleRequest, &nomad);
  mg_server_port sp[4];
  if (mg_get_server_ports(ctx, 4, sp) < 1) {
    std::cerr << "tern-fake-nomad: civetweb reported no listening port\n";
    return 1;
  }
  std::cout << "PORT=" << sp[0].port << std::endl;
  std::cout << "READY" << std::endl;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  nomad.Shutdown();
  mg_stop(ctx);
  mg_exit_library();
  return 0;
}
