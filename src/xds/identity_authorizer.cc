#include "xds/identity_authorizer.h"

#include <grpcpp/security/auth_context.h>

namespace tern::xds {

namespace {
void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}
}  // namespace

std::string IdentityAuthorizer::Expected(const std::string& node_id, const std::string& node_cluster) const {
  std::string out = template_;
  ReplaceAll(out, "{node_cluster}", node_cluster);
  ReplaceAll(out, "{node_id}", node_id);
  return out;
}

absl::Status IdentityAuthorizer::Authorize(const grpc::CallbackServerContext& ctx, const std::string& node_id,
                                           const std::string& node_cluster) {
  std::string expected = Expected(node_id, node_cluster);
  auto auth = ctx.auth_context();
  if (!auth || !auth->IsPeerAuthenticated()) {
    return absl::PermissionDeniedError("no verified client certificate; node.cluster '" + node_cluster +
                                       "' needs identity '" + expected + "'");
  }
  std::string seen;
  for (const char* prop : {"x509_common_name", "x509_subject_alternative_name", "peer_dns", "peer_uri"}) {
    for (const auto& v : auth->FindPropertyValues(prop)) {
      std::string value(v.data(), v.size());
      if (value == expected) return absl::OkStatus();
      if (seen.find(value) == std::string::npos) seen += (seen.empty() ? "" : ", ") + value;
    }
  }
  return absl::PermissionDeniedError("client certificate (" + seen + ") is not allowed to act as node.cluster '" +
                                     node_cluster + "' (needs identity '" + expected + "')");
}

}  // namespace tern::xds
