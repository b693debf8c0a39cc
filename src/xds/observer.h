#pragma once
// How the xds layer reports what happens on its streams. The admin layer implements it with
// Prometheus counters; tests can implement it to watch the protocol. Calls come from gRPC
// threads and must be cheap and non-blocking.
#include <cstddef>
#include <string>

#include "common/type_urls.h"

namespace tern::xds {

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
};

}  // namespace tern::xds
