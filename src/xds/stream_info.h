#pragma once
// What /debug/proxies and CSDS show about one connected stream.
#include <array>
#include <chrono>
#include <cstdint>
#include <string>

#include "common/type_urls.h"

namespace tern::xds {

// How the client answered the last response of a type that was sent to it.
enum class Answer : uint8_t { kNone, kPending, kAcked, kNacked };

struct TypeInfo {
  bool subscribed = false;
  bool wildcard = false;
  size_t names = 0;            // explicitly subscribed names
  std::string version_sent;
  std::string version_acked;
  std::string last_nonce;
  std::string last_nack;       // error_detail.message of the last NACK, "" if none since
  std::string version_nacked;  // version_info of the response that NACK rejected
  Answer answer = Answer::kNone;
  bool failing = false;        // the last ACK or NACK was a NACK (kept while a newer response is pending)
  std::chrono::system_clock::time_point last_nack_at;  // when that NACK arrived
  std::chrono::system_clock::time_point last_sent_at;  // when the last response of the type was sent
  uint64_t responses = 0;
  uint64_t acks = 0;
  uint64_t nacks = 0;
  // When a response of this type was first written that the proxy has not ACKed yet (NACKed or
  // not answered); the epoch (default) while the proxy has ACKed everything sent. Set by the
  // reactor, not by the protocol state.
  std::chrono::steady_clock::time_point unacked_since{};
  bool nacking = false;  // the proxy's last answer for this type was a NACK (set by the reactor)
};

// Who a stream is. The registry keeps only this for the stream's life; the protocol state is
// read from the stream itself when someone asks (StreamInspector), not copied on every request.
struct StreamIdentity {
  uint64_t id = 0;
  std::string node_id;
  std::string node_cluster;
  // The node of the first request, serialized (config.core.v3.Node) with only id, cluster,
  // metadata, locality and user agent: not its extensions or client features, which an Envoy
  // lists by the hundred. For CSDS and /debug/proxies.
  std::string node;
  std::string peer;
  std::string service;         // "ads", "lds", ...
  bool delta = false;
  std::chrono::system_clock::time_point connected_at;
};

// What /debug/proxies shows about one connected stream.
struct StreamInfo : StreamIdentity {
  uint64_t requests = 0;       // requests applied so far
  std::array<TypeInfo, kNumResourceTypes> types;
};

}  // namespace tern::xds
