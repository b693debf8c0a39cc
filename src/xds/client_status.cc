#include "xds/client_status.h"

#include <algorithm>
#include <map>

#include <google/protobuf/util/json_util.h>

#include "envoy/config/core/v3/base.pb.h"
#include "xds/delta_state.h"

namespace tern::xds {

std::string_view ConfigStatusName(ConfigStatus s) {
  switch (s) {
    case ConfigStatus::kUnknown: return "UNKNOWN";
    case ConfigStatus::kSynced: return "SYNCED";
    case ConfigStatus::kNotSent: return "NOT_SENT";
    case ConfigStatus::kStale: return "STALE";
    case ConfigStatus::kError: return "ERROR";
  }
  return "UNKNOWN";
}

std::string_view ClientStatusName(ClientStatus s) {
  switch (s) {
    case ClientStatus::kUnknown: return "UNKNOWN";
    case ClientStatus::kRequested: return "REQUESTED";
    case ClientStatus::kDoesNotExist: return "DOES_NOT_EXIST";
    case ClientStatus::kAcked: return "ACKED";
    case ClientStatus::kNacked: return "NACKED";
  }
  return "UNKNOWN";
}

NodeDetails DescribeNode(const std::string& serialized_node) {
  NodeDetails out;
  envoy::config::core::v3::Node node;
  if (serialized_node.empty() || !node.ParseFromString(serialized_node)) return out;
  if (node.has_metadata()) {
    std::string json;
    if (google::protobuf::util::MessageToJsonString(node.metadata(), &json).ok()) out.metadata_json = json;
  }
  out.user_agent = node.user_agent_name();
  std::string version = node.user_agent_version();
  if (node.has_user_agent_build_version() && node.user_agent_build_version().has_version()) {
    const auto& v = node.user_agent_build_version().version();
    version = std::to_string(v.major_number()) + "." + std::to_string(v.minor_number()) + "." +
              std::to_string(v.patch());
  }
  if (!version.empty()) out.user_agent += (out.user_agent.empty() ? "" : "/") + version;
  return out;
}

ConfigStatus TypeConfigStatus(const TypeInfo& info) {
  switch (info.answer) {
    case Answer::kNone: return ConfigStatus::kNotSent;
    case Answer::kPending: return ConfigStatus::kStale;
    case Answer::kAcked: return ConfigStatus::kSynced;
    case Answer::kNacked: return ConfigStatus::kError;
  }
  return ConfigStatus::kUnknown;
}

namespace {

bool Named(const TypeView& v, const std::string& name) {
  return std::binary_search(v.names.begin(), v.names.end(), name);
}

// Whether `name` exists in the newest snapshot (VHDS names are "<route config>/<host>" aliases).
bool Exists(ResourceType t, const cache::Snapshot& latest, const std::string& name) {
  if (t == ResourceType::kVirtualHost) return ResolveVirtualHost(latest, name) != nullptr;
  return latest.Get(t).resources.contains(name);
}

}  // namespace

std::vector<ResourceStatus> ResourceStatuses(ResourceType t, const TypeView& v, const cache::Snapshot* latest) {
  std::map<std::string, ResourceStatus> out;
  if (!v.info.subscribed) return {};

  // What the client was sent. An ACK or NACK is about a whole response, so each carries the type's status.
  ConfigStatus sent_status = ConfigStatus::kSynced;
  ClientStatus sent_client = ClientStatus::kAcked;
  if (v.info.answer == Answer::kPending) {
    sent_status = ConfigStatus::kStale;
    sent_client = ClientStatus::kUnknown;
  } else if (v.info.answer == Answer::kNacked) {
    sent_status = ConfigStatus::kError;
    sent_client = ClientStatus::kNacked;
  }
  auto add_sent = [&](const std::string& name, const std::string& version, cache::ResourcePtr r) {
    ResourceStatus s;
    s.type = t;
    s.name = name;
    s.version = version;
    s.config_status = sent_status;
    s.client_status = sent_client;
    s.failing = v.info.failing;
    s.sent = std::move(r);
    out.insert_or_assign(name, std::move(s));
  };

  if (!v.delta) {
    if (v.sent) {
      for (const auto& [name, r] : v.sent->Get(t).resources) {
        if (v.wildcard ? (r->wildcard || Named(v, name)) : Named(v, name)) add_sent(name, v.info.version_sent, r);
      }
    }
    for (const auto& r : v.lingering) {
      if (v.wildcard ? (r->wildcard || Named(v, r->name)) : Named(v, r->name)) {
        add_sent(r->name, v.info.version_sent, r);
      }
    }
  } else {
    for (const auto& [name, version] : v.held) {
      if (version.empty()) continue;  // told it does not exist (VHDS)
      cache::ResourcePtr r;
      if (latest) {
        r = t == ResourceType::kVirtualHost ? ResolveVirtualHost(*latest, name) : latest->Find(t, name);
        if (r && r->version != version) r = nullptr;  // newer than what the client holds
      }
      add_sent(name, version, std::move(r));
    }
  }

  auto add_unsent = [&](const std::string& name) {
    if (out.contains(name)) return;
    ClientStatus cs = !latest || Exists(t, *latest, name) ? ClientStatus::kRequested : ClientStatus::kDoesNotExist;
    ResourceStatus s;
    s.type = t;
    s.name = name;
    s.config_status = ConfigStatus::kNotSent;
    s.client_status = cs;
    out.emplace(name, std::move(s));
  };
  for (const auto& n : v.names) add_unsent(n);
  if (v.wildcard && latest) {
    for (const auto& [name, r] : latest->Get(t).resources) {
      if (r->wildcard) add_unsent(name);
    }
  }

  std::vector<ResourceStatus> result;
  result.reserve(out.size());
  for (auto& [name, s] : out) result.push_back(std::move(s));
  return result;
}

}  // namespace tern::xds
