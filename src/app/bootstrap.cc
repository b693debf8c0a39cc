// `tern bootstrap`: the file a proxy starts from. For Envoy, a v3 Bootstrap (YAML) whose only static
// resource is the cluster `tern_xds`, with everything else over ADS; with --grpc, the JSON bootstrap
// that proxyless gRPC clients read from GRPC_XDS_BOOTSTRAP.
//
// Every value from the command line is written as a quoted, escaped string (JSON string syntax,
// which YAML's double-quoted scalars accept), so a node id or metadata value cannot change the
// structure of the file. Invalid UTF-8 is refused rather than replaced.
#include <cstdio>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "app/commands.h"

namespace tern::app {

namespace {
bool SplitHostPort(const std::string& addr, std::string* host, int* port) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) return false;
  *host = addr.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  const std::string p = addr.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  *port = std::stoi(p);
  return *port > 0 && *port < 65536 && !host->empty();
}

bool IsIp(const std::string& host) {
  return host.find_first_not_of("0123456789.") == std::string::npos || host.find(':') != std::string::npos;
}

// Well-formed UTF-8 (Unicode table 3-7: no overlong forms, no surrogates, nothing past U+10FFFF).
bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
    if (c < 0x80) n = 0;
    else if (c >= 0xC2 && c <= 0xDF) n = 1;
    else if (c == 0xE0) n = 2, lo = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) n = 2;
    else if (c == 0xED) n = 2, hi = 0x9F;
    else if (c == 0xF0) n = 3, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) n = 3;
    else if (c == 0xF4) n = 3, hi = 0x8F;
    else return false;
    if (s.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const unsigned char b = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) return false;
    }
    i += n + 1;
  }
  return true;
}

// A JSON string literal; also a valid YAML double-quoted scalar. Only called on valid UTF-8.
std::string Quote(const std::string& s) { return nlohmann::json(s).dump(); }

struct Inputs {
  std::string host;
  int port = 0;
  std::map<std::string, std::string> metadata;
  bool tls = false;
};

absl::StatusOr<Inputs> Check(const BootstrapArgs& a) {
  Inputs in;
  if (!SplitHostPort(a.xds, &in.host, &in.port)) {
    return absl::InvalidArgumentError("--xds '" + a.xds + "' is not host:port");
  }
  for (const auto& [flag, value] :
       std::map<std::string, const std::string*>{{"--node-id", &a.node_id}, {"--node-cluster", &a.node_cluster},
                                                 {"--tls-ca", &a.tls_ca}, {"--tls-cert", &a.tls_cert},
                                                 {"--tls-key", &a.tls_key}, {"--tls-server-name", &a.tls_server_name}}) {
    if (!ValidUtf8(*value)) return absl::InvalidArgumentError(flag + " is not valid UTF-8");
  }
  if (a.node_cluster.empty()) return absl::InvalidArgumentError("--node-cluster cannot be empty");
  if (a.node_id.empty()) return absl::InvalidArgumentError("--node-id cannot be empty");
  for (size_t i = 0; i < a.metadata.size(); ++i) {
    const std::string& kv = a.metadata[i];
    size_t eq = kv.find('=');
    if (!ValidUtf8(kv)) return absl::InvalidArgumentError("--metadata " + std::to_string(i + 1) + " is not valid UTF-8");
    const std::string where = "--metadata '" + kv + "'";
    if (eq == std::string::npos || eq == 0) return absl::InvalidArgumentError(where + " is not KEY=VALUE");
    if (!in.metadata.emplace(kv.substr(0, eq), kv.substr(eq + 1)).second) {
      return absl::InvalidArgumentError(where + ": key '" + kv.substr(0, eq) + "' is given twice");
    }
  }
  in.tls = !a.tls_ca.empty() || !a.tls_cert.empty() || !a.tls_key.empty() || !a.tls_server_name.empty();
  if (in.tls && a.tls_ca.empty()) {
    return absl::InvalidArgumentError("xDS over TLS needs --tls-ca (the CA that tern's certificate chains to)");
  }
  if (a.tls_cert.empty() != a.tls_key.empty()) {
    return absl::InvalidArgumentError("a client certificate needs both --tls-cert and --tls-key");
  }
  if (a.grpc && !a.tls_server_name.empty()) {
    return absl::InvalidArgumentError(
        "--tls-server-name is not supported with --grpc: gRPC checks tern's certificate against the host of --xds");
  }
  return in;
}

std::string GrpcBootstrap(const BootstrapArgs& a, const Inputs& in) {
  // gRFC A27 (bootstrap) and A65 (channel_creds type "tls", file-watcher style paths).
  nlohmann::json creds = {{"type", "insecure"}};
  if (in.tls) {
    nlohmann::json config = {{"ca_certificate_file", a.tls_ca}};
    if (!a.tls_cert.empty()) {
      config["certificate_file"] = a.tls_cert;
      config["private_key_file"] = a.tls_key;
    }
    creds = {{"type", "tls"}, {"config", std::move(config)}};
  }
  const std::string host = in.host.find(':') != std::string::npos ? "[" + in.host + "]" : in.host;
  nlohmann::json node = {{"id", a.node_id}, {"cluster", a.node_cluster}, {"locality", nlohmann::json::object()}};
  if (!in.metadata.empty()) node["metadata"] = in.metadata;
  nlohmann::json j = {
      {"xds_servers", nlohmann::json::array({{{"server_uri", host + ":" + std::to_string(in.port)},
                                              {"channel_creds", nlohmann::json::array({creds})},
                                              {"server_features", nlohmann::json::array({"xds_v3"})}}})},
      {"node", std::move(node)}};
  return j.dump(2) + "\n";
}

std::string EnvoyBootstrap(const BootstrapArgs& a, const Inputs& in) {
  std::string y;
  y += "# Envoy bootstrap generated by `tern bootstrap`: all configuration comes from tern over ADS.\n";
  y += "node:\n";
  y += "  id: " + Quote(a.node_id) + "\n";
  y += "  cluster: " + Quote(a.node_cluster) + "\n";
  if (!in.metadata.empty()) {
    y += "  metadata:\n";
    for (const auto& [k, v] : in.metadata) y += "    " + Quote(k) + ": " + Quote(v) + "\n";
  }
  y += "admin:\n"
       "  address:\n"
       "    socket_address: { address: 127.0.0.1, port_value: " + std::to_string(a.admin_port) + " }\n"
       "dynamic_resources:\n"
       "  ads_config:\n"
       "    api_type: GRPC\n"
       "    transport_api_version: V3\n"
       "    set_node_on_first_message_only: true\n"
       "    grpc_services:\n"
       "    - envoy_grpc: { cluster_name: tern_xds }\n"
       "  cds_config: { ads: {}, resource_api_version: V3 }\n"
       "  lds_config: { ads: {}, resource_api_version: V3 }\n"
       "static_resources:\n"
       "  clusters:\n"
       "  - name: tern_xds\n"
       "    type: " + std::string(IsIp(in.host) ? "STATIC" : "STRICT_DNS") + "\n"
       "    connect_timeout: 1s\n"
       "    typed_extension_protocol_options:\n"
       "      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:\n"
       "        \"@type\": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions\n"
       "        explicit_http_config: { http2_protocol_options: {} }\n"
       "    load_assignment:\n"
       "      cluster_name: tern_xds\n"
       "      endpoints:\n"
       "      - lb_endpoints:\n"
       "        - endpoint:\n"
       "            address:\n"
       "              socket_address: { address: " + Quote(in.host) + ", port_value: " + std::to_string(in.port) + " }\n";
  if (in.tls) {
    // Envoy verifies nothing about the peer's name unless told: pin the name tern's certificate
    // must carry (the SNI name, else the --xds host, as a DNS or IP SAN).
    const std::string name = a.tls_server_name.empty() ? in.host : a.tls_server_name;
    const bool ip = a.tls_server_name.empty() && IsIp(in.host);
    y += "    transport_socket:\n"
         "      name: envoy.transport_sockets.tls\n"
         "      typed_config:\n"
         "        \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext\n";
    if (!ip) y += "        sni: " + Quote(name) + "\n";
    y += "        common_tls_context:\n"
         "          alpn_protocols: [ h2 ]\n";
    if (!a.tls_cert.empty()) {
      y += "          tls_certificates:\n"
           "          - certificate_chain: { filename: " + Quote(a.tls_cert) + " }\n"
           "            private_key: { filename: " + Quote(a.tls_key) + " }\n";
    }
    y += "          validation_context:\n"
         "            trusted_ca: { filename: " + Quote(a.tls_ca) + " }\n"
         "            match_typed_subject_alt_names:\n"
         "            - san_type: " + std::string(ip ? "IP_ADDRESS" : "DNS") + "\n"
         "              matcher: { exact: " + Quote(name) + " }\n";
  }
  return y;
}
}  // namespace

int Bootstrap(const BootstrapArgs& a) {
  auto in = Check(a);
  if (!in.ok()) {
    std::fprintf(stderr, "tern bootstrap: %s\n", std::string(in.status().message()).c_str());
    return 2;
  }
  const std::string out = a.grpc ? GrpcBootstrap(a, *in) : EnvoyBootstrap(a, *in);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace tern::app
