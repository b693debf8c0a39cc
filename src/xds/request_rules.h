#pragma once
// Rules every xDS request follows, state of the world or delta: which type it is about, and
// whether it is an ACK, a NACK, a stale message or a subscription change.
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/type_urls.h"
#include "xds/stream_info.h"

namespace tern::xds {

enum class RequestKind { kInitial, kAck, kNack, kStale, kUpdate };

// The type a request is about. Per-type services (`fixed_type`) accept an empty type_url and
// refuse any other type; ADS needs a known type_url. `what` names the message in errors.
absl::StatusOr<ResourceType> RequestType(const std::string& type_url, std::optional<ResourceType> fixed_type,
                                         const char* what);

// Classifies a request by its nonce (xds_protocol.rst, "ACK/NACK and resource type instance
// version" and "Resource updates": a nonce that is not the latest sent for the type is stale and
// is neither an ACK nor a NACK). Updates info's ACK/NACK counters, answer, and last NACK
// (message, rejected version, time); `acked_version` becomes info.version_acked on an ACK.
RequestKind ClassifyRequest(bool first, const std::string& response_nonce, bool has_error,
                            const std::string& error_message, const std::string& acked_version, TypeInfo& info);

}  // namespace tern::xds
