#pragma once
// The state of tern-fake-nomad (test/tools/fake_nomad.cc): registrations, jobs and their
// versions, allocations, deployments, allocation checks and the event buffer, with Nomad's
// deployment rules (see fake_nomad.cc's header comment). All as Nomad's JSON. No HTTP here.
//
// Not thread-safe: the server holds its one mutex around every call. Every change is Bump() (the
// index moves) and then Publish() (one event-stream frame at that index); both notify `changed_`,
// on which held blocking queries and event streams wait.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tern::fake_nomad {

using json = nlohmann::json;

class NomadModel {
 public:
  explicit NomadModel(size_t event_buffer) : event_buffer_(event_buffer) {}

 protected:
  bool InNamespace(const json& reg, const std::string& ns) const;

  json ListServices(const std::string& ns);

  json ReadService(const std::string& ns, const std::string& name);

  void Bump();

  // ---- events -------------------------------------------------------------------------------
  // One frame per change: the events of one raft write, all at the index that write made.
  static json MakeEvent(const char* topic, const char* type, const std::string& key, const json& obj,
                        const char* payload_key, json filter_keys = json::array());

  static json ServiceEvent(const char* type, const json& reg);

  static json DeploymentEvent(const char* type, const json& d);

  static json AllocEvent(const char* type, const json& a);

  // Right after Bump(): the frame of this change.
  void Publish(std::vector<json> events);

  // ---- jobs, allocations, deployments ---------------------------------------------------------
  static std::string Key(const std::string& ns, const std::string& id) { return ns + "\x1f" + id; }

  std::string NewId();

  static std::string Now();

  std::optional<json> FindJob(const std::string& ns, const std::string& id) const;

  static const json* Group(const json& job, const std::string& name);

  static json GroupUpdate(const json& job, const json& group, const char* key, json dflt);

  std::optional<json> LatestDeployment(const std::string& ns, const std::string& job_id) const;

  template <typename Pred>
  json AllocStubs(Pred pred) const {
    json out = json::array();
    for (const auto& [id, a] : allocs_) {
      if (pred(a)) out.push_back(a);
    }
    return out;
  }

  json& NewDeployment(const json& job, bool first_version);

  // `events` collects what the change emits (the caller publishes them).
  json& RegisterJobLocked(json job, std::vector<json>* events, std::optional<uint64_t> version = std::nullopt);

  void StopAllocLocked(json& a, std::vector<json>* events);

  // HealthyAllocs/UnhealthyAllocs from the allocations; success when every group is done.
  void RecountLocked(json& d, std::vector<json>* events);

  // Whether `groups` (all when empty) may be promoted: "" and the groups to promote, or why not.
  // Changes nothing (a refused write must not move the index).
  std::string CanPromote(const json& d, const std::vector<std::string>& groups, std::vector<std::string>* names) const;

  void PromoteLocked(json& d, const std::vector<std::string>& names, std::vector<json>* events);

  void FailLocked(json& d, const std::string& why, std::vector<json>* events);

  std::condition_variable changed_;
  std::map<std::string, json> regs_;  // by registration ID
  uint64_t index_ = 1;
  const size_t event_buffer_;
  std::map<std::string, json> jobs_;                          // by Key(namespace, ID)
  std::map<std::string, std::map<uint64_t, json>> versions_;  // by Key, then Version
  std::map<std::string, json> allocs_;                        // by allocation ID
  std::map<std::string, json> deployments_;                   // by deployment ID
  std::map<std::string, json> checks_;                        // by allocation ID
  std::deque<json> events_;                                   // the last event_buffer_ frames
  uint64_t ids_ = 0;
};

}  // namespace tern::fake_nomad
