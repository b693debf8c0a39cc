#pragma once
// TLS for tern's own xDS server: credentials that re-read the certificate files when they change
// (rotation without restart), checked up front so that a bad file is a clear startup error.
#include <memory>

#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"
#include "app/config.h"

namespace tern::app {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeXdsServerCredentials(const XdsTls& tls);

// Checks that `cert_file` and `key_file` hold a certificate and the matching private key, and
// `ca_file` (if set) certificates. Errors name the file; they never contain key material.
absl::Status CheckPemFiles(const std::string& cert_file, const std::string& key_file, const std::string& ca_file);

}  // namespace tern::app
