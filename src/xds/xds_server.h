#pragma once
// The gRPC xDS server: ADS and the per-type discovery services, state-of-the-world, on the
// gRPC callback API (one reactor per stream, no thread per stream). Responses are assembled
// from the cache's pre-serialized resource bytes. CSDS (csds_service.h) is on the same server.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "cache/snapshot_cache.h"
#include "xds/client_status.h"
#include "xds/observer.h"
#include "xds/stream_info.h"

namespace tern::xds {

// Decides whether a stream may receive a node cluster's configuration (e.g. from its client
// certificate). Returning an error closes the stream with PERMISSION_DENIED.
class StreamAuthorizer {
 public:
  virtual ~StreamAuthorizer() = default;
  virtual absl::Status Authorize(const grpc::CallbackServerContext& ctx, const std::string& node_id,
                                 const std::string& node_cluster) = 0;
};

struct XdsServerOptions {
  std::string address = "127.0.0.1:18000";
  std::shared_ptr<grpc::ServerCredentials> credentials;  // null = insecure
  StreamAuthorizer* authorizer = nullptr;                // null = every stream allowed
  XdsObserver* observer = nullptr;
  // Threads that bring streams up to date after a publication (fanout_pool.h); 0: one per
  // hardware thread.
  size_t fanout_threads = 0;
};

class StreamRegistry;
class FanoutPool;

class XdsServer {
 public:
  XdsServer(cache::ConfigWatcher& watcher, XdsServerOptions options);
  ~XdsServer();
  XdsServer(const XdsServer&) = delete;
  XdsServer& operator=(const XdsServer&) = delete;

  // Binds and starts serving. `bound_port` receives the port (useful with port 0).
  absl::Status Start(int* bound_port = nullptr);
  void Shutdown();

  // A copy of every live stream's state, for /debug/proxies.
  std::vector<StreamInfo> Streams() const;
  // The same, each with its per-resource statuses when `with_resources` (computed now).
  std::vector<StreamStatus> Statuses(bool with_resources) const;
  uint64_t StreamChurn() const;  // moves whenever a stream opens or closes

 private:
  class Services;
  cache::ConfigWatcher& watcher_;
  XdsServerOptions options_;
  std::unique_ptr<StreamRegistry> registry_;
  std::unique_ptr<FanoutPool> fanout_;
  std::unique_ptr<Services> services_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace tern::xds
