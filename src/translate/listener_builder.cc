#include "translate/listener_builder.h"

#include "envoy/extensions/filters/http/on_demand/v3/on_demand.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "translate/proto_util.h"
#include "translate/tls_builder.h"

namespace tern::translate {
namespace {

using envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;

HttpConnectionManager MakeHcm(const std::string& stat_prefix, const std::string& route_config_name,
                              const std::string& config_source, const model::Listener* gateway_listener = nullptr,
                              const HttpPolicy* policy = nullptr, bool on_demand_hosts = false) {
  HttpConnectionManager hcm;
  hcm.set_stat_prefix(stat_prefix);
  hcm.set_codec_type(HttpConnectionManager::AUTO);
  auto* rds = hcm.mutable_rds();
  SetConfigSource(config_source, rds->mutable_config_source());
  rds->set_route_config_name(route_config_name);
  // Gateway listeners only: API listeners of proxyless clients get none of this.
  if (policy) ApplyHttpPolicy(*policy, &hcm);
  if (gateway_listener && HasRateLimits(*gateway_listener)) AddLocalRateLimitFilter(*gateway_listener, &hcm);
  if (on_demand_hosts) {
    // Asks VHDS for the virtual host of a Host the route table does not know yet; no on-demand
    // clusters (odcds unset).
    auto* od = hcm.add_http_filters();
    od->set_name(kOnDemandFilterName);
    od->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::on_demand::v3::OnDemand());
  }
  // Envoy and gRPC require the router to be the last filter.
  auto* router = hcm.add_http_filters();
  router->set_name(kRouterFilterName);
  router->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::router::v3::Router());
  return hcm;
}

}  // namespace

std::unique_ptr<envoy::config::listener::v3::Listener> BuildGatewayListener(
    const model::Listener& listener, const std::string& config_source, const HttpPolicy& policy,
    bool on_demand_hosts) {
  auto out = std::make_unique<envoy::config::listener::v3::Listener>();
  out->set_name(listener.name);
  auto* sa = out->mutable_address()->mutable_socket_address();
  sa->set_address(listener.address);
  sa->set_port_value(listener.port);
  envoy::config::listener::v3::Filter filter;
  if (listener.protocol == model::Protocol::kTcp) {
    envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy tcp;
    tcp.set_stat_prefix(listener.name);
    tcp.set_cluster(listener.tcp_cluster);
    if (policy.access_logs) AddConnectionAccessLogs(*policy.access_logs, /*listener_only=*/false, tcp.mutable_access_log());
    filter.set_name(kTcpProxyFilterName);
    filter.mutable_typed_config()->PackFrom(tcp);
  } else {
    filter.set_name(kHcmFilterName);
    filter.mutable_typed_config()->PackFrom(MakeHcm(listener.name, listener.name, config_source, &listener, &policy, on_demand_hosts));
  }
  // Listener logs: connections closed before a filter chain takes them.
  if (policy.access_logs) AddConnectionAccessLogs(*policy.access_logs, /*listener_only=*/true, out->mutable_access_log());
  if (!listener.tls) {
    *out->add_filter_chains()->add_filters() = std::move(filter);
    return out;
  }
  // TLS: one filter chain per certificate, chosen by the client's SNI (read by the TLS
  // inspector); every chain runs the same filters. The certificate itself comes over SDS.
  auto* inspector = out->add_listener_filters();
  inspector->set_name(kTlsInspectorName);
  // TlsInspector's defaults are what we want.
  inspector->mutable_typed_config()->PackFrom(envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector());
  for (const model::SniCert& cert : listener.tls->certs) {
    auto* chain = out->add_filter_chains();
    for (const auto& n : cert.server_names) chain->mutable_filter_chain_match()->add_server_names(n);
    *chain->add_filters() = filter;
    *chain->mutable_transport_socket() = BuildDownstreamTls(*listener.tls, cert.secret, config_source);
  }
  return out;
}

std::unique_ptr<envoy::config::listener::v3::Listener> BuildApiListener(
    const std::string& service, const std::string& route_config_name, const std::string& config_source) {
  auto out = std::make_unique<envoy::config::listener::v3::Listener>();
  out->set_name(service);
  out->mutable_api_listener()->mutable_api_listener()->PackFrom(
      MakeHcm(service, route_config_name, config_source));
  return out;
}

}  // namespace tern::translate
