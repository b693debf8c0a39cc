#include "xds/xds_server.h"

#include <spdlog/spdlog.h>

#include "envoy/service/cluster/v3/cds.grpc.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "envoy/service/endpoint/v3/eds.grpc.pb.h"
#include "envoy/service/listener/v3/lds.grpc.pb.h"
#include "envoy/service/route/v3/rds.grpc.pb.h"
#include "envoy/service/secret/v3/sds.grpc.pb.h"
#include "xds/sotw_reactor.h"
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
  explicit Services(StreamDeps deps) : ads_(deps), lds_(deps), rds_(deps), cds_(deps), eds_(deps), sds_(deps) {}

  void Register(grpc::ServerBuilder& b) {
    b.RegisterService(&ads_);
    b.RegisterService(&lds_);
    b.RegisterService(&rds_);
    b.RegisterService(&cds_);
    b.RegisterService(&eds_);
    b.RegisterService(&sds_);
  }

 private:
  struct Ads : ads::AggregatedDiscoveryService::WithRawCallbackMethod_StreamAggregatedResources<
                   ads::AggregatedDiscoveryService::Service> {
    explicit Ads(StreamDeps d) : deps(d) {}
    RawReactor* StreamAggregatedResources(grpc::CallbackServerContext* ctx) override {
      return new SotwReactor(ctx, deps, std::nullopt, "ads");
    }
    StreamDeps deps;
  };
  struct Lds : lds::ListenerDiscoveryService::WithRawCallbackMethod_StreamListeners<
                   lds::ListenerDiscoveryService::Service> {
    explicit Lds(StreamDeps d) : deps(d) {}
    RawReactor* StreamListeners(grpc::CallbackServerContext* ctx) override {
      return new SotwReactor(ctx, deps, ResourceType::kListener, "lds");
    }
    StreamDeps deps;
  };
  struct Rds : rds::RouteDiscoveryService::WithRawCallbackMethod_StreamRoutes<rds::RouteDiscoveryService::Service> {
    explicit Rds(StreamDeps d) : deps(d) {}
    RawReactor* StreamRoutes(grpc::CallbackServerContext* ctx) override {
      return new SotwReactor(ctx, deps, ResourceType::kRoute, "rds");
    }
    StreamDeps deps;
  };
  struct Cds : cds::ClusterDiscoveryService::WithRawCallbackMethod_StreamClusters<
                   cds::ClusterDiscoveryService::Service> {
    explicit Cds(StreamDeps d) : deps(d) {}
    RawReactor* StreamClusters(grpc::CallbackServerContext* ctx) override {
      return new SotwReactor(ctx, deps, ResourceType::kCluster, "cds");
    }
    StreamDeps deps;
  };
  struct Eds : eds::EndpointDiscoveryService::WithRawCallbackMethod_StreamEndpoints<
                   eds::EndpointDiscoveryService::Service> {
    explicit Eds(StreamDeps d) : deps(d) {}
    RawReactor* StreamEndpoints(grpc::CallbackServerContext* ctx) override {
      return new SotwReactor(ctx, deps, ResourceType::kEndpoint, "eds");
    }
    StreamDeps deps;
  };
  struct Sds : sds::SecretDiscoveryService::WithRawCallbackMethod_StreamSecrets<sds::SecretDiscoveryService::Service> {
    explicit Sds(StreamDeps d) : deps(d) {}
    RawReactor* StreamSecrets(grpc::CallbackServerContext* ctx) override {
      return new SotwReactor(ctx, deps, ResourceType::kSecret, "sds");
    }
    StreamDeps deps;
  };

  Ads ads_;
  Lds lds_;
  Rds rds_;
  Cds cds_;
  Eds eds_;
  Sds sds_;
};

XdsServer::XdsServer(cache::ConfigWatcher& watcher, XdsServerOptions options)
    : watcher_(watcher), options_(std::move(options)), registry_(std::make_unique<StreamRegistry>()) {
  services_ = std::make_unique<Services>(StreamDeps{watcher_, *registry_, options_.observer, options_.authorizer});
}

XdsServer::~XdsServer() { Shutdown(); }

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
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
    server_.reset();
  }
}

std::vector<StreamInfo> XdsServer::Streams() const { return registry_->All(); }

}  // namespace tern::xds
