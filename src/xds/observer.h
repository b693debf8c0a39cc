#pragma once
// How the xds layer reports what happens on its streams. The admin layer implements it with
// Prometheus counters; the app forwards proxy events to whoever keeps records of them (the
// audit log); tests can implement it to watch the protocol. Calls come from gRPC threads and
// must be cheap and non-blocking: an implementation that does I/O queues the event.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/type_urls.h"

namespace tern::xds {

// A change in a proxy's relationship with tern, as a record-keeper would want it. Only state
// changes are reported: a proxy that re-ACKs the version it already ACKed (or repeats the same
// NACK) produces no event; a new version, a NACK after an ACK, a different error, an ACK after a
// NACK each do. Per stream, per resource type.
struct ProxyEvent {
  enum class Kind { kConnect, kDisconnect, kAck, kNack };
  Kind kind = Kind::kConnect;
  uint64_t stream_id = 0;      // unique within this tern process
  std::string node_id;         // as the proxy sent it (untrusted bytes)
  std::string node_cluster;    // as the proxy sent it (untrusted bytes)
  std::string identity;        // the verified client certificate's identity; "" without mTLS
  std::string peer;            // gRPC peer address
  std::string service;         // "ads", "lds", ...
  bool delta = false;
  // kAck / kNack
  std::optional<ResourceType> type;
  std::string version;         // ACK: the version acknowledged; NACK: the version rejected
  std::string nonce;           // the response_nonce of the request
  std::string error;           // NACK: error_detail.message (untrusted bytes)
  int error_code = 0;          // NACK: error_detail.code
  // kDisconnect
  int grpc_code = 0;           // the status the stream ended with
  std::string grpc_message;
  std::chrono::milliseconds duration{0};  // since the stream opened
};

class XdsObserver {
 public:
  virtual ~XdsObserver() = default;
  virtual void OnStreamOpened(bool delta) {}
  virtual void OnStreamClosed(bool delta) {}
  virtual void OnResponseSent(ResourceType type, size_t resources, size_t bytes) {}
  virtual void OnAck(ResourceType type) {}
  virtual void OnNack(ResourceType type, const std::string& error) {}
  virtual void OnBadRequest(const std::string& error) {}
  // A response written because a snapshot was published: `seconds` from the publication to the
  // end of the write. Every response of a push is reported, so each type gets its own latency.
  virtual void OnPushLatency(ResourceType type, double seconds) {}
  // The proxy ACKed the response that carried a published change of `type`: `seconds` from the
  // (earliest un-ACKed) publication to the ACK. A NACKed change is reported at the later ACK.
  virtual void OnConverged(ResourceType type, double seconds) {}
  // Connect (the first request named the node and was authorized), disconnect (only for streams
  // that named a node, including refused ones), and ACK/NACK state changes.
  virtual void OnProxyEvent(const ProxyEvent& event) {}
};

}  // namespace tern::xds
