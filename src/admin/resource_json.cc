#include "admin/resource_json.h"

#include <google/protobuf/any.pb.h>
#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"

namespace tern::admin {

namespace {
constexpr char kRedacted[] = "[redacted]";

// Private keys and other secret bytes never leave the process through debug output.
void Redact(envoy::extensions::transport_sockets::tls::v3::Secret& s) {
  if (s.has_tls_certificate()) {
    auto* c = s.mutable_tls_certificate();
    if (c->has_private_key()) {
      c->mutable_private_key()->Clear();
      c->mutable_private_key()->set_inline_string(kRedacted);
    }
    if (c->has_password()) {
      c->mutable_password()->Clear();
      c->mutable_password()->set_inline_string(kRedacted);
    }
  }
  if (s.has_session_ticket_keys()) {
    s.mutable_session_ticket_keys()->Clear();
  }
  if (s.has_generic_secret()) {
    s.mutable_generic_secret()->mutable_secret()->Clear();
    s.mutable_generic_secret()->mutable_secret()->set_inline_string(kRedacted);
  }
}
}  // namespace

absl::StatusOr<std::string> ResourceToJson(const cache::Resource& r, bool reveal_secrets) {
  google::protobuf::Any any;
  any.set_type_url(std::string(TypeUrl(r.type)));
  if (r.type == ResourceType::kSecret && !reveal_secrets) {
    envoy::extensions::transport_sockets::tls::v3::Secret s;
    if (!s.ParseFromString(r.body)) return absl::InternalError("cannot parse secret " + r.name);
    Redact(s);
    any.PackFrom(s);
  } else {
    any.set_value(r.body);
  }
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = false;
  auto st = google::protobuf::util::MessageToJsonString(any, &out, opts);
  if (!st.ok()) return absl::InternalError("cannot print " + r.name + " as JSON: " + std::string(st.message()));
  return out;
}

absl::StatusOr<std::string> SnapshotToJson(const cache::Snapshot& s, const std::string& node_cluster,
                                           const std::string& type, bool reveal_secrets) {
  nlohmann::json doc;
  doc["node_cluster"] = node_cluster;
  doc["version"] = s.version();
  doc["types"] = nlohmann::json::array();
  bool matched = false;
  for (ResourceType t : kAdsOrder) {
    if (type != "all" && type != ShortName(t)) continue;
    matched = true;
    const cache::TypeSet& set = s.Get(t);
    // Virtual hosts exist only for gateways served on demand (VHDS): "all" lists them then.
    if (t == ResourceType::kVirtualHost && type == "all" && set.resources.empty()) continue;
    nlohmann::json entry;
    entry["versionInfo"] = set.version;
    entry["typeUrl"] = std::string(TypeUrl(t));
    entry["resources"] = nlohmann::json::array();
    for (const auto& [name, r] : set.resources) {
      auto js = ResourceToJson(*r, reveal_secrets);
      if (!js.ok()) return js.status();
      auto parsed = nlohmann::json::parse(*js, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded()) return absl::InternalError("cannot print " + r->name + " as JSON");
      entry["resources"].push_back(std::move(parsed));
    }
    doc["types"].push_back(std::move(entry));
  }
  if (!matched) {
    return absl::InvalidArgumentError("unknown resource type '" + type +
                                      "' (use listener, route, cluster, endpoint, secret, virtual_host or all)");
  }
  // Names come from sources and the query string: never let dump() throw on invalid UTF-8.
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace tern::admin
