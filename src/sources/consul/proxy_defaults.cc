#include "sources/consul/proxy_defaults.h"

#include <arpa/inet.h>

#include <cctype>

#include <nlohmann/json.hpp>

namespace tern::sources::consul {
namespace {

using json = nlohmann::json;

constexpr char kOrigin[] = "proxy-defaults/global";

// Envoy's JSON accepts both the proto field name and its lowerCamelCase form; so does tern.
const json* Get(const json& obj, const std::string& snake) {
  if (!obj.is_object()) return nullptr;
  if (auto it = obj.find(snake); it != obj.end() && !it->is_null()) return &*it;
  std::string camel;
  bool up = false;
  for (char c : snake) {
    if (c == '_') {
      up = true;
      continue;
    }
    camel.push_back(up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    up = false;
  }
  if (auto it = obj.find(camel); it != obj.end() && !it->is_null()) return &*it;
  return nullptr;
}

struct Failure {
  std::string path;
  std::string message;
};

std::string StringAt(const json& obj, const std::string& key, const std::string& path, std::optional<Failure>* err) {
  const json* v = Get(obj, key);
  if (!v) return "";
  if (!v->is_string()) {
    *err = Failure{path + "." + key, "expected a string"};
    return "";
  }
  return v->get<std::string>();
}

// A JSON document held in a string field (as Consul's Config values are).
std::optional<json> Embedded(const std::string& text, const std::string& path, std::optional<Failure>* err) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    *err = Failure{path, "is not valid JSON"};
    return std::nullopt;
  }
  return j;
}

// envoy_tracing_json: an Envoy Tracing object, {"http": {"name": ..., "typed_config": {...}}}.
std::optional<model::Tracing> DecodeTracing(const std::string& text, std::optional<Failure>* err) {
  const std::string path = "Config.envoy_tracing_json";
  auto j = Embedded(text, path, err);
  if (!j) return std::nullopt;
  const json* http = Get(*j, "http");
  if (!http || !http->is_object()) {
    *err = Failure{path + ".http", "is required (an Envoy Tracing.Http object)"};
    return std::nullopt;
  }
  const std::string hp = path + ".http";
  const json* config = Get(*http, "typed_config");
  if (!config || !config->is_object()) {
    *err = Failure{hp + ".typed_config", "is required"};
    return std::nullopt;
  }
  const std::string cp = hp + ".typed_config";
  const std::string type = StringAt(*config, "@type", cp, err);
  if (*err) return std::nullopt;
  model::Tracing t;
  t.origin = std::string(kOrigin) + " " + path;
  if (type == "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig") {
    t.provider = model::Tracing::Provider::kZipkin;
    t.collector_cluster = StringAt(*config, "collector_cluster", cp, err);
    std::string endpoint = StringAt(*config, "collector_endpoint", cp, err);
    const std::string version = StringAt(*config, "collector_endpoint_version", cp, err);
    if (*err) return std::nullopt;
    if (!version.empty() && version != "HTTP_JSON") {
      *err = Failure{cp + ".collector_endpoint_version", "tern sends Zipkin spans as HTTP_JSON only, not " + version};
      return std::nullopt;
    }
    if (endpoint.empty() || endpoint[0] != '/') {
      *err = Failure{cp + ".collector_endpoint", "is required, a path starting with '/'"};
      return std::nullopt;
    }
    t.zipkin_endpoint = endpoint;
  } else if (type == "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig") {
    t.provider = model::Tracing::Provider::kOpenTelemetry;
    const json* grpc = Get(*config, "grpc_service");
    const json* envoy_grpc = grpc ? Get(*grpc, "envoy_grpc") : nullptr;
    if (!envoy_grpc) {
      *err = Failure{cp + ".grpc_service.envoy_grpc", "is required (tern exports OTLP over gRPC to a cluster)"};
      return std::nullopt;
    }
    t.collector_cluster = StringAt(*envoy_grpc, "cluster_name", cp + ".grpc_service.envoy_grpc", err);
    t.service_name = StringAt(*config, "service_name", cp, err);
    if (*err) return std::nullopt;
  } else {
    *err = Failure{cp + ".@type", "'" + type + "' is not a tracer tern can configure (ZipkinConfig or OpenTelemetryConfig)"};
    return std::nullopt;
  }
  if (t.collector_cluster.empty()) {
    *err = Failure{cp, "names no collector cluster"};
    return std::nullopt;
  }
  return t;
}

std::optional<uint32_t> Port(const json& v) {
  if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 65535) return std::nullopt;
  return static_cast<uint32_t>(v.get<int64_t>());
}

bool IsIp(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// envoy_extra_static_clusters_json: one or more Envoy Cluster objects, comma-separated.
std::vector<model::Cluster> DecodeClusters(const std::string& text, std::optional<Failure>* err) {
  const std::string path = "Config.envoy_extra_static_clusters_json";
  std::vector<model::Cluster> out;
  auto j = Embedded("[" + text + "]", path, err);
  if (!j) return out;
  for (size_t i = 0; i < j->size(); ++i) {
    const json& c = (*j)[i];
    const std::string cp = path + "[" + std::to_string(i) + "]";
    if (!c.is_object()) {
      *err = Failure{cp, "expected an Envoy Cluster object"};
      return {};
    }
    model::Cluster cluster;
    cluster.name = StringAt(c, "name", cp, err);
    if (*err) return {};
    if (cluster.name.empty()) {
      *err = Failure{cp + ".name", "is required"};
      return {};
    }
    cluster.service = cluster.name;
    cluster.origin = std::string(kOrigin) + " " + cp;
    if (Get(c, "http2_protocol_options") || Get(c, "typed_extension_protocol_options")) {
      cluster.protocol = model::Protocol::kHttp2;
    }
    const json* la = Get(c, "load_assignment");
    const json* eps = la ? Get(*la, "endpoints") : nullptr;
    if (!eps || !eps->is_array()) {
      *err = Failure{cp + ".load_assignment.endpoints", "is required (tern serves the cluster's endpoints over EDS)"};
      return {};
    }
    for (size_t e = 0; e < eps->size(); ++e) {
      const json* lbs = Get((*eps)[e], "lb_endpoints");
      if (!lbs || !lbs->is_array()) continue;
      for (size_t k = 0; k < lbs->size(); ++k) {
        const std::string ep = cp + ".load_assignment.endpoints[" + std::to_string(e) + "].lb_endpoints[" +
                               std::to_string(k) + "]";
        const json* endpoint = Get((*lbs)[k], "endpoint");
        const json* address = endpoint ? Get(*endpoint, "address") : nullptr;
        const json* sa = address ? Get(*address, "socket_address") : nullptr;
        if (!sa) {
          *err = Failure{ep, "needs endpoint.address.socket_address"};
          return {};
        }
        model::Endpoint point;
        point.address = StringAt(*sa, "address", ep, err);
        if (*err) return {};
        const json* port = Get(*sa, "port_value");
        auto p = port ? Port(*port) : std::nullopt;
        if (!p) {
          *err = Failure{ep + ".endpoint.address.socket_address.port_value", "must be a port 1..65535"};
          return {};
        }
        if (!IsIp(point.address)) {
          *err = Failure{ep + ".endpoint.address.socket_address.address",
                         "'" + point.address + "' is not an IP address (tern serves these endpoints over EDS, which does not resolve names)"};
          return {};
        }
        point.port = *p;
        point.id = point.address + ":" + std::to_string(point.port);
        cluster.endpoints.push_back(std::move(point));
      }
    }
    if (cluster.endpoints.empty()) {
      *err = Failure{cp + ".load_assignment", "has no endpoints"};
      return {};
    }
    out.push_back(std::move(cluster));
  }
  return out;
}

// AccessLogs (Consul 1.15+): Enabled, DisableListenerLogs, Type, Path, JSONFormat, TextFormat.
std::optional<std::vector<model::AccessLog>> DecodeAccessLogs(const json& a, std::optional<Failure>* err) {
  const std::string path = "AccessLogs";
  if (!a.is_object()) {
    *err = Failure{path, "expected an object"};
    return std::nullopt;
  }
  // Typed as Consul's Go client reads config entries (mapstructure, weakly typed): a bool may
  // also be a number or one of Go's strconv.ParseBool strings, a string may be a number or bool.
  auto boolean = [&](const char* key) {
    auto it = a.find(key);
    if (it == a.end() || it->is_null()) return false;
    if (it->is_boolean()) return it->get<bool>();
    if (it->is_number()) return it->get<double>() != 0;
    if (it->is_string()) {
      const std::string& v = it->get_ref<const std::string&>();
      if (v.empty() || v == "0" || v == "f" || v == "F" || v == "false" || v == "False" || v == "FALSE") return false;
      if (v == "1" || v == "t" || v == "T" || v == "true" || v == "True" || v == "TRUE") return true;
    }
    *err = Failure{path + "." + key, "expected true or false"};
    return false;
  };
  const bool enabled = boolean("Enabled");
  const bool no_listener_logs = boolean("DisableListenerLogs");
  auto str = [&](const char* key) {
    auto it = a.find(key);
    if (it == a.end() || it->is_null()) return std::string();
    if (it->is_boolean()) return std::string(it->get<bool>() ? "1" : "0");
    if (it->is_number_integer()) return it->dump();
    if (!it->is_string()) {
      *err = Failure{path + "." + key, "expected a string"};
      return std::string();
    }
    return it->get<std::string>();
  };
  const std::string type = str("Type");
  const std::string file = str("Path");
  const std::string json_format = str("JSONFormat");
  const std::string text_format = str("TextFormat");
  if (*err) return std::nullopt;
  if (!enabled) return std::nullopt;
  model::AccessLog log;
  log.origin = std::string(kOrigin) + " AccessLogs";
  if (type.empty() || type == "stdout") {
    log.sink = model::AccessLog::Sink::kStdout;
  } else if (type == "stderr") {
    log.sink = model::AccessLog::Sink::kStderr;
  } else if (type == "file") {
    log.sink = model::AccessLog::Sink::kFile;
    if (file.empty()) {
      *err = Failure{path + ".Path", "is required with Type file"};
      return std::nullopt;
    }
    log.path = file;
  } else {
    *err = Failure{path + ".Type", "must be file, stdout or stderr, not '" + type + "'"};
    return std::nullopt;
  }
  if (!json_format.empty() && !text_format.empty()) {
    *err = Failure{path + ".TextFormat", "takes only one of JSONFormat, TextFormat"};
    return std::nullopt;
  }
  if (!json_format.empty()) {
    auto j = Embedded(json_format, path + ".JSONFormat", err);
    if (!j) return std::nullopt;
    if (!j->is_object() || j->empty()) {
      *err = Failure{path + ".JSONFormat", "expected a JSON object of field names to format strings"};
      return std::nullopt;
    }
    for (auto it = j->begin(); it != j->end(); ++it) {
      if (!it.value().is_string()) {
        *err = Failure{path + ".JSONFormat." + it.key(), "expected a string (nested objects are not supported)"};
        return std::nullopt;
      }
      log.json_format[it.key()] = it.value().get<std::string>();
    }
  }
  log.text_format = text_format;
  log.listener = !no_listener_logs;  // Consul logs listener-level connections unless told not to
  return std::vector<model::AccessLog>{log};
}

}  // namespace

absl::StatusOr<std::optional<ProxyDefaults>> DecodeProxyDefaults(const std::string& text, const std::string& endpoint,
                                                                 std::vector<model::Problem>* problems) {
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return absl::InvalidArgumentError(endpoint + ": malformed JSON");
  if (root.is_null()) return std::optional<ProxyDefaults>();
  if (!root.is_array()) return absl::InvalidArgumentError(endpoint + ": expected a list of config entries");
  for (const json& e : root) {
    if (!e.is_object()) continue;
    auto name = e.find("Name");
    if (name == e.end() || !name->is_string() || name->get<std::string>() != "global") continue;
    std::optional<Failure> err;
    ProxyDefaults out;
    out.defaults.origin = kOrigin;
    if (auto c = e.find("Config"); c != e.end() && !c->is_null()) {
      if (!c->is_object()) {
        err = Failure{"Config", "expected an object"};
      } else {
        const std::string tracing = StringAt(*c, "envoy_tracing_json", "Config", &err);
        const std::string clusters = StringAt(*c, "envoy_extra_static_clusters_json", "Config", &err);
        if (!err && !tracing.empty()) out.defaults.tracing = DecodeTracing(tracing, &err);
        if (!err && !clusters.empty()) out.clusters = DecodeClusters(clusters, &err);
      }
    }
    if (auto a = e.find("AccessLogs"); !err && a != e.end() && !a->is_null()) {
      out.defaults.access_logs = DecodeAccessLogs(*a, &err);
    }
    if (err) {
      problems->push_back({kOrigin, err->path + ": " + err->message});
      return std::optional<ProxyDefaults>();
    }
    return std::optional<ProxyDefaults>(std::move(out));
  }
  return std::optional<ProxyDefaults>();
}

}  // namespace tern::sources::consul
