#include "xds/csds_service.h"

#include <spdlog/spdlog.h>

#include <google/protobuf/util/time_util.h>

#include "xds/node_matcher.h"

namespace tern::xds {

namespace status = envoy::service::status::v3;
using google::protobuf::util::TimeUtil;

namespace {

google::protobuf::Timestamp ToTimestamp(std::chrono::system_clock::time_point t) {
  return TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

void FillClientConfig(const StreamStatus& s, envoy::config::core::v3::Node node, bool with_contents,
                      status::ClientConfig* out) {
  *out->mutable_node() = std::move(node);
  for (const ResourceStatus& r : s.resources) {
    const TypeInfo& ti = s.info.types[static_cast<size_t>(r.type)];
    auto* g = out->add_generic_xds_configs();
    g->set_type_url(std::string(TypeUrl(r.type)));
    g->set_name(r.name);
    g->set_version_info(r.version);
    g->set_config_status(static_cast<status::ConfigStatus>(r.config_status));
    g->set_client_status(static_cast<envoy::admin::v3::ClientResourceStatus>(r.client_status));
    // Secrets hold private keys: their contents never leave tern through a debugging API.
    if (with_contents && r.sent && r.type != ResourceType::kSecret) {
      g->mutable_xds_config()->set_type_url(std::string(TypeUrl(r.type)));
      g->mutable_xds_config()->set_value(r.sent->body);
    }
    if (r.config_status != ConfigStatus::kNotSent && ti.last_sent_at.time_since_epoch().count() != 0) {
      *g->mutable_last_updated() = ToTimestamp(ti.last_sent_at);
    }
    if (r.failing) {
      auto* e = g->mutable_error_state();
      e->set_details(ti.last_nack);
      e->set_version_info(ti.version_nacked);
      *e->mutable_last_update_attempt() = ToTimestamp(ti.last_nack_at);
    }
  }
}

}  // namespace

absl::StatusOr<status::ClientStatusResponse> AnswerClientStatus(const StreamRegistry& registry,
                                                                const status::ClientStatusRequest& request) {
  auto matchers = NodeMatchers::Compile(request.node_matchers());
  if (!matchers.ok()) {
    return absl::InvalidArgumentError("ClientStatusRequest." + std::string(matchers.status().message()));
  }
  auto node_of = [](const StreamIdentity& info) {
    envoy::config::core::v3::Node node;
    if (!node.ParseFromString(info.node)) {
      node.Clear();
      node.set_id(info.node_id);
      node.set_cluster(info.node_cluster);
    }
    return node;
  };
  auto streams = registry.Statuses(
      [&](const StreamIdentity& info) {
        if (info.node.empty()) return false;  // no first request yet: nothing to say
        envoy::config::core::v3::Node node = node_of(info);
        return matchers->Matches(node.id(), node.metadata());
      },
      /*with_resources=*/true);
  status::ClientStatusResponse response;
  for (const auto& s : streams) {
    FillClientConfig(s, node_of(s.info), !request.exclude_resource_contents(), response.add_config());
  }
  return response;
}

grpc::ServerUnaryReactor* CsdsService::FetchClientStatus(grpc::CallbackServerContext* ctx,
                                                         const status::ClientStatusRequest* request,
                                                         status::ClientStatusResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  auto answer = AnswerClientStatus(registry_, *request);
  if (!answer.ok()) {
    spdlog::warn("CSDS request from {} refused: {}", ctx->peer(), std::string(answer.status().message()));
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(answer.status().message())));
    return reactor;
  }
  *response = std::move(*answer);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

namespace {

// One request at a time: read, answer, write, read again. A bad request ends the stream with
// INVALID_ARGUMENT (earlier answers stand).
class CsdsStreamReactor : public grpc::ServerBidiReactor<status::ClientStatusRequest, status::ClientStatusResponse> {
 public:
  CsdsStreamReactor(grpc::CallbackServerContext* ctx, const StreamRegistry& registry)
      : ctx_(ctx), registry_(registry) {
    StartRead(&request_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    auto answer = AnswerClientStatus(registry_, request_);
    if (!answer.ok()) {
      spdlog::warn("CSDS request from {} refused: {}", ctx_->peer(), std::string(answer.status().message()));
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(answer.status().message())));
      return;
    }
    response_ = std::move(*answer);
    StartWrite(&response_);
  }
  void OnWriteDone(bool ok) override {
    response_.Clear();
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    request_.Clear();
    StartRead(&request_);
  }
  void OnDone() override { delete this; }

 private:
  grpc::CallbackServerContext* ctx_;
  const StreamRegistry& registry_;
  status::ClientStatusRequest request_;
  status::ClientStatusResponse response_;
};

}  // namespace

grpc::ServerBidiReactor<status::ClientStatusRequest, status::ClientStatusResponse>* CsdsService::StreamClientStatus(
    grpc::CallbackServerContext* ctx) {
  return new CsdsStreamReactor(ctx, registry_);
}

}  // namespace tern::xds
