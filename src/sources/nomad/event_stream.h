#pragma once
// Nomad's event stream (https://developer.hashicorp.com/nomad/api-docs/events), decoded. Pure.
//
//   GET /v1/event/stream?topic=Service&topic=Deployment&topic=Allocation&topic=Job&index=N[&namespace=NS]
//
// The body is NDJSON that never ends: every line is one JSON object, either a frame
//   {"Index": N, "Events": [{"Topic", "Type", "Key", "Namespace", "FilterKeys", "Index",
//                            "Payload": {"Service"|"Deployment"|"Allocation"|...: {...}}}]}
// (the events of one raft write, all at index N) or a heartbeat `{}` (no events; Nomad sends one
// every 10 s so that idle connections stay open). Splitting the body at '\n' gives whole JSON
// objects, as the docs promise; bytes arrive from the network split anywhere, so
// EventStreamParser buffers a partial line until its '\n' comes.
//
// Events tern acts on are decoded into typed payloads; every other type (Nomad has many, and
// adds more) is passed through as EventKind::kUnknown with its Topic and Type: not an error. Job
// events (JobRegistered, JobDeregistered, ...) are among them: tern needs only their Key (the job
// ID) and Namespace, never their payload (a whole job).
// A payload tern needs that is malformed (a Service event whose Payload.Service has no Port
// integer) is an error naming the line.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sources/nomad/decoders.h"
#include "sources/nomad/deployments.h"

namespace tern::sources::nomad {

enum class EventKind {
  kServiceRegistration,    // Topic Service, Payload.Service: a Registration
  kServiceDeregistration,  // Topic Service, Payload.Service
  kDeploymentStatusUpdate,  // Topic Deployment, Payload.Deployment
  kDeploymentPromotion,
  kDeploymentAllocHealth,
  kAllocationCreated,  // Topic Allocation, Payload.Allocation
  kAllocationUpdated,
  kAllocationUpdateDesiredStatus,
  kPlanResult,  // Topic Allocation (Payload.Allocation) or Deployment (Payload.Deployment)
  kUnknown,  // any other Type; Topic and Type are kept
};
std::string_view EventKindName(EventKind k);

struct Event {
  std::string topic;
  std::string type;
  EventKind kind = EventKind::kUnknown;
  std::string key;
  std::string namespace_name;
  uint64_t index = 0;
  std::optional<Registration> service;   // kServiceRegistration / kServiceDeregistration
  std::optional<Deployment> deployment;  // kDeployment*
  std::optional<Allocation> allocation;  // kAllocation*
};

struct EventFrame {
  uint64_t index = 0;      // 0 for a heartbeat
  bool heartbeat = false;  // `{}`
  std::vector<Event> events;
};

// One line (without its '\n'). `endpoint` names the stream in errors.
absl::StatusOr<EventFrame> DecodeEventFrame(std::string_view line, const std::string& endpoint);

// The request path: topics Service, Deployment, Allocation and Job from `index` (0: from what the
// server's buffer still holds).
std::string EventStreamPath(uint64_t index, const std::string& namespace_name, const std::string& region);

// Incremental NDJSON framing. Feed() takes bytes as they arrive and returns the frames completed
// by them, in order. A line that does not decode is an error naming its line number (1-based,
// counted since the last Reset) and the byte offset of its start in the stream; the parser then
// refuses further input until Reset() (a caller resyncs with blocking queries and reconnects).
// Frames completed before the bad line in the same Feed() are lost with the error: the caller
// resyncs anyway. A line longer than `max_line_bytes` is an error at once (a proxy answering with
// an endless non-NDJSON body must not grow memory without bound). Blank lines are skipped.
class EventStreamParser {
 public:
  static constexpr size_t kDefaultMaxLine = 64 << 20;

  explicit EventStreamParser(std::string endpoint, size_t max_line_bytes = kDefaultMaxLine);

  absl::StatusOr<std::vector<EventFrame>> Feed(std::string_view bytes);
  // The stream ended (EOF or cut): an error when a partial line is pending ("truncated frame").
  absl::Status Finish();
  // Forgets the buffer, the error and the counters (a new connection).
  void Reset();

  size_t pending_bytes() const { return buffer_.size(); }
  uint64_t last_index() const { return last_index_; }  // the highest frame Index seen
  bool failed() const { return !error_.ok(); }

 private:
  std::string endpoint_;
  size_t max_line_;
  std::string buffer_;      // the partial line
  uint64_t offset_ = 0;     // stream offset of buffer_[0]
  uint64_t line_ = 1;       // number of the line in buffer_
  uint64_t last_index_ = 0;
  absl::Status error_ = absl::OkStatus();
};

}  // namespace tern::sources::nomad
