#pragma once
// Consul Connect's CA, as tern reads it for ingress gateways with TLS enabled:
//   /v1/agent/connect/ca/leaf/<name>  the leaf certificate (and its private key) of one identity
//   /v1/agent/connect/ca/roots        every root CA the mesh trusts, and which one signs now
// Both support blocking queries; the agent answers a leaf watch with a new certificate when it
// renews one (before it expires) or when the CA rotates.
//
// Pure decoders (JSON text in, checked PEM out). The PEM is checked with OpenSSL (the same
// checks as for file secrets): a malformed certificate, a key that is not a key or does not
// belong to the certificate is an error naming the endpoint and the field, never quoting it.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tern::sources::consul {

inline constexpr char kConnectRootsPath[] = "/v1/agent/connect/ca/roots";
// The SDS names under which the Consul source serves them.
inline constexpr char kConnectRootsSecret[] = "connect-roots";
std::string ConnectLeafPath(const std::string& name);
std::string ConnectLeafSecret(const std::string& name);  // "connect-leaf/<name>"

struct ConnectLeaf {
  std::string service;          // Service
  std::string serial;           // SerialNumber
  std::string cert_pem;         // CertPEM
  std::string private_key_pem;  // PrivateKeyPEM: never logged, never in a message
  std::chrono::system_clock::time_point valid_after;   // ValidAfter
  std::chrono::system_clock::time_point valid_before;  // ValidBefore
  bool operator==(const ConnectLeaf&) const = default;
};
absl::StatusOr<ConnectLeaf> DecodeConnectLeaf(const std::string& json, const std::string& endpoint);

struct ConnectRoot {
  std::string id;
  std::string root_cert;                        // RootCert
  std::vector<std::string> intermediate_certs;  // IntermediateCerts
  bool operator==(const ConnectRoot&) const = default;
};
struct ConnectRoots {
  std::string active_root_id;  // ActiveRootID
  std::vector<ConnectRoot> roots;
  bool operator==(const ConnectRoots&) const = default;

  // Every root certificate, one PEM bundle (what a peer is verified against).
  std::string TrustedCaPem() const;
  // The active root's intermediates (appended to a leaf's chain when it lacks them).
  std::vector<std::string> ActiveIntermediates() const;
};
// At least one root; ActiveRootID, when set, names one of them.
absl::StatusOr<ConnectRoots> DecodeConnectRoots(const std::string& json, const std::string& endpoint);

// When to fetch a leaf again even if no blocking query woke up: 2/3 into its lifetime (Consul's
// agent renews between 60 % and 90 %), but never earlier than `now` + 1 s.
std::chrono::system_clock::time_point LeafRefreshAt(const ConnectLeaf& leaf, std::chrono::system_clock::time_point now);

// Go's RFC 3339 time ("2024-01-04T10:00:00Z", "...00.123456789+01:00").
std::optional<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text);

}  // namespace tern::sources::consul
