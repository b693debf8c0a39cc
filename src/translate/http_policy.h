#pragma once
// What a gateway's HTTP connection managers carry besides routing: tracing, access logs,
// request ids and local rate limits. Only gateway listeners get these; the API listeners of
// proxyless gRPC clients keep the router alone (gRPC 1.51 NACKs HTTP filters it does not know,
// see docs/xds.md "Proxyless clients").
#include <string>
#include <vector>

#include "envoy/config/accesslog/v3/accesslog.pb.h"
#include "envoy/config/route/v3/route_components.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "model/model.h"

namespace tern::translate {

inline constexpr char kLocalRateLimitFilterName[] = "envoy.filters.http.local_ratelimit";
inline constexpr char kOpenTelemetryTracerName[] = "envoy.tracers.opentelemetry";
inline constexpr char kZipkinTracerName[] = "envoy.tracers.zipkin";

// The effective telemetry of one gateway (its own settings, else the world's defaults).
struct HttpPolicy {
  std::string gateway;
  const model::Tracing* tracing = nullptr;
  const std::vector<model::AccessLog>* access_logs = nullptr;
  model::RequestId request_id;
};

using HttpConnectionManager = envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;

// Tracing, access logs and request-id settings.
void ApplyHttpPolicy(const HttpPolicy& policy, HttpConnectionManager* hcm);

// The default JSON access-log fields (field → Envoy command operator), documented in config.md.
const std::vector<std::pair<std::string, std::string>>& DefaultAccessLogFields();

// The default JSON fields of a connection's access log (TCP listeners, listener logs): no HTTP fields.
const std::vector<std::pair<std::string, std::string>>& DefaultConnectionAccessLogFields();

// Access logs of connections: a TCP proxy's (every log), or a listener's own (`listener_only`:
// the logs with `listener` set, for connections closed before a filter chain takes them). Status
// ranges do not apply; sampling does; a grpc log uses the TCP access-log service config.
void AddConnectionAccessLogs(const std::vector<model::AccessLog>& logs, bool listener_only,
                             google::protobuf::RepeatedPtrField<envoy::config::accesslog::v3::AccessLog>* out);

// True when the listener, one of its hosts or one of their routes has a rate limit.
bool HasRateLimits(const model::Listener& listener);

// Adds the local rate-limit filter (before the router) to `hcm`, with the listener's own bucket
// if it has one; hosts and routes override it through typed_per_filter_config.
void AddLocalRateLimitFilter(const model::Listener& listener, HttpConnectionManager* hcm);

// A host's or route's own bucket.
void SetRateLimitOverride(const model::RateLimit& limit, const std::string& stat_prefix,
                          google::protobuf::Map<std::string, google::protobuf::Any>* per_filter);

}  // namespace tern::translate
