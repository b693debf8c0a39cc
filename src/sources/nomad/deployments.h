#pragma once
// Pure decoders for what tern reads about Nomad jobs, deployments, allocations and Nomad's own
// service checks: JSON text in, plain structs out. No I/O. Same rules as decoders.h: errors name
// the endpoint and the JSON path; unknown fields are ignored; Go's null list or map is empty.
//
// Endpoints (https://developer.hashicorp.com/nomad/api-docs/jobs, .../deployments,
// .../allocations, .../client#read-allocation-checks):
//   GET /v1/job/:job_id                 {"ID", "Namespace", "Version", "ModifyIndex", "Meta",
//                                        "Update": {"Canary", ...},
//                                        "TaskGroups": [{"Name", "Count", "Meta", "Update"}]}
//   GET /v1/job/:job_id/deployment      the job's latest deployment, or null when it has none:
//                                       {"ID", "JobID", "Namespace", "JobVersion", "Status",
//                                        "StatusDescription", "ModifyIndex", "TaskGroups":
//                                        {name: {"Promoted", "AutoRevert", "AutoPromote",
//                                                "DesiredCanaries", "DesiredTotal",
//                                                "PlacedCanaries", "HealthyAllocs",
//                                                "UnhealthyAllocs", "PlacedAllocs"}}}
//   GET /v1/job/:job_id/allocations and GET /v1/deployment/allocations/:deployment_id
//                                       [{"ID", "JobID", "TaskGroup", "Namespace", "ClientStatus",
//                                         "DesiredStatus", "DeploymentID", "JobVersion",
//                                         "ModifyIndex", "DeploymentStatus": {"Healthy" (true,
//                                         false or null), "Canary", "Timestamp", "ModifyIndex"}
//                                         or null}]
//   GET /v1/client/allocation/:alloc_id/checks
//                                       {check id: {"ID", "Check", "Group", "Task", "Service",
//                                                   "Mode", "Status", "StatusCode", "Output",
//                                                   "Timestamp"}}
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace tern::sources::nomad {

// The job meta key (job or task group `meta`) that sets the percent of traffic a running
// deployment's canaries get; the group's value wins over the job's.
inline constexpr char kCanaryWeightJobMeta[] = "tern.canary_weight";

struct JobGroup {
  std::string name;
  uint32_t count = 0;
  uint32_t canary = 0;  // update.canary: the group's own, else the job's
  std::map<std::string, std::string> meta;
  bool operator==(const JobGroup&) const = default;
};

struct Job {
  std::string id;
  std::string namespace_name;
  uint64_t version = 0;
  uint64_t modify_index = 0;
  std::map<std::string, std::string> meta;
  std::vector<JobGroup> groups;
  bool operator==(const Job&) const = default;
};
absl::StatusOr<Job> DecodeJob(const std::string& json, const std::string& endpoint);

// Deployment statuses as Nomad names them. A status this tern does not know decodes as kUnknown
// (the raw text is kept), not as an error: a newer Nomad may add one.
enum class DeploymentStatus {
  kRunning,
  kSuccessful,
  kFailed,
  kCancelled,
  kPaused,
  kPending,
  kBlocked,
  kUnblocking,
  kInitializing,
  kUnknown,
};
std::string_view DeploymentStatusName(DeploymentStatus s);

struct DeploymentGroup {
  bool promoted = false;
  bool auto_revert = false;
  bool auto_promote = false;
  uint32_t desired_canaries = 0;
  uint32_t desired_total = 0;
  std::vector<std::string> placed_canaries;  // allocation IDs
  uint32_t placed_allocs = 0;
  uint32_t healthy_allocs = 0;
  uint32_t unhealthy_allocs = 0;
  bool operator==(const DeploymentGroup&) const = default;
};

struct Deployment {
  std::string id;
  std::string job_id;
  std::string namespace_name;
  uint64_t job_version = 0;
  DeploymentStatus status = DeploymentStatus::kUnknown;
  std::string status_text;  // as Nomad sent it
  std::string status_description;
  std::map<std::string, DeploymentGroup> task_groups;
  uint64_t modify_index = 0;
  bool operator==(const Deployment&) const = default;
};
// nullopt: the job has no deployment (Nomad answers `null`).
absl::StatusOr<std::optional<Deployment>> DecodeJobDeployment(const std::string& json, const std::string& endpoint);

struct AllocDeploymentStatus {
  std::optional<bool> healthy;  // null until the deployment watcher decides
  bool canary = false;
  std::string timestamp;
  uint64_t modify_index = 0;
  bool operator==(const AllocDeploymentStatus&) const = default;
};

struct Allocation {
  std::string id;
  std::string job_id;
  std::string task_group;
  std::string namespace_name;
  std::string client_status;   // pending, running, complete, failed, lost, unknown
  std::string desired_status;  // run, stop, evict
  std::string deployment_id;
  uint64_t job_version = 0;
  uint64_t modify_index = 0;
  std::optional<AllocDeploymentStatus> deployment_status;
  bool operator==(const Allocation&) const = default;
};
absl::StatusOr<std::vector<Allocation>> DecodeAllocations(const std::string& json, const std::string& endpoint);

enum class CheckMode { kHealthiness, kReadiness };
enum class CheckStatus { kSuccess, kFailure, kPending };

struct CheckResult {
  std::string id;
  std::string check;    // the check's name
  std::string group;    // "<job>.<group>[<index>]"
  std::string task;     // "" for a group service
  std::string service;
  CheckMode mode = CheckMode::kHealthiness;
  CheckStatus status = CheckStatus::kPending;
  int64_t status_code = 0;  // HTTP checks' status code
  std::string output;
  int64_t timestamp = 0;  // Unix seconds
  bool operator==(const CheckResult&) const = default;
};
// Sorted by check ID. An unknown Mode or Status is an error (tern cannot tell pass from fail).
absl::StatusOr<std::vector<CheckResult>> DecodeAllocationChecks(const std::string& json, const std::string& endpoint);

// Request paths. `namespace_name` "" means Nomad's default; `region` "" the agent's own.
std::string JobPath(const std::string& job_id, const std::string& namespace_name, const std::string& region);
std::string JobDeploymentPath(const std::string& job_id, const std::string& namespace_name, const std::string& region);
std::string JobAllocationsPath(const std::string& job_id, const std::string& namespace_name, const std::string& region);
std::string DeploymentAllocationsPath(const std::string& deployment_id, const std::string& namespace_name,
                                      const std::string& region);
std::string AllocationChecksPath(const std::string& alloc_id, const std::string& namespace_name,
                                 const std::string& region);

}  // namespace tern::sources::nomad
