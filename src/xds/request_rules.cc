#include "xds/request_rules.h"

#include "common/utf8.h"

namespace tern::xds {

absl::StatusOr<ResourceType> RequestType(const std::string& type_url, std::optional<ResourceType> fixed_type,
                                         const char* what) {
  ResourceType t;
  if (type_url.empty()) {
    if (!fixed_type) return absl::InvalidArgumentError(std::string(what) + " on ADS has an empty type_url");
    t = *fixed_type;
  } else if (!ParseTypeUrl(type_url, &t)) {
    return absl::InvalidArgumentError(std::string(what) + " has unknown type_url '" + type_url + "'");
  }
  if (fixed_type && t != *fixed_type) {
    return absl::InvalidArgumentError(std::string(what) + " type_url '" + type_url + "' on the " +
                                      std::string(ShortName(*fixed_type)) + " service");
  }
  return t;
}

RequestKind ClassifyRequest(bool first, const std::string& response_nonce, bool has_error,
                            const std::string& error_message, const std::string& acked_version, TypeInfo& info) {
  if (first) return RequestKind::kInitial;
  if (response_nonce.empty()) return RequestKind::kUpdate;
  if (response_nonce != info.last_nonce) return RequestKind::kStale;
  if (has_error) {
    // The proxy's own words, shown by /debug/proxies as JSON: kept as valid UTF-8.
    info.last_nack = SanitizeUtf8(error_message);
    info.version_nacked = info.version_sent;
    info.last_nack_at = std::chrono::system_clock::now();
    info.answer = Answer::kNacked;
    info.failing = true;
    info.nacks++;
    return RequestKind::kNack;
  }
  info.version_acked = acked_version;
  info.answer = Answer::kAcked;
  info.failing = false;
  info.acks++;
  return RequestKind::kAck;
}

}  // namespace tern::xds
