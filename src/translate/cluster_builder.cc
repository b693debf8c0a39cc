#include "translate/cluster_builder.h"

#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "translate/proto_util.h"
#include "translate/tls_builder.h"

namespace tern::translate {
namespace {

namespace cluster = envoy::config::cluster::v3;

cluster::Cluster::LbPolicy LbPolicy(model::LbPolicy p) {
  switch (p) {
    case model::LbPolicy::kRoundRobin: return cluster::Cluster::ROUND_ROBIN;
    case model::LbPolicy::kLeastRequest: return cluster::Cluster::LEAST_REQUEST;
    case model::LbPolicy::kRandom: return cluster::Cluster::RANDOM;
    case model::LbPolicy::kRingHash: return cluster::Cluster::RING_HASH;
    case model::LbPolicy::kMaglev: return cluster::Cluster::MAGLEV;
  }
  return cluster::Cluster::ROUND_ROBIN;
}

void SetCircuitBreakers(const model::CircuitBreakers& cb, cluster::Cluster* out) {
  if (!cb.max_connections && !cb.max_pending_requests && !cb.max_requests && !cb.max_retries) return;
  auto* t = out->mutable_circuit_breakers()->add_thresholds();
  t->set_priority(envoy::config::core::v3::DEFAULT);
  if (cb.max_connections) t->mutable_max_connections()->set_value(*cb.max_connections);
  if (cb.max_pending_requests) t->mutable_max_pending_requests()->set_value(*cb.max_pending_requests);
  if (cb.max_requests) t->mutable_max_requests()->set_value(*cb.max_requests);
  if (cb.max_retries) t->mutable_max_retries()->set_value(*cb.max_retries);
}

void SetOutlierDetection(const model::OutlierDetection& od, cluster::Cluster* out) {
  auto* o = out->mutable_outlier_detection();
  o->mutable_consecutive_5xx()->set_value(od.consecutive_5xx);
  SetDuration(od.interval, o->mutable_interval());
  SetDuration(od.base_ejection_time, o->mutable_base_ejection_time());
  o->mutable_max_ejection_percent()->set_value(od.max_ejection_percent);
  if (od.enforcing_consecutive_5xx) o->mutable_enforcing_consecutive_5xx()->set_value(*od.enforcing_consecutive_5xx);
}

}  // namespace

model::Cluster WithUpstreamPolicy(const model::Cluster& c, const model::UpstreamPolicy& p) {
  model::Cluster out = c;
  const model::CircuitBreakers& cb = p.circuit_breakers;
  if (cb.max_connections) out.circuit_breakers.max_connections = cb.max_connections;
  if (cb.max_pending_requests) out.circuit_breakers.max_pending_requests = cb.max_pending_requests;
  if (cb.max_requests) out.circuit_breakers.max_requests = cb.max_requests;
  if (cb.max_retries) out.circuit_breakers.max_retries = cb.max_retries;
  if (p.outlier_detection) out.outlier_detection = p.outlier_detection;
  if (p.connect_timeout) out.connect_timeout = *p.connect_timeout;
  return out;
}

std::unique_ptr<cluster::Cluster> BuildCluster(const model::Cluster& c, const std::string& config_source) {
  auto out = std::make_unique<cluster::Cluster>();
  out->set_name(c.name);
  out->set_type(cluster::Cluster::EDS);
  auto* eds = out->mutable_eds_cluster_config();
  SetConfigSource(config_source, eds->mutable_eds_config());
  eds->set_service_name(c.name);
  SetDuration(c.connect_timeout, out->mutable_connect_timeout());
  out->set_lb_policy(LbPolicy(c.lb_policy));
  SetCircuitBreakers(c.circuit_breakers, out.get());
  if (c.outlier_detection) SetOutlierDetection(*c.outlier_detection, out.get());
  if (c.protocol == model::Protocol::kHttp2 || c.protocol == model::Protocol::kGrpc) {
    envoy::extensions::upstreams::http::v3::HttpProtocolOptions opts;
    opts.mutable_explicit_http_config()->mutable_http2_protocol_options();
    (*out->mutable_typed_extension_protocol_options())[kHttpProtocolOptionsKey].PackFrom(opts);
  }
  if (c.tls) *out->mutable_transport_socket() = BuildUpstreamTls(*c.tls, config_source);
  return out;
}

}  // namespace tern::translate
