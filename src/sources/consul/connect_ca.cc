#include "sources/consul/connect_ca.h"

#include <nlohmann/json.hpp>

#include "absl/time/time.h"
#include "sources/consul/mapper.h"
#include "sources/file/pem_check.h"

namespace tern::sources::consul {
namespace {

using json = nlohmann::json;

absl::Status Bad(const std::string& endpoint, const std::string& field, const std::string& msg) {
  return absl::InvalidArgumentError(endpoint + ": " + (field.empty() ? "" : field + ": ") + msg);
}

// A string field; `required` makes absence an error.
absl::Status GetString(const json& obj, const char* key, const std::string& endpoint, const std::string& where,
                       bool required, std::string* out) {
  const std::string field = where.empty() ? key : where + "." + key;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    return required ? Bad(endpoint, field, "is required") : absl::OkStatus();
  }
  if (!it->is_string()) return Bad(endpoint, field, "expected a string");
  *out = it->get<std::string>();
  if (required && out->empty()) return Bad(endpoint, field, "is required");
  return absl::OkStatus();
}

absl::Status GetTime(const json& obj, const char* key, const std::string& endpoint, bool required,
                     std::chrono::system_clock::time_point* out) {
  std::string text;
  if (auto st = GetString(obj, key, endpoint, "", required, &text); !st.ok()) return st;
  if (text.empty()) return absl::OkStatus();
  auto t = ParseRfc3339(text);
  if (!t) return Bad(endpoint, key, "expected an RFC 3339 time such as \"2024-01-04T10:00:00Z\"");
  *out = *t;
  return absl::OkStatus();
}

// The checker's message, prefixed with where: the checkers never quote their input.
absl::Status Checked(absl::Status st, const std::string& endpoint, const std::string& field) {
  if (st.ok()) return st;
  return Bad(endpoint, field, std::string(st.message()));
}

}  // namespace

std::string ConnectLeafPath(const std::string& name) { return "/v1/agent/connect/ca/leaf/" + UrlEscape(name); }
std::string ConnectLeafSecret(const std::string& name) { return "connect-leaf/" + name; }

std::optional<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return std::nullopt;
  return absl::ToChronoTime(t);
}

absl::StatusOr<ConnectLeaf> DecodeConnectLeaf(const std::string& text, const std::string& endpoint) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad(endpoint, "", "malformed JSON");
  if (!j.is_object()) return Bad(endpoint, "", "expected an object");
  ConnectLeaf leaf;
  for (auto st : {GetString(j, "Service", endpoint, "", false, &leaf.service),
                  GetString(j, "SerialNumber", endpoint, "", false, &leaf.serial),
                  GetString(j, "CertPEM", endpoint, "", true, &leaf.cert_pem),
                  GetString(j, "PrivateKeyPEM", endpoint, "", true, &leaf.private_key_pem),
                  GetTime(j, "ValidAfter", endpoint, false, &leaf.valid_after),
                  GetTime(j, "ValidBefore", endpoint, true, &leaf.valid_before)}) {
    if (!st.ok()) return st;
  }
  if (auto st = Checked(file::CheckCertificateChain(leaf.cert_pem), endpoint, "CertPEM"); !st.ok()) return st;
  if (auto st = Checked(file::CheckPrivateKey(leaf.private_key_pem), endpoint, "PrivateKeyPEM"); !st.ok()) return st;
  if (auto st = Checked(file::CheckKeyMatchesCertificate(leaf.cert_pem, leaf.private_key_pem), endpoint,
                        "PrivateKeyPEM");
      !st.ok()) {
    return st;
  }
  if (leaf.valid_after != std::chrono::system_clock::time_point{} && leaf.valid_before <= leaf.valid_after) {
    return Bad(endpoint, "ValidBefore", "is not after ValidAfter");
  }
  return leaf;
}

absl::StatusOr<ConnectRoots> DecodeConnectRoots(const std::string& text, const std::string& endpoint) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad(endpoint, "", "malformed JSON");
  if (!j.is_object()) return Bad(endpoint, "", "expected an object");
  ConnectRoots out;
  if (auto st = GetString(j, "ActiveRootID", endpoint, "", false, &out.active_root_id); !st.ok()) return st;
  auto roots = j.find("Roots");
  if (roots == j.end() || roots->is_null() || (roots->is_array() && roots->empty())) {
    return Bad(endpoint, "Roots", "no root certificate");
  }
  if (!roots->is_array()) return Bad(endpoint, "Roots", "expected a list");
  bool active_found = out.active_root_id.empty();
  for (size_t i = 0; i < roots->size(); ++i) {
    const std::string where = "Roots[" + std::to_string(i) + "]";
    const json& r = (*roots)[i];
    if (!r.is_object()) return Bad(endpoint, where, "expected an object");
    ConnectRoot root;
    if (auto st = GetString(r, "ID", endpoint, where, false, &root.id); !st.ok()) return st;
    if (auto st = GetString(r, "RootCert", endpoint, where, true, &root.root_cert); !st.ok()) return st;
    if (auto st = Checked(file::CheckCaBundle(root.root_cert), endpoint, where + ".RootCert"); !st.ok()) return st;
    if (auto it = r.find("IntermediateCerts"); it != r.end() && !it->is_null()) {
      if (!it->is_array()) return Bad(endpoint, where + ".IntermediateCerts", "expected a list of strings");
      for (size_t k = 0; k < it->size(); ++k) {
        const std::string f = where + ".IntermediateCerts[" + std::to_string(k) + "]";
        if (!(*it)[k].is_string()) return Bad(endpoint, f, "expected a string");
        std::string pem = (*it)[k].get<std::string>();
        if (auto st = Checked(file::CheckCaBundle(pem), endpoint, f); !st.ok()) return st;
        root.intermediate_certs.push_back(std::move(pem));
      }
    }
    if (root.id == out.active_root_id) active_found = true;
    out.roots.push_back(std::move(root));
  }
  if (!active_found) return Bad(endpoint, "ActiveRootID", "names no root in Roots");
  return out;
}

std::string ConnectRoots::TrustedCaPem() const {
  std::string pem;
  for (const auto& r : roots) {
    pem += r.root_cert;
    if (!pem.empty() && pem.back() != '\n') pem += '\n';
  }
  return pem;
}

std::vector<std::string> ConnectRoots::ActiveIntermediates() const {
  for (const auto& r : roots) {
    if (r.id == active_root_id) return r.intermediate_certs;
  }
  return {};
}

std::chrono::system_clock::time_point LeafRefreshAt(const ConnectLeaf& leaf, std::chrono::system_clock::time_point now) {
  auto start = leaf.valid_after == std::chrono::system_clock::time_point{} ? now : leaf.valid_after;
  auto at = start + (leaf.valid_before - start) * 2 / 3;
  return std::max(at, now + std::chrono::seconds(1));
}

}  // namespace tern::sources::consul
