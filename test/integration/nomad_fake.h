#pragma once
// build/tern-fake-nomad (test/tools/fake_nomad.cc) for integration tests: started on a free
// loopback port, driven through its /test control API, stopped by PID with the object.
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "support/process.h"

namespace tern::testing {

struct NomadHttpResult {
  long status = 0;
  std::string body;
};

// One HTTP request (GET, PUT, DELETE) with an optional X-Nomad-Token.
absl::StatusOr<NomadHttpResult> NomadRequest(const std::string& method, const std::string& url,
                                             const std::string& body = "", const std::string& token = "");

class FakeNomad {
 public:
  // `token` non-empty: the fake requires it (ACLs on).
  static absl::StatusOr<std::unique_ptr<FakeNomad>> Start(const std::string& dir, const std::string& token = "");

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
  Subprocess& process() { return *process_; }

 private:
  int port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace tern::testing
