#include "translate/tls_builder.h"

#include <arpa/inet.h>

#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "translate/proto_util.h"

namespace tern::translate {
namespace {

namespace tls = envoy::extensions::transport_sockets::tls::v3;

void SetSds(const std::string& name, const std::string& config_source, tls::SdsSecretConfig* out) {
  out->set_name(name);
  SetConfigSource(config_source, out->mutable_sds_config());
}

bool IsIpLiteral(const std::string& s) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// "spiffe://…" and other "scheme://" values are URI SANs (Consul Connect identities), IP
// literals are IP SANs, everything else is a DNS name.
tls::SubjectAltNameMatcher::SanType SanTypeOf(const std::string& san) {
  if (san.find("://") != std::string::npos) return tls::SubjectAltNameMatcher::URI;
  if (IsIpLiteral(san)) return tls::SubjectAltNameMatcher::IP_ADDRESS;
  return tls::SubjectAltNameMatcher::DNS;
}

envoy::config::core::v3::TransportSocket Wrap(const google::protobuf::Message& context) {
  envoy::config::core::v3::TransportSocket out;
  out.set_name(kTlsTransportSocketName);
  out.mutable_typed_config()->PackFrom(context);
  return out;
}

}  // namespace

std::unique_ptr<tls::Secret> BuildSecret(const model::Secret& secret) {
  auto out = std::make_unique<tls::Secret>();
  out->set_name(secret.name);
  if (secret.kind == model::Secret::Kind::kTlsCertificate) {
    auto* c = out->mutable_tls_certificate();
    c->mutable_certificate_chain()->set_inline_bytes(secret.cert_chain_pem);
    c->mutable_private_key()->set_inline_bytes(secret.private_key_pem);
  } else {
    out->mutable_validation_context()->mutable_trusted_ca()->set_inline_bytes(secret.trusted_ca_pem);
  }
  return out;
}

namespace {
// TLS 1.2 at least (1.3 negotiated when both ends have it: Envoy's maximum default), and for
// TLS 1.2 only forward-secret AEAD suites: the ECDHE + AES-GCM / ChaCha20-Poly1305 set that
// current guidance (NIST SP 800-52r2, Mozilla "intermediate") keeps. TLS 1.3's suites are all
// AEAD and not configurable in Envoy. docs/tls.md, "Protocol versions and cipher suites".
void SetTlsParams(tls::TlsParameters* params) {
  params->set_tls_minimum_protocol_version(tls::TlsParameters::TLSv1_2);
  for (const char* suite : {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
                            "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
                            "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"}) {
    params->add_cipher_suites(suite);
  }
}
}  // namespace

envoy::config::core::v3::TransportSocket BuildDownstreamTls(const model::ListenerTls& listener_tls,
                                                            const std::string& secret,
                                                            const std::string& config_source) {
  tls::DownstreamTlsContext ctx;
  auto* common = ctx.mutable_common_tls_context();
  SetSds(secret, config_source, common->add_tls_certificate_sds_secret_configs());
  SetTlsParams(common->mutable_tls_params());
  for (const auto& p : listener_tls.alpn) common->add_alpn_protocols(p);
  if (!listener_tls.client_ca_secret.empty()) {
    SetSds(listener_tls.client_ca_secret, config_source, common->mutable_validation_context_sds_secret_config());
  }
  if (listener_tls.require_client_cert) ctx.mutable_require_client_certificate()->set_value(true);
  return Wrap(ctx);
}

envoy::config::core::v3::TransportSocket BuildUpstreamTls(const model::UpstreamTls& upstream,
                                                          const std::string& config_source) {
  tls::UpstreamTlsContext ctx;
  if (!upstream.sni.empty()) ctx.set_sni(upstream.sni);
  auto* common = ctx.mutable_common_tls_context();
  SetTlsParams(common->mutable_tls_params());
  if (!upstream.client_cert_secret.empty()) {
    SetSds(upstream.client_cert_secret, config_source, common->add_tls_certificate_sds_secret_configs());
  }
  if (upstream.verify_sans.empty()) {
    SetSds(upstream.ca_secret, config_source, common->mutable_validation_context_sds_secret_config());
  } else {
    // The CA comes over SDS; the SAN requirement is ours, so the two are combined.
    auto* combined = common->mutable_combined_validation_context();
    for (const auto& san : upstream.verify_sans) {
      auto* m = combined->mutable_default_validation_context()->add_match_typed_subject_alt_names();
      m->set_san_type(SanTypeOf(san));
      m->mutable_matcher()->set_exact(san);
    }
    SetSds(upstream.ca_secret, config_source, combined->mutable_validation_context_sds_secret_config());
  }
  return Wrap(ctx);
}

}  // namespace tern::translate
