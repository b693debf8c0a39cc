#pragma once
// A raw xDS client for protocol tests: sends exactly the DiscoveryRequests a test writes and
// hands back every DiscoveryResponse in arrival order. No protocol logic of its own.
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/synchronization/mutex.h"
#include "envoy/service/discovery/v3/discovery.pb.h"

namespace tern::testing {

using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;
using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;

class RawXdsClient {
 public:
  // `method`: full gRPC method, e.g. "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources".
  RawXdsClient(const std::string& target, const std::string& method);
  // Over the given channel credentials (e.g. TLS to an xds.tls server), with `args` (e.g. the
  // name to verify).
  RawXdsClient(const std::string& target, const std::string& method,
               const std::shared_ptr<grpc::ChannelCredentials>& credentials, const grpc::ChannelArguments& args);
  ~RawXdsClient();

  bool Send(const DiscoveryRequest& req);
  bool SendRaw(const std::string& bytes);
  // Next response, or nullopt after `timeout`.
  std::optional<DiscoveryResponse> Next(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // The same for a delta stream; also gives the response's size on the wire.
  std::optional<DeltaDiscoveryResponse> NextDelta(std::chrono::milliseconds timeout = std::chrono::seconds(5),
                                                  size_t* bytes = nullptr);
  std::optional<std::string> NextRaw(std::chrono::milliseconds timeout);
  bool Send(const DeltaDiscoveryRequest& req) { return SendRaw(req.SerializeAsString()); }
  // True if no response arrives within `wait`.
  bool Quiet(std::chrono::milliseconds wait = std::chrono::milliseconds(300));
  // Half-closes and returns the final status.
  grpc::Status Finish();
  // Waits for the server to end the stream and returns its status.
  grpc::Status AwaitStatus(std::chrono::milliseconds timeout = std::chrono::seconds(5));

  static DiscoveryRequest Request(const std::string& type_url, std::vector<std::string> names,
                                  const std::string& version = "", const std::string& nonce = "",
                                  const std::string& node_cluster = "edge", const std::string& node_id = "envoy-1");

 private:
  void ReadLoop();
  std::shared_ptr<grpc::Channel> channel_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::GenericStub> stub_;
  absl::Mutex mu_;
  std::deque<std::string> responses_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> status_ ABSL_GUARDED_BY(mu_);
  bool write_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex write_mu_;
  std::thread reader_;
};

// The ADS method and the endpoint type URL, as most protocol tests use them.
inline constexpr char kAdsMethod[] = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
inline constexpr char kEndpointTypeUrl[] = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

// The number of endpoints (all localities) of a response carrying exactly one
// ClusterLoadAssignment; -1 for any other response.
int EndpointCount(const DiscoveryResponse& r);

}  // namespace tern::testing
