#pragma once
// Test certificates made with OpenSSL's API: a CA and leaves it signs, with chosen names and
// validity, written as PEM. Keys are EC P-256.
#include <chrono>
#include <string>
#include <vector>

namespace tern::testing {

struct Pem {
  std::string cert;  // PEM certificate
  std::string key;   // PEM private key (PKCS#8)
};

struct CertSpec {
  std::string common_name;
  std::vector<std::string> dns_sans;
  std::vector<std::string> uri_sans;
  std::chrono::hours not_before_offset{-1};  // relative to now
  std::chrono::hours not_after_offset{24};
  bool is_ca = false;
};

// A self-signed CA.
Pem MakeCa(const std::string& common_name);
// A leaf (or intermediate, with is_ca) signed by `issuer`.
Pem MakeCert(const CertSpec& spec, const Pem& issuer);

}  // namespace tern::testing
