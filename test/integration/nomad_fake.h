#pragma once
// build/tern-fake-nomad (test/tools/fake_nomad.cc) for integration tests: started on a free
// loopback port, driven through its /test control API and Nomad's own deployment write endpoints
// (promote, fail, allocation-health), stopped by PID with the object.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "support/process.h"

namespace tern::testing {

struct NomadHttpResult {
  long status = 0;
  std::string body;
  std::string index;  // the X-Nomad-Index header, "" when absent
};

// One HTTP request (GET, PUT, DELETE) with an optional X-Nomad-Token.
absl::StatusOr<NomadHttpResult> NomadRequest(const std::string& method, const std::string& url,
                                             const std::string& body = "", const std::string& token = "");

struct FakeNomadOptions {
  std::string token;         // non-empty: the fake requires it (ACLs on)
  int heartbeat_ms = 0;      // event stream heartbeats; 0 = Nomad's 10 s
  int event_buffer = 0;      // frames the event stream keeps; 0 = the fake's default (256)
};

// A job as the tests write it; SubmitJob turns it into Nomad's JSON.
struct FakeJobGroup {
  std::string name = "frontend";
  int count = 1;
  int canary = 0;  // update.canary
  bool auto_revert = false;
  bool auto_promote = false;
  std::map<std::string, std::string> meta;
};
struct FakeJob {
  std::string id;
  std::string namespace_name = "default";
  std::map<std::string, std::string> meta;
  std::vector<FakeJobGroup> groups;
};

class FakeNomad {
 public:
  // `token` non-empty: the fake requires it (ACLs on).
  static absl::StatusOr<std::unique_ptr<FakeNomad>> Start(const std::string& dir, const std::string& token = "");
  static absl::StatusOr<std::unique_ptr<FakeNomad>> Start(const std::string& dir, const FakeNomadOptions& options);

  std::string address() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  // A registration of `service` at 127.0.0.1:port for allocation `id` (registration ID
  // "_nomad-task-<id>-<service>", as Nomad names them).
  absl::Status Register(const std::string& id, const std::string& service, int port,
                        const std::string& namespace_name = "default");
  absl::Status Deregister(const std::string& id, const std::string& service = "greeter");
  absl::Status Fault(const std::string& mode);  // "500", "500-binary", "garbage", "none"
  // /v1 requests the fake has answered so far (-1 if it cannot be asked).
  long Requests();
  // Any counter of /test/stats ("index", "allocations", "streams", "stream_requests", ...); -1 if
  // it cannot be asked.
  long Stat(const std::string& name);
  // /v1 requests so far whose path (without the query) is `path` (-1 if it cannot be asked), and
  // all of them by path.
  long PathRequests(const std::string& path);
  std::map<std::string, long> RequestsByPath();

  // Registers the job (or its next version); returns the ID of the deployment that started.
  absl::StatusOr<std::string> SubmitJob(const FakeJob& job);
  // Places a running allocation of the job's current version, registering `service` at
  // 127.0.0.1:port ("" = no service). Returns whether Nomad made it a canary.
  absl::StatusOr<bool> PlaceAlloc(const std::string& alloc_id, const std::string& job_id, const std::string& group,
                                  const std::string& service, int port, const std::string& namespace_name = "default");
  absl::Status StopAlloc(const std::string& alloc_id);
  // Nomad's PUT /v1/deployment/allocation-health/:id, promote/:id (All) and fail/:id.
  absl::Status SetAllocHealth(const std::string& deployment_id, const std::vector<std::string>& healthy,
                              const std::vector<std::string>& unhealthy = {});
  absl::Status Promote(const std::string& deployment_id);
  absl::Status FailDeployment(const std::string& deployment_id);
  // The latest deployment's ID of a job ("" when it has none).
  absl::StatusOr<std::string> LatestDeployment(const std::string& job_id, const std::string& namespace_name = "default");
  // The allocation's check results, as GET /v1/client/allocation/:id/checks answers them (JSON).
  absl::Status SetChecks(const std::string& alloc_id, const std::string& checks_json);
  absl::Status StreamFault(const std::string& mode);  // "cut", "rewind", "garbage", "forbidden", "missing", "none"
  Subprocess& process() { return *process_; }

 private:
  int port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

// A GET whose body never ends (the event stream), read on a thread: the test reads what came so
// far and whether (and how) the transfer ended. Close() or the destructor aborts it.
class HttpStream {
 public:
  static std::unique_ptr<HttpStream> Open(const std::string& url, const std::string& token = "");
  ~HttpStream();
  std::string Bytes();   // everything received so far
  bool Done();           // the transfer ended (by the server, an error, or Close)
  int CurlCode();        // CURLcode of the end (0 = a clean end); -1 while running
  long Status();         // the HTTP status (0 until headers came)
  void Close();

 private:
  HttpStream() = default;
  void Run(std::string url, std::string token);
  std::mutex mu_;
  std::string bytes_;
  bool done_ = false;
  int code_ = -1;
  long status_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tern::testing
