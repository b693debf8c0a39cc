#pragma once
// CSDS: envoy.service.status.v3.ClientStatusDiscoveryService on the xDS server. It answers, for
// every connected xDS stream whose node matches the request's node_matchers (node_matcher.h),
// what tern sent that proxy and how the proxy answered, resource by resource (client_status.h).
// Both methods are on the callback API; an answer is computed in the reaction from copies of
// the streams' state (short per-stream locks, no I/O, nothing waits).
#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "envoy/service/status/v3/csds.grpc.pb.h"
#include "xds/stream_registry.h"

namespace tern::xds {

// The answer to one request; INVALID_ARGUMENT naming the field for a matcher tern cannot apply.
absl::StatusOr<envoy::service::status::v3::ClientStatusResponse> AnswerClientStatus(
    const StreamRegistry& registry, const envoy::service::status::v3::ClientStatusRequest& request);

class CsdsService : public envoy::service::status::v3::ClientStatusDiscoveryService::CallbackService {
 public:
  explicit CsdsService(const StreamRegistry& registry) : registry_(registry) {}

  grpc::ServerUnaryReactor* FetchClientStatus(grpc::CallbackServerContext* ctx,
                                              const envoy::service::status::v3::ClientStatusRequest* request,
                                              envoy::service::status::v3::ClientStatusResponse* response) override;
  grpc::ServerBidiReactor<envoy::service::status::v3::ClientStatusRequest,
                          envoy::service::status::v3::ClientStatusResponse>*
  StreamClientStatus(grpc::CallbackServerContext* ctx) override;

 private:
  const StreamRegistry& registry_;
};

}  // namespace tern::xds
