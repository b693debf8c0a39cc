#include "xds/xds_server.h"

#include <spdlog/spdlog.h>

#include "envoy/service/cluster/v3/cds.grpc.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "envoy/service/endpoint/v3/eds.grpc.pb.h"
#include "envoy/service/listener/v3/lds.grpc.pb.h"
#include "envoy/service/route/v3/rds.grpc.pb.h"
#include "envoy/service/secret/v3/sds.grpc.pb.h"
#include "xds/csds_service.h"
#include "xds/fanout_pool.h"
#include "xds/stream_reactor.h"
#include "xds/stream_registry.h"

namespace tern::xds {

namespace ads = envoy::service::discovery::v3;
namespace lds = envoy::service::listener::v3;
namespace rds = envoy::service::route::v3;
namespace cds = envoy::service::cluster::v3;
namespace eds = envoy::service::endpoint::v3;
namespace sds = envoy::service::secret::v3;

using RawReactor = grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>;

// The generated "raw callback" services hand us grpc::ByteBuffers, so responses are written
// from pre-serialized bytes.
class XdsServer::Services {
 public:
  explicit Services(StreamDeps deps)
      : ads_(deps), lds_(deps), rds_(deps), cds_(deps), eds_(deps), sds_(deps), vhds_(deps), csds_(deps.registry) {}

  void Register(grpc::ServerBuilder& b) {
    b.RegisterService(&ads_);
    b.RegisterService(&lds_);
    b.RegisterService(&rds_);
    b.RegisterService(&cds_);
    b.RegisterService(&eds_);
    b.RegisterService(&sds_);
    b.RegisterService(&vhds_);
    b.RegisterService(&csds_);
  }

 private:
  // Each service implements its state-of-the-world and its delta method; both make a reactor.
#define TERN_XDS_SERVICE(Struct, Svc, Sotw, Delta, Type, Label)                                     \
  struct Struct : Svc::WithRawCallbackMethod_##Sotw<Svc::WithRawCallbackMethod_##Delta<Svc::Service>> { \
    explicit Struct(StreamDeps d) : deps(d) {}                                                      \
    RawReactor* Sotw(grpc::CallbackServerContext* ctx) override {                                   \
      return new SotwReactor(ctx, deps, Type, Label);                                               \
    }                                                                                               \
    RawReactor* Delta(grpc::CallbackServerContext* ctx) override {                                  \
      return new DeltaReactor(ctx, deps, Type, Label "-delta");                                     \
    }                                                                                               \
    StreamDeps deps;                                                                                \
  }

  TERN_XDS_SERVICE(Ads, ads::AggregatedDiscoveryService, StreamAggregatedResources, DeltaAggregatedResources,
                   std::nullopt, "ads");
  TERN_XDS_SERVICE(Lds, lds::ListenerDiscoveryService, StreamListeners, DeltaListeners, ResourceType::kListener,
                   "lds");
  TERN_XDS_SERVICE(Rds, rds::RouteDiscoveryService, StreamRoutes, DeltaRoutes, ResourceType::kRoute, "rds");
  TERN_XDS_SERVICE(Cds, cds::ClusterDiscoveryService, StreamClusters, DeltaClusters, ResourceType::kCluster, "cds");
  TERN_XDS_SERVICE(Eds, eds::EndpointDiscoveryService, StreamEndpoints, DeltaEndpoints, ResourceType::kEndpoint,
                   "eds");
  TERN_XDS_SERVICE(Sds, sds::SecretDiscoveryService, StreamSecrets, DeltaSecrets, ResourceType::kSecret, "sds");
#undef TERN_XDS_SERVICE

  // VHDS exists only as a delta service.
  struct Vhds : rds::VirtualHostDiscoveryService::WithRawCallbackMethod_DeltaVirtualHosts<
                    rds::VirtualHostDiscoveryService::Service> {
    explicit Vhds(StreamDeps d) : deps(d) {}
    RawReactor* DeltaVirtualHosts(grpc::CallbackServerContext* ctx) override {
      return new DeltaReactor(ctx, deps, ResourceType::kVirtualHost, "vhds");
    }
    StreamDeps deps;
  };

  Ads ads_;
  Lds lds_;
  Rds rds_;
  Cds cds_;
  Eds eds_;
  Sds sds_;
  Vhds vhds_;
  CsdsService csds_;
};

XdsServer::XdsServer(cache::ConfigWatcher& watcher, XdsServerOptions options)
    : watcher_(watcher),
      options_(std::move(options)),
      registry_(std::make_unique<StreamRegistry>()),
      fanout_(std::make_unique<FanoutPool>(options_.fanout_threads)) {
  services_ = std::make_unique<Services>(
      StreamDeps{watcher_, *registry_, options_.observer, options_.authorizer, fanout_.get()});
}

// The pool stops after the streams (a queued stream whose reactor is gone is a no-op).
XdsServer::~XdsServer() {
  Shutdown();
  fanout_->Stop();
}

absl::Status XdsServer::Start(int* bound_port) {
  grpc::ServerBuilder builder;
  int port = 0;
  auto creds = options_.credentials ? options_.credentials : grpc::InsecureServerCredentials();
  builder.AddListeningPort(options_.address, creds, &port);
  // Proxies keep streams open for days; keep them alive through idle NATs and notice dead peers.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.SetMaxReceiveMessageSize(4 * 1024 * 1024);
  builder.SetMaxSendMessageSize(256 * 1024 * 1024);
  services_->Register(builder);
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0) {
    server_.reset();
    return absl::UnavailableError("cannot listen for xDS on " + options_.address);
  }
  if (bound_port) *bound_port = port;
  spdlog::info("xDS server listening on {} (port {})", options_.address, port);
  return absl::OkStatus();
}

void XdsServer::Shutdown() {
  if (server_) {
    // xDS streams never end by themselves: after a short grace for unary calls (CSDS fetches)
    // every stream is cancelled, and proxies see UNAVAILABLE and reconnect to another replica.
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    server_->Wait();
    server_.reset();
  }
}

std::vector<StreamInfo> XdsServer::Streams() const { return registry_->All(); }
uint64_t XdsServer::StreamChurn() const { return registry_->Churn(); }
std::vector<StreamStatus> XdsServer::Statuses(bool with_resources) const {
  return registry_->Statuses([](const StreamIdentity&) { return true; }, with_resources);
}

}  // namespace tern::xds
