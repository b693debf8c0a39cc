#pragma once
// Checks PEM text with OpenSSL before it becomes a secret, so that a broken file is refused at
// the source (naming the file) instead of being pushed to Envoy, which would reject the whole
// listener. Messages never quote the input: key material must not reach logs or problems.
#include <string>

#include "absl/status/status.h"

namespace tern::sources::file {

// One or more certificates (leaf first, then intermediates); no private key in the same text.
absl::Status CheckCertificateChain(const std::string& pem);
// Exactly one unencrypted private key.
absl::Status CheckPrivateKey(const std::string& pem);
// The key belongs to the chain's first certificate. Both must already pass the checks above.
absl::Status CheckKeyMatchesCertificate(const std::string& cert_pem, const std::string& key_pem);
// One or more CA certificates; no private key.
absl::Status CheckCaBundle(const std::string& pem);

}  // namespace tern::sources::file
