#include "sources/nomad/event_stream.h"

#include "sources/nomad/json_reader.h"

namespace tern::sources::nomad {
namespace {

using internal::Bad;
using internal::Field;
using internal::Index;
using internal::Join;
using internal::json;
using internal::Reader;

struct KindName {
  EventKind kind;
  std::string_view topic;
  std::string_view type;
};
constexpr KindName kKinds[] = {
    {EventKind::kServiceRegistration, "Service", "ServiceRegistration"},
    {EventKind::kServiceDeregistration, "Service", "ServiceDeregistration"},
    {EventKind::kDeploymentStatusUpdate, "Deployment", "DeploymentStatusUpdate"},
    {EventKind::kDeploymentPromotion, "Deployment", "DeploymentPromotion"},
    {EventKind::kDeploymentAllocHealth, "Deployment", "DeploymentAllocHealth"},
    {EventKind::kAllocationCreated, "Allocation", "AllocationCreated"},
    {EventKind::kAllocationUpdated, "Allocation", "AllocationUpdated"},
    {EventKind::kAllocationUpdateDesiredStatus, "Allocation", "AllocationUpdateDesiredStatus"},
    // The scheduler's plan being applied: new or changed allocations and deployments.
    {EventKind::kPlanResult, "Allocation", "PlanResult"},
    {EventKind::kPlanResult, "Deployment", "PlanResult"},
};

EventKind KindOf(const std::string& topic, const std::string& type) {
  for (const auto& k : kKinds) {
    if (k.topic == topic && k.type == type) return k.kind;
  }
  return EventKind::kUnknown;
}

bool ReadEvent(Reader& r, const json& e, const std::string& path, Event* out) {
  Event ev;
  bool ok = r.Object(e, path) && r.RequiredString(e, "Topic", path, &ev.topic) &&
            r.RequiredString(e, "Type", path, &ev.type) && r.String(e, "Key", path, &ev.key) &&
            r.String(e, "Namespace", path, &ev.namespace_name) && r.Uint64(e, "Index", path, &ev.index);
  if (!ok) return false;
  ev.kind = KindOf(ev.topic, ev.type);
  if (ev.kind != EventKind::kUnknown) {
    const json* payload = Field(e, "Payload");
    const std::string ppath = Join(path, "Payload");
    if (!payload) return r.Fail(ppath, "missing");
    if (!r.Object(*payload, ppath)) return false;
    const char* key = ev.topic == "Service" ? "Service" : ev.topic == "Deployment" ? "Deployment" : "Allocation";
    const json* body = Field(*payload, key);
    const std::string bpath = Join(ppath, key);
    if (!body) return r.Fail(bpath, "missing");
    if (ev.topic == "Service") {
      Registration reg;
      if (!internal::ReadRegistration(r, *body, bpath, &reg)) return false;
      ev.service = std::move(reg);
    } else if (ev.topic == "Deployment") {
      Deployment d;
      if (!internal::ReadDeployment(r, *body, bpath, &d)) return false;
      ev.deployment = std::move(d);
    } else {
      Allocation a;
      if (!internal::ReadAllocation(r, *body, bpath, &a)) return false;
      ev.allocation = std::move(a);
    }
  }
  *out = std::move(ev);
  return true;
}

}  // namespace

std::string_view EventKindName(EventKind k) {
  for (const auto& n : kKinds) {
    if (n.kind == k) return n.type;
  }
  return "unknown";
}

absl::StatusOr<EventFrame> DecodeEventFrame(std::string_view line, const std::string& endpoint) {
  json j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad(endpoint, "", "malformed JSON");
  if (!j.is_object()) return Bad(endpoint, "", "expected an object (a frame or a heartbeat {})");
  EventFrame f;
  if (j.empty()) {
    f.heartbeat = true;
    return f;
  }
  Reader r{endpoint};
  if (!r.Uint64(j, "Index", "", &f.index)) return r.status;
  const json* events = Field(j, "Events");
  if (events) {
    if (!events->is_array()) return Bad(endpoint, "Events", "expected a list");
    for (size_t i = 0; i < events->size(); ++i) {
      Event ev;
      if (!ReadEvent(r, (*events)[i], Index("Events", i), &ev)) return r.status;
      f.events.push_back(std::move(ev));
    }
  }
  if (f.index == 0 && f.events.empty()) f.heartbeat = true;
  return f;
}

std::string EventStreamPath(uint64_t index, const std::string& namespace_name, const std::string& region) {
  std::string p = "/v1/event/stream?topic=Service&topic=Deployment&topic=Allocation&topic=Job";
  if (index > 0) p += "&index=" + std::to_string(index);
  if (!namespace_name.empty()) p += "&namespace=" + (namespace_name == "*" ? "*" : UrlEscape(namespace_name));
  if (!region.empty()) p += "&region=" + UrlEscape(region);
  return p;
}

EventStreamParser::EventStreamParser(std::string endpoint, size_t max_line_bytes)
    : endpoint_(std::move(endpoint)), max_line_(max_line_bytes) {}

void EventStreamParser::Reset() {
  buffer_.clear();
  offset_ = 0;
  line_ = 1;
  last_index_ = 0;
  error_ = absl::OkStatus();
}

absl::StatusOr<std::vector<EventFrame>> EventStreamParser::Feed(std::string_view bytes) {
  if (!error_.ok()) return error_;
  std::vector<EventFrame> out;
  while (!bytes.empty()) {
    const size_t nl = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, nl);
    if (buffer_.size() + piece.size() > max_line_) {
      error_ = absl::InvalidArgumentError(endpoint_ + ": line " + std::to_string(line_) + " (byte " +
                                          std::to_string(offset_) + "): longer than " + std::to_string(max_line_) +
                                          " bytes without a newline");
      return error_;
    }
    buffer_.append(piece);
    if (nl == std::string_view::npos) break;
    bytes.remove_prefix(nl + 1);
    std::string_view line = buffer_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") != std::string_view::npos) {
      auto frame = DecodeEventFrame(line, endpoint_ + " line " + std::to_string(line_) + " (byte " +
                                              std::to_string(offset_) + ")");
      if (!frame.ok()) {
        error_ = frame.status();
        return error_;
      }
      if (frame->index > last_index_) last_index_ = frame->index;
      out.push_back(std::move(*frame));
    }
    offset_ += buffer_.size() + 1;
    ++line_;
    buffer_.clear();
  }
  return out;
}

absl::Status EventStreamParser::Finish() {
  if (!error_.ok()) return error_;
  if (buffer_.find_first_not_of(" \t\r") == std::string::npos) return absl::OkStatus();
  error_ = absl::DataLossError(endpoint_ + ": line " + std::to_string(line_) + " (byte " + std::to_string(offset_) +
                               "): truncated frame, " + std::to_string(buffer_.size()) + " bytes without a newline");
  return error_;
}

}  // namespace tern::sources::nomad
