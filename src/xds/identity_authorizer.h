#pragma once
// Authorizes an xDS stream by its client certificate: the certificate's common name or one of
// its subject alternative names (DNS or URI) must equal a template rendered with the proxy's
// node (e.g. "{node_cluster}", "spiffe://tern/gateway/{node_cluster}", "{node_cluster}/{node_id}").
// A proxy can then only ever receive its own gateway's configuration.
#include <string>

#include "xds/xds_server.h"

namespace tern::xds {

class IdentityAuthorizer : public StreamAuthorizer {
 public:
  explicit IdentityAuthorizer(std::string identity_template) : template_(std::move(identity_template)) {}
  absl::Status Authorize(const grpc::CallbackServerContext& ctx, const std::string& node_id,
                         const std::string& node_cluster) override;

  // The expected identity for a node (exposed for tests and error messages).
  std::string Expected(const std::string& node_id, const std::string& node_cluster) const;

 private:
  std::string template_;
};

}  // namespace tern::xds
