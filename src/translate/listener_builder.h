#pragma once
// Listeners: gateway listeners (a socket Envoy binds) and proxyless API listeners (what a gRPC
// client gets for xds:///SERVICE).
#include <memory>
#include <string>

#include "envoy/config/listener/v3/listener.pb.h"
#include "model/model.h"
#include "translate/http_policy.h"

namespace tern::translate {

inline constexpr char kHcmFilterName[] = "envoy.filters.network.http_connection_manager";
inline constexpr char kTcpProxyFilterName[] = "envoy.filters.network.tcp_proxy";
inline constexpr char kRouterFilterName[] = "envoy.filters.http.router";
inline constexpr char kOnDemandFilterName[] = "envoy.filters.http.on_demand";

// HTTP-like listeners get an HTTP connection manager whose routes come over RDS under the
// listener's name; kTcp listeners forward to listener.tcp_cluster. A listener with `tls` gets a
// TLS inspector and one filter chain per certificate (matched on SNI), each terminating TLS with
// its certificate from SDS (see tls_builder.h). HTTP connection managers carry `policy` (tracing,
// access logs, request ids) and, when the listener or its hosts or routes have rate limits, the
// local rate-limit filter before the router. `on_demand_hosts`: its route configuration's virtual
// hosts come over VHDS, which Envoy requests only from the on-demand filter (put before the router).
std::unique_ptr<envoy::config::listener::v3::Listener> BuildGatewayListener(
    const model::Listener& listener, const std::string& config_source, const HttpPolicy& policy = {},
    bool on_demand_hosts = false);

// An API listener named like the service, pointing at RouteConfiguration `route_config_name`.
std::unique_ptr<envoy::config::listener::v3::Listener> BuildApiListener(
    const std::string& service, const std::string& route_config_name, const std::string& config_source);

}  // namespace tern::translate
