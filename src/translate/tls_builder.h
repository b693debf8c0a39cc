#pragma once
// TLS: SDS secrets and the transport sockets that point at them. Listeners and clusters never
// carry key material inline; they name secrets that Envoy fetches over ADS (SDS), so a rotated
// certificate is a new Secret under the same name and nothing else changes (no listener drain).
#include <memory>
#include <string>

#include "envoy/config/core/v3/base.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "model/model.h"

namespace tern::translate {

inline constexpr char kTlsTransportSocketName[] = "envoy.transport_sockets.tls";
inline constexpr char kTlsInspectorName[] = "envoy.filters.listener.tls_inspector";
inline constexpr char kTlsInspectorType[] =
    "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector";

// envoy.extensions.transport_sockets.tls.v3.Secret: a tls_certificate (chain + private key) or a
// validation_context (trusted CA), PEM as inline bytes.
std::unique_ptr<envoy::extensions::transport_sockets::tls::v3::Secret> BuildSecret(const model::Secret& secret);

// The transport socket of one filter chain of a TLS listener: DownstreamTlsContext presenting
// `secret` over SDS, TLS 1.2 minimum, the listener's ALPN, and client verification when asked.
envoy::config::core::v3::TransportSocket BuildDownstreamTls(const model::ListenerTls& tls,
                                                            const std::string& secret,
                                                            const std::string& config_source);

// A cluster's transport socket: UpstreamTlsContext verifying the upstream against the CA secret
// (and SANs), presenting the client certificate secret for mTLS.
envoy::config::core::v3::TransportSocket BuildUpstreamTls(const model::UpstreamTls& tls,
                                                          const std::string& config_source);

}  // namespace tern::translate
